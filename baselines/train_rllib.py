"""Train an LR controller with Ray RLlib (PPO, or the off-policy DQN) on a Ray cluster.

RLlib spreads sampling over ``--env-runners`` Ray actors; each steps lrgym's batched vector env
(:class:`lrgym.vector.LRControlVectorEnv`, ``--envs-per-runner`` sub-envs in one compiled call
per step; RLlib's ``gym_env_vectorize_mode="vector_entry_point"``) and the learner updates the
module from their batches. The agent sees what the SB3 baselines see (:mod:`lrgym.baselines.train_sb3`):
train instances of ``LRControl-v1``'s mixed family (or ``--family``), observations clipped to
±10, the horizon as the end of the task, per-step rewards clipped to [−10, 1], discrete actions
(LR × 0.5, 0.8, 1, 1.25, 2).

::

    python -m lrgym.baselines.train_rllib --algo ppo --steps 200000                  # a local Ray instance
    python -m lrgym.baselines.train_rllib --algo dqn --address auto --env-runners 32 # an existing cluster
    python -m lrgym.baselines.train_rllib --algo ppo --resume runs/rllib_ppo_mixed.ckpt --steps 400000

Outputs (``runs/`` unless ``--out PATH`` or ``--ship``: :mod:`lrgym.baselines.outputs`):
``rllib_<algo>_<family>.npz`` (the greedy network as NumPy arrays, :class:`~lrgym.baselines.mlp_policy.MLPPolicy`),
``.py`` (a self-contained submission: ``lrgym leaderboard submit runs/rllib_ppo_mixed.py:RLlibPolicy``;
grading needs NumPy only, no Ray or torch), ``.json`` (config, steps, time) and ``.ckpt/`` (RLlib's
checkpoint, written every ``--checkpoint-every`` iterations and at the end; ``--resume`` it to go on
training up to ``--steps`` in all). Nothing in ``~/ray_results``: RLlib's ``logdir``, where it writes
nothing, is a temp folder removed when the run ends (:mod:`lrgym.baselines.rllib_logdir`).

A resumed run is the checkpoint's run going on: its algorithm, family, env keywords, runners,
seed and training settings are read from the checkpoint before anything starts
(:func:`checkpoint_settings`) and name the outputs and the ``.json`` record; a flag that
contradicts them is refused naming both values (only :data:`RESUME_MAY_DIFFER` may differ). A
checkpoint already at or beyond ``--steps`` trains nothing and writes nothing. A resumed run is
not the uninterrupted run to the bit (:data:`RESUME_DIFFERS`: RLlib's checkpoint holds no env
state, no random generator's state, no DQN replay buffer). Bad values (and a
refused ``--address``, too many ``--env-runners`` for the Ray instance, Ray not installed) are
the parser's errors, exit 2: :class:`ConfigError`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

from lrgym.baselines import outputs
from lrgym.baselines.backend import RayCannotRun
from lrgym.baselines.code_version import made_by
from lrgym.baselines.config_checks import ConfigError, read_config
from lrgym.baselines.interrupt_types import STOP_EXCEPTIONS
from lrgym.baselines.mlp_policy import MLPPolicy, policy_choices
from lrgym.baselines.node_check import NodeMismatch
# what the env runners run on their nodes, in a module of its own so that the node check hashes it
# (this file is driver-only: lrgym.baselines.node_check.DRIVER_ONLY)
from lrgym.baselines.rllib_env import (RESUMED_AT, RUN_KEYS, RUN_SEED, make_env, resumed_seed, runner_cycle_offset,
                                      runner_seeds, spread_cycles, training_view, warm_runner_kernels)
# the command's parts, each in a module of its own (driver-only too), re-exported: this module stays their one import
from lrgym.baselines.train_rllib_algo import algo_config, export_policy, register_rllib_env
from lrgym.baselines.train_rllib_config import (ALGOS, ENV_NAME, FLAGS, RESUME_MAY_DIFFER,  # noqa: F401 (FLAGS)
                                                TRAINER_SET, RLlibConfig)
from lrgym.baselines.train_rllib_nodes import check_cpus, check_env_runner_nodes, warm_up_nodes
from lrgym.baselines.train_rllib_resume import (RESUME_DIFFERS, RLLIB_SEED_BITS, check_algo, checkpoint_settings,
                                                checkpoint_steps, interrupted_note, lifetime_steps,
                                                resumed_algo_config, resumed_config, rllib_seed, save_checkpoint)
from lrgym.tasks import FAMILIES


__all__ = ["ALGOS", "ENV_NAME", "RESUMED_AT", "RESUME_DIFFERS", "RESUME_MAY_DIFFER", "RLLIB_SEED_BITS", "RUN_KEYS",
           "RUN_SEED", "TRAINER_SET", "ConfigError", "RLlibConfig", "checkpoint_settings", "checkpoint_steps",
           "export_policy", "make_env", "register_rllib_env", "resumed_algo_config", "resumed_config", "resumed_seed",
           "rllib_seed", "runner_cycle_offset", "runner_seeds", "spread_cycles", "steps_said", "train", "training_view",
           "warm_runner_kernels", "warm_up_nodes"]


#: the ``.json`` history's names of RLlib's timers (``result["timers"]``): moving averages over the
#: run's iterations, restored by a resume, not this iteration's seconds (that is ``iteration_s``)
TIMERS = {"rllib_sample_ema_s": "env_runner_sampling_timer", "rllib_learn_ema_s": "learner_update_timer"}


#: the command's files (its one module, train_rllib.py, split by concern): what its record's
#: ``code`` hashes beside lrgym's code, which leaves out the driver-only ``train_*.py``
#: (:data:`lrgym.baselines.node_check.DRIVER_ONLY`)
TRAINER_FILES = tuple(Path(__file__).with_name(name) for name in (
    "train_rllib.py", "train_rllib_algo.py", "train_rllib_config.py", "train_rllib_nodes.py", "train_rllib_resume.py"))


@contextlib.contextmanager
def _runner_failures_named(config: RLlibConfig):
    """Building the algorithm (its env runners, Ray actors of the job's runtime environment), with
    a failure whose cause is a node that cannot set up that runtime environment named as such.
    RLlib logs each runner's ``RuntimeEnvSetupError`` (``ERROR actor_manager.py ... taking actor 1
    out of service``) and then fails in its own ``IndexError: list index out of range`` (no runner
    answered its question for the spaces), a traceback after a minute that names neither the
    node nor the fix; Ray does not retry a runtime environment (it would fail the same way:
    :func:`~lrgym.baselines.backend.cannot_run`). So a failed build asks each node to run a task
    of nothing in the same runtime environment (:func:`~lrgym.baselines.backend.on_each_node`, of no
    CPU: the runners RLlib left may hold them all);
    one that cannot raises :class:`~lrgym.baselines.backend.RayCannotRun` naming the node, its
    ``runtime_env_agent.log`` and the fix (the command's one-line error); a node with other code
    (the task checks each node as the warm-up does, which runs only with 2 or more env runners)
    raises :class:`NodeMismatch` naming it and what differs (until 2026-12-06 RLlib's error came
    instead, its runners' failure on that node naming neither); otherwise RLlib's own error is
    raised as it was."""
    try:
        yield
    except Exception:
        from lrgym.baselines.backend import on_each_node

        try:  # of no CPU: placed beside whatever runners RLlib left holding theirs
            on_each_node(_nothing, None, config.address, num_cpus=0)
        except (RayCannotRun, NodeMismatch) as exc:
            raise type(exc)(f"RLlib could not start its env runners: {exc}") from None
        except Exception:  # noqa: BLE001 - not the nodes: RLlib's own error says what happened
            pass
        raise


def _nothing(_job) -> None:
    """The task :func:`_runner_failures_named` runs on each node: its runtime environment alone."""


def train(config: RLlibConfig, log=outputs.status, wrote=print) -> MLPPolicy | None:
    """Train (or resume) until ``total_timesteps`` env steps in all; write the outputs; returns the
    exported policy. ``log`` says its notes (stderr by default; the progress bar is there too),
    ``wrote`` the last line, naming the files written (stdout by default: the command's result).
    A resumed run takes the checkpoint's settings (:func:`resumed_config`); one whose checkpoint
    already has ``total_timesteps`` steps or more trains nothing, writes nothing
    and returns None. What is refused before training (anything that would fail, or wait for
    ever, later) is a :class:`ConfigError`. RLlib's notices (:data:`~lrgym.baselines.ray_logs.RLLIB_NOTICES`)
    are not said while it runs, unless ``config.verbose`` or ``$LRGYM_RAY_LOGS=all``. The algorithm's
    ``logdir``, where RLlib writes nothing, is a temp folder removed at the end, not a new
    ``~/ray_results/<date-time><random>`` (:func:`~lrgym.baselines.rllib_logdir.logdirs_in_temp`)."""
    from lrgym.baselines.backend import import_ray
    from lrgym.baselines.ray_logs import RLLIB_NOTICES, notices_dropped, ray_logs_shown
    from lrgym.baselines.rllib_logdir import logdirs_in_temp

    try:
        import_ray()
        shown = ray_logs_shown(config.verbose)
    except (ImportError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    with notices_dropped(RLLIB_NOTICES, shown), logdirs_in_temp():
        return _train(config, log, wrote)


def _train(config: RLlibConfig, log, wrote) -> MLPPolicy | None:
    """:func:`train`, Ray there."""
    from lrgym.baselines.backend import connect

    resumed_from = None
    if config.resume:  # the checkpoint's own settings, checked like the flags before anything is built
        try:
            saved = checkpoint_settings(config.resume)
        except ValueError as exc:
            raise ConfigError(f"--resume {config.resume}: {exc}") from None
        if saved is None:
            raise ConfigError(f"--resume {config.resume}: no RLlib checkpoint there (no class_and_ctor_args.pkl); "
                              "valid: the OUT.ckpt folder a train_rllib run wrote")
        config = resumed_config(config, saved)
        resumed_from = checkpoint_steps(config.resume)
        if resumed_from is not None and resumed_from >= config.total_timesteps:
            log(f"--resume {config.resume} already has {resumed_from} env steps, at or beyond --steps "
                f"{config.total_timesteps}: nothing to train, nothing written (give --steps above {resumed_from} "
                "to go on)")
            return None
    try:
        files = config.output_files()  # before training: a bad --out / --ship pair fails at once
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    for suffix, mark in ((".py", b"exported by lrgym.baselines.train_rllib"), (".json", b'"env_steps"')):
        problem = outputs.companion_problem(files[suffix], files[".npz"], (mark,))
        if problem:  # a file of the user's beside --out (their policy.py) is not replaced
            raise ConfigError(f"--out {config.output()}: {problem}")
    ckpt = files[".ckpt"]
    if not config.resume:  # a bad algo_kwargs key, before Ray starts (a resume refuses them all)
        algo_config(config)
    try:
        ray = connect(config.address, verbose=config.verbose)
    except (ValueError, ConnectionError) as exc:  # a malformed address, no Ray head there
        raise ConfigError(str(exc)) from None
    source = None
    if config.resume:
        source = f"--resume {config.resume} ({config.env_runners} env runners, the checkpoint's own setting)"
    check_cpus(config.env_runners, config.address, ray.cluster_resources().get("CPU", 0), log, source=source)
    register_rllib_env()
    warm_up_s = warm_up_nodes(config, log)
    built_seed = rllib_seed(config.seed, resumed_from)  # what resumed_algo_config gives RLlib (a new run: --seed)
    if config.resume:
        from ray.rllib.algorithms.algorithm import Algorithm

        # built from the checkpoint's config with this file's cycle callback (resumed_algo_config)
        with _runner_failures_named(config):
            algo = Algorithm.from_checkpoint(str(Path(config.resume).resolve()),
                                             config=resumed_algo_config(config.resume, config, log, resumed_from))
        try:  # again on what was built
            check_algo(config, type(algo).__name__.lower())
        except ConfigError:
            algo.stop()
            raise
        if resumed_from is None:  # its steps were not found in the files: the restored metrics'
            resumed_from = lifetime_steps(algo)
            if resumed_from is not None and resumed_from >= config.total_timesteps:
                algo.stop()
                log(f"--resume {config.resume} already has {resumed_from} env steps, at or beyond --steps "
                    f"{config.total_timesteps}: nothing to train, nothing written")
                return None
    else:
        with _runner_failures_named(config):
            algo = algo_config(config).build_algo()
    try:  # before any sample: a runner on a node with other code would train on other dynamics
        check_env_runner_nodes(algo)
    except NodeMismatch:
        algo.stop()
        raise
    start, steps, iteration = time.time(), resumed_from or 0, 0
    history, saved_steps = [], None  # (the env steps of this run's last checkpoint)
    try:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.total_timesteps, desc=f"RLlib {config.algo}", disable=not config.progress)
        bar.update(min(steps, config.total_timesteps))
        try:
            while steps < config.total_timesteps:
                began = time.perf_counter()
                result = algo.train()
                iteration_s = time.perf_counter() - began
                iteration += 1
                steps = _sampled(result, steps)  # lifetime count: a resumed run goes on from its checkpoint's
                bar.update(min(steps, config.total_timesteps) - bar.n)
                ret = (result.get("env_runners") or {}).get("episode_return_mean")
                timers = result.get("timers") or {}
                history.append({"iteration": iteration, "env_steps": steps,
                                "episode_return_mean": None if ret is None or not np.isfinite(ret) else float(ret),
                                # this iteration's own wall time (algo.train(), measured here)
                                "iteration_s": round(iteration_s, 4),
                                # RLlib's timers as RLlib means them: an exponential moving average (weight 0.01
                                # per iteration, from the first iteration's value) over the whole run's
                                # iterations, a resumed run's earlier ones included (the checkpoint holds it)
                                **{k: _seconds(timers.get(key)) for k, key in TIMERS.items()}})
                if iteration % config.checkpoint_every == 0:
                    save_checkpoint(algo, ckpt)
                    saved_steps = steps
            bar.close()
            save_checkpoint(algo, ckpt)
        except STOP_EXCEPTIONS:  # Ctrl-C, SIGTERM: say what stays and how to go on
            bar.close()
            log(interrupted_note(config, ckpt, saved_steps, resumed_from))
            raise
        record = config.record()
        if config.resume:
            record["algo_kwargs"] = None  # in the checkpoint, among RLlib's own: not read back (resumed_config)
        meta = {"algo": config.algo, "env_steps": steps, "train_seconds": round(time.time() - start, 1),
                "warm_up_s": warm_up_s,
                # the seed RLlib seeded its generators from: config.seed, or a resumed run's own (rllib_seed)
                "rllib_seed": built_seed,
                "config": record, "trained_on": config.full_env_kwargs(),
                # what the policy chose of its episodes (optimizer, lr_init, factors, ...: MLPPolicy and the
                # grader run it so); without them a run with env_kwargs {"optimizer": "adam"} was graded with SGD
                "choices": outputs.json_copy(policy_choices(config.full_env_kwargs())), "ray": ray.__version__,
                "cluster_cpus": ray.cluster_resources().get("CPU"), "history": history[-50:], **made_by(*TRAINER_FILES)}
        if config.resume:
            meta["resumed_from"] = {"checkpoint": str(config.resume), "env_steps": resumed_from}
        policy = export_policy(algo.get_module(), config.algo, f"rllib_{config.algo}", meta)
    finally:
        algo.stop()
    outputs.replace_files({files[".npz"]: policy.to_bytes(), files[".py"]: policy.submission_source(),
                           files[".json"]: json.dumps(meta, indent=1) + "\n"})  # together, or none of them
    wrote(f"{steps_said(steps, config.total_timesteps, iteration)} in {meta['train_seconds']} s; wrote "
          f"{', '.join(str(files[k]) for k in ('.npz', '.py', '.json'))} and {ckpt}/")
    return policy


def _seconds(value) -> float | None:
    try:
        return round(float(value), 4)
    except (TypeError, ValueError):
        return None


def _sampled(result: dict, before: int) -> int:
    runners = result.get("env_runners") or {}
    value = runners.get("num_env_steps_sampled_lifetime")
    return int(value) if value is not None else before


def steps_said(steps: int, requested: int, iterations: int) -> str:
    """What a finished run says of its env steps: RLlib samples whole training iterations (PPO:
    about ``train_batch_size`` steps each, 2000 by default; DQN: what its runners sample per
    iteration), so a run stops at the first iteration that reaches ``--steps``, and ``steps``
    may exceed ``requested``; the line then says by how much and why (the ``.json`` records
    both: ``env_steps`` and ``config.total_timesteps``)."""
    if steps <= requested:
        return f"{steps} env steps"
    return (f"{steps} env steps (--steps {requested} rounded up to whole training iterations: "
            f"{iterations} this run, {steps - requested} steps more)")


def _parser() -> argparse.ArgumentParser:
    default = {name: f.default for name, f in RLlibConfig.__dataclass_fields__.items()}  # what --help names is the config's
    p = argparse.ArgumentParser(
        prog="python -m lrgym.baselines.train_rllib", description=__doc__.split("\n\n")[0],
        epilog="With 2 or more env runners, lrgym's kernels are first compiled into Numba's disk cache once per "
               "machine (with --address: on each node), said in one line on stderr ('warmed lrgym's kernels ...'; "
               "a failure there is a warning, and training goes on cold). Exit status: 0 when trained; 2 for an "
               "option or --config error; 1 when a Ray node runs other code than this one or cannot set up the "
               "run's runtime environment (one line naming the node and the fix, nothing written); 128 + the "
               "signal's number when stopped (130 for Ctrl-C).")
    p.add_argument("--config", help="JSON file of RLlibConfig fields (flags override it)")
    p.add_argument("--algo", choices=ALGOS, help=f"ppo or dqn (default {default['algo']}; on --resume: the checkpoint's)")
    p.add_argument("--family", choices=FAMILIES, help="task family (default: the mixed family; on --resume: the checkpoint's)")
    p.add_argument("--steps", type=int, dest="total_timesteps", help=f"env steps in all (a resumed run included; default {default['total_timesteps']:,}), rounded up to whole "
                        "training iterations (PPO: about its train batch, 2,000 by default, each)")
    p.add_argument("--env-runners", type=int, dest="env_runners", help=f"sampling actors (default {default['env_runners']}; on --resume: the checkpoint's)")
    p.add_argument("--envs-per-runner", type=int, dest="envs_per_runner", help=f"sub-envs per runner (default {default['envs_per_runner']}; on --resume: the checkpoint's)")
    p.add_argument("--seed", type=int, help=f"random seed (default {default['seed']}; on --resume: the checkpoint's)")
    p.add_argument("--horizon", type=int, help="episode length (default: the family's; on --resume: the checkpoint's)")
    p.add_argument("--checkpoint-every", type=int, dest="checkpoint_every", help=f"training iterations between checkpoints (default {default['checkpoint_every']})")
    p.add_argument("--resume", help="continue from this checkpoint folder (OUT.ckpt) with its own settings, up to "
                   f"--steps; {RESUME_DIFFERS}")
    p.add_argument("--address", help="Ray cluster: auto or HOST:PORT (default: a Ray instance on this machine)")
    outputs.add_output_arguments(p, "policy", "a path without suffix")
    p.add_argument("--no-progress", action="store_false", dest="progress", default=None,
                   help="no progress bar (default: a bar of env steps on stderr)")
    p.add_argument("--verbose", action="store_true", default=None,
                   help="show Ray's and RLlib's own logging whole: their notices, Ray's INFO lines, the env runners' "
                        "output (as $LRGYM_RAY_LOGS=all; default: their warnings and errors only)")
    return p


def parse_config(argv=None, parser: argparse.ArgumentParser | None = None) -> RLlibConfig:
    """The :class:`RLlibConfig` of the command line (``--config`` file, then the flags over it),
    its :attr:`~RLlibConfig.given` the fields set there. Every value that can be checked without
    Ray is checked here, as the parser's error."""
    from lrgym.baselines.backend import check_address_form

    p = parser or _parser()
    args = vars(p.parse_args(argv))
    config_path, horizon = args.pop("config"), args.pop("horizon")
    if not args["ship"]:
        del args["ship"]
    values: dict = {}
    if config_path:
        try:  # missing, a folder, a FIFO, not JSON, not an object, an unknown field: named, exit 2
            values.update(read_config(RLlibConfig, config_path, internal=("given",)))
        except ValueError as exc:
            p.error(f"--config {config_path}: {exc}")
    values.update({k: v for k, v in args.items() if v is not None})
    if horizon is not None and isinstance(values.get("env_kwargs", {}), dict):  # (else RLlibConfig names it)
        values["env_kwargs"] = {**values.get("env_kwargs", {}), "horizon": horizon}
    known = {f.name for f in fields(RLlibConfig)} - {"given"}
    unknown = sorted(set(values) - known)
    if unknown:
        p.error(f"--config {config_path}: unknown config field(s) {unknown}; valid: {sorted(known)}")
    for key in ("net_arch", "reward_clip"):
        if values.get(key) is not None:
            values[key] = tuple(values[key])
    try:
        check_address_form(values.get("address"))
        config = RLlibConfig(**values, given=frozenset(values))
        config.output_files()  # an --out naming a shipped file (outputs.output_path): an option error, before Ray
    except (ValueError, TypeError) as exc:
        p.error(str(exc))
    return config


def main(argv=None) -> None:
    """The command: what :func:`train` refuses before training (:class:`ConfigError`) is the
    parser's error, exit 2; a Ray instance it started is shut down however it ends."""
    import sys

    p = _parser()
    config = parse_config(argv, p)
    try:
        train(config)
    except ConfigError as exc:
        p.error(str(exc))
    except (NodeMismatch, RayCannotRun) as exc:  # a Ray node with other code, or one that cannot run lrgym's
        # workers (its runtime environment): one line, as the leaderboard and tune say it
        print(f"{p.prog}: error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        ray = sys.modules.get("ray")  # imported only if it could be: a missing Ray's hint is said once
        if ray is not None and ray.is_initialized():
            ray.shutdown()


if __name__ == "__main__":  # SIGTERM / SIGHUP stop it as Ctrl-C does (its pool cleaned up), exit 128 + signal
    from lrgym.baselines.interrupts import run_command

    raise SystemExit(run_command(main, "python -m lrgym.baselines.train_rllib", exiting=True))
