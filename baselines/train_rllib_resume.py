"""A resumed RLlib training run (part of :mod:`lrgym.baselines.train_rllib`, which re-exports it):
the settings and env steps a checkpoint holds, read without building anything
(:func:`checkpoint_settings`, :func:`checkpoint_steps`), the run's config taken from them and the
flags that contradict them refused (:func:`resumed_config`), the ``AlgorithmConfig`` it is rebuilt
from (:func:`resumed_algo_config`) and its RLlib seed (:func:`rllib_seed`); what a resumed run is
not (:data:`RESUME_DIFFERS`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from lrgym.baselines import outputs
from lrgym.baselines.config_checks import ConfigError
from lrgym.baselines.families import MIXED, family_key
from lrgym.baselines.rllib_env import RESUMED_AT, RUN_KEYS, RUN_SEED, resumed_seed, spread_cycles
from lrgym.baselines.train_rllib_config import ENV_NAME, FLAGS, RLlibConfig


#: why a resumed run is not the uninterrupted run to the bit (its ``--help``; README "RLlib training"):
#: what RLlib 2.60's checkpoint (``Algorithm.save_to_path``, the new API stack's ``get_state``) does
#: not hold. It holds the weights, the optimizer's state, the connectors' states, the metrics
#: (lifetime steps: DQN's epsilon and learning start go on) and the iteration count.
RESUME_DIFFERS = ("not the uninterrupted run to the bit: RLlib's checkpoint holds no env state (the resumed runners "
                  "start new episodes, on instances drawn from seeds of the checkpoint's steps), no state of the "
                  "random generators (RLlib seeds Python's, NumPy's and torch's anew at every build: a resumed run's "
                  "from a seed drawn from --seed and the checkpoint's steps, recorded as rllib_seed, so its action "
                  "sampling and PPO's minibatch shuffles are fresh streams, not the run's first ones again nor the "
                  "uninterrupted run's) and no DQN replay buffer (a resumed DQN starts with an empty one)")


#: the bits of a resumed run's RLlib seed (:func:`rllib_seed`): RLlib seeds NumPy's global generator
#: (seeds below 2³² only) with it plus the env runner's index, plus 10⁶ on an evaluation runner
RLLIB_SEED_BITS = 31


def _unpickle(file: Path):
    import pickle

    with open(file, "rb") as f:
        return pickle.load(f)  # the checkpoint is the user's own; Algorithm.from_checkpoint unpickles it too


def checkpoint_settings(path: str | Path) -> dict | None:
    """The :class:`RLlibConfig` fields an RLlib checkpoint folder holds, read from its
    ``class_and_ctor_args.pkl`` (the ``AlgorithmConfig`` it was built from) without building
    anything: ``algo`` (its class name in lower case), ``family`` (None: mixed), ``env_kwargs``
    (the env keywords beyond the family's: ``horizon``, ...), ``reward_clip``, ``env_runners``,
    ``envs_per_runner``, ``seed`` (the run's ``--seed``: a resumed run's checkpoint holds it as
    :data:`RUN_SEED`, its RLlib seed being another, :func:`rllib_seed`), ``gamma``,
    ``learning_rate``, ``train_batch_size``, ``net_arch`` and ``activation``; a key is left out
    where the checkpoint has no value for it. A resumed run
    is built from these, not from the flags (:func:`resumed_config`). None if the folder has no
    such file (no checkpoint); a ``ValueError`` if the file is damaged or the checkpoint is not a
    train_rllib run's (another env than :data:`ENV_NAME`, or no family or reward clip in its env
    config: its settings would be guessed and recorded wrong)."""
    from ray.rllib.utils.checkpoints import Checkpointable

    import pickle

    file = Path(path) / Checkpointable.CLASS_AND_CTOR_ARGS_FILE_NAME
    if not file.is_file():
        return None
    try:
        saved = _unpickle(file)
        state = saved["ctor_args_and_kwargs"][0][0]
        cls = saved["class"]
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, IndexError, KeyError,
            TypeError, ValueError) as exc:  # a damaged or foreign file
        raise ValueError(f"{file} is no readable RLlib checkpoint file ({type(exc).__name__}: {exc}); valid: "
                         "the OUT.ckpt folder a train_rllib run wrote, whole") from None
    if not isinstance(state, dict):  # a sub-folder of a checkpoint (a connector's): another object's arguments
        raise ValueError(f"{file} holds a {type(state).__name__}, not an algorithm's config; valid: the OUT.ckpt "
                         "folder a train_rllib run wrote, whole (not a folder inside it)")
    env = dict(state.get("env_config") or {})
    if state.get("env") != ENV_NAME or "family" not in env or "reward_clip" not in env:
        # another program's checkpoint (RLlib's own PPOConfig().environment(LRControlEnv, ...)): its
        # family, reward and env would be guessed (mixed, the default clip) and recorded wrong
        raise ValueError(f"{Path(path)} is an RLlib checkpoint of env {state.get('env')!r} with env_config keys "
                         f"{sorted(env)}, not one train_rllib wrote (env {ENV_NAME!r}, its env_config naming the family "
                         "and reward_clip); valid: the OUT.ckpt folder a train_rllib run wrote (to go on training "
                         "another program's checkpoint, restore it with RLlib itself: Algorithm.from_checkpoint)")
    out: dict = {"algo": cls.__name__.lower(), "env_runners": int(state.get("num_env_runners") or 0)}
    if "family" in env:
        family = env.pop("family")
        out["family"] = None if family == MIXED else family
    if "reward_clip" in env:
        clip = env.pop("reward_clip")
        out["reward_clip"] = None if clip is None else tuple(clip)
    run_seed = env.get(RUN_SEED)  # a resumed run's checkpoint: its config's seed is the one drawn for RLlib
    for key in ("instance_set", "action_mode", *RUN_KEYS):  # lrgym's own (RLlibConfig.full_env_kwargs,
        env.pop(key, None)  # resumed_algo_config), not the user's
    out["env_kwargs"] = env
    model = state.get("_model_config")
    seed = state.get("seed") if run_seed is None else run_seed
    for name, value in (("envs_per_runner", state.get("num_envs_per_env_runner")), ("seed", seed),
                        ("gamma", state.get("gamma")), ("learning_rate", state.get("lr")),
                        ("train_batch_size", state.get("_train_batch_size_per_learner")),
                        ("net_arch", getattr(model, "fcnet_hiddens", None)),
                        ("activation", getattr(model, "fcnet_activation", None))):
        if value is not None:
            out[name] = tuple(value) if name == "net_arch" else value
    return out


def resumed_algo_config(path: str | Path, config: RLlibConfig, log=outputs.status,
                        resumed_at: int | None = None) -> dict:
    """The ``AlgorithmConfig`` state of the checkpoint at ``path`` (its ``class_and_ctor_args.pkl``,
    which :func:`checkpoint_settings` read), which a resumed run is built from, with
    :func:`spread_cycles` as its ``on_environment_created`` callback, as :func:`algo_config` gives
    a new run, and the checkpoint's env steps ``resumed_at`` in its env config
    (:data:`~lrgym.baselines.rllib_env.RESUMED_AT`), from which the runners draw their seeds anew:
    RLlib resets a restored run's new runners with the seeds the run started with, and they
    replayed its first instances in the same order (:func:`~lrgym.baselines.rllib_env.runner_seeds`;
    ``None``, the steps not found in the checkpoint's files: the run's own seeds, as before). Its
    ``seed`` is :func:`rllib_seed` of the run's (``config.seed``) and ``resumed_at``, and the env
    config keeps the run's as :data:`RUN_SEED`: RLlib seeds Python's, NumPy's and torch's
    generators from the config's seed at every build, and a resumed run sampled its actions and
    shuffled its minibatches as the run's first iteration had. A checkpoint written before the callback existed (2026-12-06) holds none, and RLlib
    rebuilt it so: its resumed runners walked an ``instance_order="cycle"`` list in lockstep, without
    a word. The resumed run now spreads them, and ``log`` says so where the checkpoint's list is a
    cycle (``config``: the run's settings, the checkpoint's: :func:`resumed_config`)."""
    from ray.rllib.utils.checkpoints import Checkpointable

    state = dict(_unpickle(Path(path) / Checkpointable.CLASS_AND_CTOR_ARGS_FILE_NAME)["ctor_args_and_kwargs"][0][0])
    if state.get("callbacks_on_environment_created") is None and config.env_kwargs.get("instance_order") == "cycle":
        log(f"note: --resume {path} was written before train_rllib spread its env runners' instance cycles apart "
            "(spread_cycles): its runners walked the instances list in lockstep; they now start apart, as a new "
            "run's do")
    state["callbacks_on_environment_created"] = spread_cycles
    env_config = {k: v for k, v in (state.get("env_config") or {}).items() if k not in RUN_KEYS}
    if resumed_at:
        env_config.update({RESUMED_AT: int(resumed_at), RUN_SEED: int(config.seed)})
    state["env_config"] = env_config
    state["seed"] = rllib_seed(config.seed, resumed_at)
    return state


def rllib_seed(seed: int, resumed_at: int | None = None) -> int:
    """The seed RLlib builds a run with (its config's ``seed``, from which it seeds Python's,
    NumPy's and torch's generators in the driver, the learner and each env runner): the run's
    ``seed`` for a new run (its results unchanged) or where the checkpoint's steps are unknown
    (``resumed_at`` None or 0); for a run resumed at ``resumed_at`` env steps, a
    :data:`RLLIB_SEED_BITS`-bit seed drawn from both (:func:`~lrgym.baselines.rllib_env.resumed_seed`,
    as the runners' env seeds are), so the resumed run's action sampling and minibatch shuffles
    do not replay the run's first streams, and the same checkpoint resumed twice samples alike."""
    return resumed_seed(seed, resumed_at, RLLIB_SEED_BITS) if resumed_at else int(seed)


def checkpoint_steps(path: str | Path) -> int | None:
    """The env steps a checkpoint has sampled in its lifetime (RLlib's
    ``env_runners/num_env_steps_sampled_lifetime``, which a resumed run counts on from), read
    from its ``algorithm_state.pkl`` without building anything; None where the file or the count
    is not found (another RLlib's layout: :func:`train` then reads the built algorithm's)."""
    import pickle

    file = Path(path) / "algorithm_state.pkl"
    try:
        stats = _unpickle(file)["metrics_logger"]["stats"]
        return int(stats["env_runners--num_env_steps_sampled_lifetime"]["lifetime_sum"])
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, IndexError, KeyError,
            TypeError, ValueError):  # no such file, another layout, or a damaged file: train() reads the algorithm's
        return None


def lifetime_steps(algo) -> int | None:
    """What :func:`checkpoint_steps` reads, from a built (restored) algorithm's metrics."""
    try:
        value = algo.metrics.peek(("env_runners", "num_env_steps_sampled_lifetime"), default=None)
        return None if value is None else int(value)
    except Exception:  # noqa: BLE001 - another RLlib's metrics API: train as before
        return None


def _shown(name: str, value) -> str:
    """A setting as its flag takes it: ``--family mixed`` for the family None."""
    return "mixed" if name == "family" and value is None else str(value)


def resumed_config(config: RLlibConfig, saved: dict) -> RLlibConfig:
    """``config`` with the checkpoint's settings ``saved`` (:func:`checkpoint_settings`) in place
    of its own: the run goes on as the checkpoint's, under the checkpoint's name
    (``rllib_<algo>_<family>``: a linreg run resumed without ``--family`` wrote
    ``rllib_ppo_mixed.*`` over a mixed run's files) and with the checkpoint's settings in its
    record. A field the user set (:meth:`RLlibConfig.set_fields`) to another value than the
    checkpoint's is a :class:`ConfigError` naming both, unless it is in :data:`RESUME_MAY_DIFFER`
    (``--steps``, ``--checkpoint-every``, ``--address``, ``--out`` / ``--ship``, ``--no-progress``,
    ``--verbose``);
    the same value given again is taken.
    ``algo_kwargs`` (training keywords the checkpoint holds among all of RLlib's) cannot be told
    apart, so setting any on resume is refused, and the record has None for them."""
    given = config.set_fields()
    where = f"--resume {config.resume}"
    why = ("a resumed run goes on with the checkpoint's settings; only --steps, --checkpoint-every, --address, "
           "--out / --ship, --no-progress and --verbose may differ")
    for name, theirs in saved.items():
        if name not in given:
            continue
        mine = getattr(config, name)
        if name == "env_kwargs":
            for key, value in mine.items():
                if theirs.get(key, "its family's default") != value:
                    label = "--horizon" if key == "horizon" else f"env_kwargs[{key!r}]"
                    raise ConfigError(f"{where} holds {label} {_shown(key, theirs.get(key, 'its family default'))} but "
                                      f"{label} {_shown(key, value)} was given; valid: leave {label} out ({why})")
            continue
        if name == "family":
            same = family_key(mine) == family_key(theirs)
        elif name == "learning_rate" and mine is None:
            same = True  # the algorithm's default: nothing given
        else:
            same = mine == theirs or (isinstance(mine, (tuple, list)) and tuple(mine) == tuple(theirs))
        if not same:
            flag = FLAGS.get(name, f"{name} (a --config field)")
            raise ConfigError(f"{where} holds {flag} {_shown(name, theirs)} but {flag} {_shown(name, mine)} was "
                              f"given; valid: leave {flag} out, or {flag} {_shown(name, theirs)} ({why})")
    if config.algo_kwargs:
        raise ConfigError(f"{where}: algo_kwargs {config.algo_kwargs} were given, but the checkpoint's training "
                          f"settings hold; valid: leave algo_kwargs out ({why})")
    return replace(config, **saved)


def check_algo(config: RLlibConfig, found: str) -> None:
    """A resumed checkpoint's algorithm decides how it is exported: another ``--algo`` is refused."""
    if found != config.algo:
        raise ConfigError(f"--resume {config.resume} is a {found.upper()} checkpoint but --algo is "
                          f"{config.algo!r}; valid: --algo {found}")


def save_checkpoint(algo, path: str | Path) -> Path:
    """Write ``algo``'s checkpoint (``Algorithm.save_to_path``) to the folder ``path`` whole:
    into a new sibling folder first, then swapped in for the old one in a section no stop signal
    cuts (:func:`lrgym.baselines.interrupts.defer_stop_signals`), the old one removed after. RLlib
    writes its files one by one into the folder it is given, so a run stopped while it saved
    in place (Ctrl-C, SIGTERM, the head lost: each save is about a tenth of an iteration) left the
    last checkpoint's files mixed with the new one's, or a pickle cut short, and no whole
    checkpoint to ``--resume`` (until 2026-12-07). A save that fails or is stopped leaves the
    last checkpoint as it was, and no new folder beside it."""
    import os
    import shutil

    from lrgym.baselines.interrupts import defer_stop_signals

    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    new, old = (path.with_name(f".{path.name}.{what}-{os.getpid()}") for what in ("new", "old"))
    for left in (new, old):  # what a run killed with kill -9 in its own save left (its pid, this one's now)
        shutil.rmtree(left, ignore_errors=True)
    try:
        algo.save_to_path(str(new))
        with defer_stop_signals():  # both renames, or neither: never no checkpoint at path
            if path.exists():
                path.rename(old)
            try:
                new.rename(path)
            except BaseException:
                if old.exists():  # the last checkpoint back at its path
                    old.rename(path)
                raise
    finally:
        shutil.rmtree(new, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    return path


def interrupted_note(config: RLlibConfig, ckpt: Path, saved_steps: int | None, resumed_from: int | None) -> str:
    """What a run stopped while training (Ctrl-C, SIGTERM) says it kept: this run's last checkpoint
    and its env steps with the command that goes on from it, or that it wrote none (the ``.npz``,
    ``.py`` and ``.json`` are written when a run ends, so a stopped run writes none of them).
    Until 2026-12-07 it said ``interrupted (SIGINT)`` alone."""
    from lrgym.baselines.shell_words import shell_option

    every = f"--checkpoint-every {config.checkpoint_every} iteration{'s' * (config.checkpoint_every != 1)}"
    if saved_steps is None:
        before = (f"{config.resume} stays as it was, at {resumed_from} env steps" if config.resume and resumed_from
                  is not None else f"{config.resume} stays as it was" if config.resume
                  else f"{ckpt} is not this run's" if ckpt.exists() else "no checkpoint")
        return (f"interrupted before this run's first checkpoint ({every}): nothing written; {before}")
    words = ["python -m lrgym.baselines.train_rllib", shell_option("--resume", ckpt),
             shell_option("--steps", config.total_timesteps)]
    if config.address:
        words.append(shell_option("--address", config.address))
    if config.out:
        words.append(shell_option("--out", config.out))
    if config.ship:
        words.append("--ship")
    return (f"interrupted; kept this run's last checkpoint {ckpt} at {saved_steps} env steps ({every}; the "
            f".npz, .py and .json are written when a run ends: none now): go on with\n  {' '.join(words)}")
