"""lrgym leaderboard: suite definition, runner, scoring, store, report and CLI.

Modules, one concern each:

* ``suite``: the versioned benchmark suites (``v1``, ``val``, ``quick``);
* ``references``: best constant SGD learning rate per instance by a fine search (the score's yardstick), cached;
* ``scoring``: pure scoring functions (per-run normalised score, steps to target, rliable's
  aggregates with stratified-bootstrap confidence intervals, probability of improvement,
  performance profiles and AlgoPerf's profile score); NumPy only;
* ``worker`` / ``pool``: isolated worker processes that run policies and answer in JSON;
* ``runner``: a policy over a suite on all cores → scored runs → one store entry;
* ``store``: the append-only SQLite results store;
* ``ranking`` / ``report``: the ranking and its terminal table, Markdown and HTML;
* ``val_table``: the baselines' validation table in README.md (``python -m lrgym.leaderboard.val_table``);
* ``cli``: the ``lrgym leaderboard ...`` commands; ``bench``: the main-job timing.
"""
