"""lrgym leaderboard: suite definition, runner, scoring, store, report and CLI.

Modules, one concern each:

* ``suite``: the versioned benchmark suites (``v2``, the default, ``v1``, ``val``, ``quick``);
  ``suite_file``: a suite of your own from a JSON file;
* ``references``: best constant SGD learning rate per instance by a fine search (the score's yardstick), cached;
* ``scoring``: pure scoring functions (per-run normalised score, steps to target, rliable's
  aggregates with stratified-bootstrap confidence intervals, probability of improvement,
  performance profiles and AlgoPerf's profile score); NumPy only;
* ``settings``: the episode settings of a graded run (the suite's, plus the few a policy may choose)
  and the info a policy may see;
* ``worker`` / ``pool``: the grader's worker processes (env, recorded trajectories) on all cores;
  ``ray_pool`` the same on a Ray cluster, ``backends`` which of the two runs, ``scheduling``
  their shared loop and rules; ``failures`` how a failure is worded on both sides of the sandbox;
* ``submission_files`` (a submission's files, read without following links; ``path_walk`` its
  walk of a path one name at a time, shared with ``private``'s key), ``import_paths``
  (a child's import path, never the working directory), ``ownership`` (is this file the
  grader's own?);
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
* ``selection``: suite v2's rule (the test instances that discriminate); ``transfer``: does the
  ranking transfer to PyTorch training (``python -m lrgym.leaderboard.transfer``);
* ``cli``: the ``lrgym leaderboard ...`` commands (``entry``: the ``lrgym`` command's shim, which
  imports Typer and rich only when it runs); ``bench``: the main-job timing.
"""
