"""The Ray cluster an RLlib training run uses, checked and readied before it samples (part of
:mod:`lrgym.baselines.train_rllib`, which re-exports it): enough CPUs for the env runners
(:func:`check_cpus`), Numba's cache warmed on every node (:func:`warm_up_nodes`), every remote env
runner's node running the driver's code (:func:`check_env_runner_nodes`). The task of nothing a
failed build sends to each node (``_runner_failures_named``) stays in train_rllib.py: Ray ships it
by value when the command runs as ``python -m`` (``__main__``), by reference to
``lrgym.baselines.train_rllib`` otherwise, as before."""

from __future__ import annotations

import time

from lrgym.baselines import outputs
from lrgym.baselines.config_checks import ConfigError
from lrgym.baselines.node_check import NodeMismatch
from lrgym.baselines.train_rllib_config import RLlibConfig


def check_env_runner_nodes(algo) -> None:
    """Raise :class:`~lrgym.baselines.node_check.NodeMismatch` (naming the node and what differs)
    unless the node of every remote env runner has the driver's fingerprint
    (:func:`~lrgym.baselines.node_check.node_differences`: lrgym's code, the packages results depend
    on, the families of one's own; not the CPU kind). The grader and the tuner check each node
    their jobs run on; the env runners stepped whatever lrgym their node had, and a run trained on
    other dynamics without a word (a Ray operator's audit)."""
    from lrgym.baselines.backend import node_report
    from lrgym.baselines.node_check import node_differences, node_fingerprint

    mine = node_fingerprint()
    for theirs in algo.env_runner_group.foreach_env_runner(lambda _runner: node_report(), local_env_runner=False):
        theirs = dict(theirs)
        problem = node_differences(mine, theirs, theirs.pop("node"))
        if problem:
            raise NodeMismatch(problem)


def warm_up_nodes(config: RLlibConfig, log=outputs.status) -> float | None:
    """Fill Numba's disk cache with the kernels the env runners will need, once per machine,
    before RLlib builds them (:func:`~lrgym.baselines.rllib_env.warm_runner_kernels`): on this
    machine (the Ray instance ``train`` starts here), or with ``--address`` in one task on each
    node of the cluster (:func:`~lrgym.baselines.backend.on_each_node`). On a cold cache (a first
    run, after an upgrade or an edit of lrgym) the runners of a node each compiled the same kernels
    at once, on the cores they share: 239 s of sampling for a first 2,000 steps on two runners.
    Returns the seconds it took (the ``.json``'s ``warm_up_s``), or None with fewer than 2 env
    runners (one process compiles either way) or where it failed.

    ``log`` says one line of it (stderr, with the run's other notes; it ran without a word, and a
    minute of a cold cache looked like a hang): what was warmed, where and how long
    (``warmed lrgym's kernels for the env runners (4 kinds of linreg instances) on 2 nodes in
    12.3 s``). A failure is named with its node and error, and then:

    * a node with other code (:class:`NodeMismatch`) or a runtime environment a node cannot set up
      (:class:`~lrgym.baselines.backend.RayCannotRun`, naming the node and the fix) stops the run:
      RLlib would place env runners there, which would train other dynamics or fail too;
    * lrgym's own error there, or a lost Ray worker (:class:`~lrgym.baselines.backend.NodeTaskFailed`;
      on this machine: any ``Exception``) is a ``warning: ... continuing cold`` line: the warm-up only
      saves time, and the runners compile what they need themselves (the same error, if theirs
      too, is then RLlib's, after this line named it)."""
    if config.env_runners < 2:
        return None
    from lrgym.baselines import rllib_env

    start, failed = time.perf_counter(), None
    if config.address is None:
        where = "this machine"
        try:
            kinds = len(rllib_env.warm_runner_kernels(config.full_env_kwargs()))
        except Exception as exc:  # noqa: BLE001 - the warm-up only saves time: said, then training goes on
            failed = f"on this machine: {type(exc).__name__}: {exc}"
    else:
        from lrgym.baselines.backend import NodeTaskFailed, on_each_node

        try:
            done = on_each_node(rllib_env.warm_runner_kernels, config.full_env_kwargs(), config.address)
        except NodeTaskFailed as exc:  # (NodeMismatch, RayCannotRun: raised, the run stops)
            failed = str(exc)
        else:
            kinds, where = (len(done[0]) if done else 0), f"{len(done)} node{'s' if len(done) != 1 else ''}"
    if failed is not None:
        log(f"warning: warming lrgym's kernels for the env runners failed {failed}; continuing cold: each env runner "
            "compiles the kernels it needs itself (on a cold cache, minutes at its first sample)")
        return None
    seconds = round(time.perf_counter() - start, 1)
    log(f"warmed lrgym's kernels for the env runners ({kinds} kinds of {config.family or 'mixed'} instances) on "
        f"{where} in {seconds} s")
    return seconds


def check_cpus(env_runners: int, address: str | None, cpus: float, log, source: str | None = None) -> None:
    """Each env runner is an actor of one CPU, and RLlib waits, silently, until every one is
    placed: ``env_runners`` above the CPUs of the Ray instance lrgym started on this machine
    (no ``--address``: it never gets more) would wait forever, so it is refused; on a cluster
    (``--address``) that may grow, the wait is only announced. ``source`` says where the count
    comes from (default: the ``--env-runners`` flag; a resumed checkpoint's own settings). Both
    paths of :func:`train` call it before anything is built."""
    if env_runners <= cpus:
        return
    valid = "--address of a cluster with more CPUs"
    if source is None:
        source, valid = f"--env-runners {env_runners}", f"--env-runners 0 to {int(cpus)}, or {valid}"
    if address is None:
        raise ConfigError(f"{source} needs {env_runners} CPUs (one per runner), "
                         f"but this Ray instance has {cpus:g}; valid: {valid}")
    log(f"note: {source} needs {env_runners} CPUs and the cluster at "
        f"{address} has {cpus:g} now: training starts when it has them")
