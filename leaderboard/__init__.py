"""lrgym leaderboard: suite definition, runner, scoring, store, report and CLI.

Modules, one concern each:

* ``suite``: the versioned benchmark suites (``v1``, ``val``, ``quick``);
* ``references``: best constant SGD learning rate per instance by a fine search (the score's yardstick), cached;
* ``scoring``: pure scoring functions (per-run normalised score, steps to target, rliable's
  aggregates with stratified-bootstrap confidence intervals, probability of improvement,
  performance profiles and AlgoPerf's profile score); NumPy only;
* ``settings``: the episode settings of a graded run (the suite's, plus the few a policy may choose)
  and the info a policy may see;
* ``worker`` / ``pool``: the grader's worker processes (env, recorded trajectories) on all cores;
* ``sandbox`` / ``policy_host``: the sandboxed process a submission runs in (namespaces, private
  root, unprivileged uid, limits, whole process tree ended); ``sandbox``'s docstring maps the
  modules of the grader's side (``host_start``, ``sandbox_cgroup``, ``sandbox_folders``),
  ``policy_host``'s those of the sandboxed side (``sandbox_root``, ``sandbox_privileges``,
  ``job_isolation``, ``job_starter``, ``job_process``, ``job_cleanup``, ``episode_host``,
  ``policy_loading``, ``host_messages``), and both use ``mountinfo`` and ``libc``;
* ``runner``: a policy over a suite on all cores → checked, scored runs → one store entry;
* ``limits`` / ``text``: checks of a submitter's limits, names and text;
* ``trust``: content hashes of the reference files the grader wrote;
* ``private``: a hidden suite derived from a grader-held key;
* ``store``: the append-only SQLite results store;
* ``ranking`` / ``report``: the ranking and its terminal table, Markdown and HTML (``report``
  re-exports ``report_format``, ``provenance``, ``report_terminal``, ``report_markdown``,
  ``report_plots`` and ``report_html``, one concern each); ``public_source``: a submission as
  those published outputs name it (its file's name, never the submitter's folders; its failure
  reason by one rule, ``export``'s too);
* ``val_table``: the baselines' validation table in README.md (``python -m lrgym.leaderboard.val_table``);
* ``cli``: the ``lrgym leaderboard ...`` commands; ``bench``: the main-job timing.
"""
