"""Run policies over a suite on all cores, score every run, record one store entry per policy.

::

    specs = baseline_specs()                     # or [submission_spec("my.py:MyPolicy", "mine")]
    outcomes = run_suite(specs, "v2", store="results.sqlite")   # the default suite; opened once its place is checked

Each policy is a *group* of jobs (one job = instances of one family, with all the suite's seeds
for a trusted baseline, with one seed in the sandbox: :func:`job_layout`) on a
:class:`~lrgym.leaderboard.pool.WorkerPool`. The workers are the grader's: they build the env from
the suite's settings and the policy's allowed choices (:mod:`lrgym.leaderboard.settings`), record
the trajectories themselves and ask the policy for actions — a submission in its own sandboxed
process (:mod:`lrgym.leaderboard.sandbox`), a trusted baseline in the worker. As soon as all of a
policy's jobs are in, the trajectories are checked against the suite (one per task and seed, the
suite's length unless diverged, the references' initial loss), scored from their losses against
the references (:func:`lrgym.leaderboard.scoring.run_score`,
:func:`~lrgym.leaderboard.scoring.steps_to_target`), summarised
(:func:`~lrgym.leaderboard.scoring.aggregate`) and written as one entry in one transaction
(:meth:`~lrgym.leaderboard.store.ResultStore.add_entry_durably`: a locked database loses
nothing). A policy that fails (raises, hangs, invalid or NaN action, killed, over a limit) is
recorded as a failed entry with its reason, control characters removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from lrgym.leaderboard import scoring
from lrgym.leaderboard.job_agreement import disagreement, recorded_sandbox
from lrgym.leaderboard.limits import (MIN_MEMORY_MB, check_memory_limit, check_time_limit, machine_memory_mb,
                                     plan_workers)
from lrgym.leaderboard.pool import GroupResult, Job, default_workers
from lrgym.leaderboard.references import References, floored, load_references
from lrgym.leaderboard.settings import allowed_optimizers
from lrgym.leaderboard.trained_apart import TRAINED_APART_KEY, apart_record, settings_apart
from lrgym.leaderboard.store import EntryRecord, KeptResultError, NameTakenError, ResultStore, RunRecord, store_files
from lrgym.leaderboard.submission_files import declared_name, missing_file_error
from lrgym.leaderboard.suite import DEFAULT_SUITE, Suite, Task, get_suite
from lrgym.leaderboard.text import check_entry_name, check_owner, clean, lookalike_note, name_key

__all__ = [
    "DEFAULT_MEMORY_MB",
    "DEFAULT_TIME_LIMIT",
    "Outcome",
    "PolicySpec",
    "baseline_specs",
    "checked_submission",
    "check_zip_flags",
    "run_suite",
    "score_runs",
    "submission_spec",
    "summarize",
]

DEFAULT_TIME_LIMIT = 1800.0  # s of wall clock per submission
DEFAULT_MEMORY_MB = 4096.0  # address space per policy process
#: relative tolerance of the initial-loss check against the references (CPU kinds round differently)
L0_RTOL = 1e-9
BOOTSTRAP_REPS = 2000

#: rough relative cost of one episode per family (orders jobs: expensive first)
FAMILY_COST = {"mlp": 20.0, "linreg": 3.0, "recsys": 3.0, "quadratic": 1.0}


@dataclass(frozen=True)
class PolicySpec:
    """What to evaluate: the entry ``name``, its ``kind`` (baseline / submission), the worker's
    policy spec (see :mod:`lrgym.leaderboard.worker`) and a human-readable ``source``.
    ``trained_on``: the env settings a trained policy's files say it learned at
    (:func:`checked_submission`), or None; its entry keeps those the suite grades at other values
    (:func:`lrgym.leaderboard.trained_apart.apart_record`), which the board notes under its row."""

    name: str
    kind: str
    spec: dict
    source: str = ""
    trained_on: dict | None = None


def baseline_specs(names: list[str] | None = None, include_learned: bool = False,
                   tuned: str | Path | None = None) -> list[PolicySpec]:
    """Specs of the registered baselines (:mod:`lrgym.baselines.registry`): the hand-designed ones,
    plus the learned ones whose weights are shipped if ``include_learned``; ``names`` picks a
    subset (in that order). ``tuned``: a tuned.json of your own (a suite file's ``tuned``,
    :attr:`Suite.tuned`) the tuned hand-designed baselines take their values from instead of the
    shipped ones (a baseline it has no values for keeps the shipped ones: ``tune --baselines``
    writes some only): read here, the values travel in the spec (a worker or a Ray node needs no copy
    of the file), with the file's SHA-256 as the inputs the entry records. A learned baseline's
    :attr:`PolicySpec.trained_on` is what its shipped mixed-family weights record
    (:func:`lrgym.baselines.registry.trained_on`): graded on a suite of other settings (``quick``:
    horizon 12, inner steps 5) its entry is noted on the board as a submission's is."""
    from lrgym.baselines import registry

    known = list(registry.BASELINES)
    if names is None:
        names = [n for n in known if not registry.is_learned(n)
                 or (include_learned and _has_weights(registry, n))]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; valid choices: {', '.join(known)}")
    data, digest = registry.read_tuned_file_with_digest(tuned) if tuned is not None else (None, None)
    specs = []
    for n in names:
        spec = {"kind": "baseline", "name": n}
        if data is not None and n in data["values"]:  # (only tuned hand-designed ones: read_tuned_file)
            spec.update(tuned=data["values"][n], inputs={registry.tuned_key(tuned): digest})
        # a learned one's weights record what it trained at: its entry notes a suite's settings apart, as a
        # submission's does (hand-designed ones: None)
        specs.append(PolicySpec(n, "baseline", spec, f"lrgym.baselines.registry:{n}",
                                trained_on=registry.trained_on(n)))
    return specs


def _has_weights(registry, name: str) -> bool:
    """Whether a learned baseline's weights are shipped (its mixed-family file, or a family's)."""
    return any(registry.weights_path(name, None, suffix).exists() for suffix in (".npz", ".zip"))


def submission_spec(
    target: str,
    name: str | None = None,
    algo: str | None = None,
    optimizer: str | None = None,
    env_options: dict | None = None,
) -> PolicySpec:
    """A submission: ``path/to/file.py:Name``, ``package.module:Name`` or an SB3 ``.zip``.

    Nothing is imported here: the policy is loaded only inside its sandbox. ``name`` None names
    the entry after the policy: the class's ``name`` attribute as its source declares it
    (:func:`~lrgym.leaderboard.submission_files.declared_name`, read without running it), else the
    class's name (a zip: the file's stem), as ``lrgym leaderboard submit`` without ``--name`` does.
    The name must be a valid entry name (:func:`lrgym.leaderboard.text.check_entry_name`) and not
    a baseline's.
    ``algo``, ``optimizer`` and ``env_options`` (the policy's choices) are for SB3 zips, checked
    here, before anything runs or is stored; a policy class declares its choices itself.
    """
    if target.endswith(".zip"):
        if not Path(target).is_file():
            raise missing_file_error(Path(target), "SB3 model")
        algo, options = _zip_choices(algo, optimizer, env_options)
        path = str(Path(target).absolute())  # not resolved: the worker refuses a symbolic link
        # only an optimizer the submitter named: none keeps the policy's own (its sidecar's, else sgd)
        spec = {"kind": "sb3", "path": path, "algo": algo, "optimizer": optimizer,
                "env_options": env_options or {}, "name": name}
        default_name = Path(target).stem
    else:
        given = [flag for flag, value in (("--algo", algo), ("--optimizer", optimizer), ("--env-options", env_options))
                 if value is not None]
        if given:
            raise ValueError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to SB3 .zip models only; a policy class declares its choices "
                             "as class attributes (optimizer = 'adam', action_mode, lr_init, factors, "
                             "rejection_threshold)")
        if ":" not in target:
            weights = ""
            if target.endswith(".npz"):  # what train_controller and train_rllib write: their .py is the submission
                from lrgym.baselines import controller, mlp_policy

                py = Path(target).with_suffix(".py")
                weights = (f"; trained weights (.npz) are graded through the submission file their trainer writes "
                           f"beside them: {py}:{controller.SUBMISSION_CLASS} (train_controller), "
                           f"{py}:{mlp_policy.SUBMISSION_CLASS} (train_rllib)")
            raise ValueError(f"submission {target!r}: expected path/to/policy.py:ClassName, module:ClassName or "
                             f"model.zip{weights}")
        where, _, attr = target.rpartition(":")
        _check_target_names(target, where, attr)
        if where.endswith(".py") or "/" in where or os.sep in where:
            path = Path(where)
            if not path.is_file():
                raise missing_file_error(path, "policy file")
            if path.suffix != ".py":  # the worker refuses it too, but only after a failed entry is made
                raise ValueError(f"policy file {where} is not a Python file; valid: path/to/file.py:Name "
                                 "(or an SB3 model .zip)")
            target = f"{path.absolute()}:{attr}"  # not resolved: the worker refuses a symbolic link
        elif os.path.isdir(where) and not _installed(where):
            raise ValueError(f"{where} is a folder, not a policy file, and no installed module; valid: "
                             f"{_files_inside(where, attr)}, package.module:{attr} of an installed package, "
                             "or model.zip")
        spec = {"kind": "object", "target": target}
        default_name = declared_name(target) or attr  # what the policy calls itself, else its class
    name = check_entry_name(default_name if name is None else name)  # an empty name is refused, not replaced
    reserved = {name_key(n): n for n in _baseline_names()}
    if name_key(name) in reserved:
        baseline = reserved[name_key(name)]
        raise ValueError(f"entry name {name!r} is reserved for the baseline {baseline!r}"
                         f"{lookalike_note(name, baseline)}; choose another name (--name)")
    return PolicySpec(name, "submission", spec, target)


def _files_inside(folder: str, attr: str, most: int = 5) -> str:
    """The targets a folder given as a submission could have meant: its ``.py`` files (the first
    ``most`` by name; regular files only, as the sandbox reads no link; names of plain characters
    only, as they are printed), else the usual form."""
    names = sorted(p.name for p in Path(folder).glob("*.py")
                   if p.name[:-3].isidentifier() and p.name.isascii() and p.is_file() and not p.is_symlink())
    if not names:
        return f"{folder}/policy.py:{attr} (a policy file inside it)"
    more = f" (or another of its {len(names)} .py files)" if len(names) > most else ""
    return " or ".join(f"{folder}/{n}:{attr}" for n in names[:most]) + f" (a policy file inside it){more}"


def _check_target_names(target: str, where: str, attr: str) -> None:
    """``ValueError`` naming the bad part of ``path/to/file.py:ClassName`` / ``module:ClassName``
    that can be judged without running anything: a missing class or module, a class name that is
    no Python identifier or dotted path of them (``Outer.Inner``, a nested class, is taken), a
    module name that is no dotted one. Whether the class exists is known only by importing the code, in the sandbox."""
    import keyword

    def identifiers(dotted: str) -> bool:
        return all(part.isidentifier() and not keyword.iskeyword(part) for part in dotted.split("."))

    forms = "path/to/policy.py:ClassName, package.module:ClassName or model.zip"
    if not attr:
        raise ValueError(f"submission {target!r} names no class after the ':'; valid: {forms}")
    if not where:
        raise ValueError(f"submission {target!r} names no policy file or module before the ':'; valid: {forms}")
    if not identifiers(attr):
        raise ValueError(f"class name {attr!r} of submission {target!r} is not a Python identifier; valid: letters, "
                         "digits and _, not starting with a digit (Outer.Inner for a nested class), as in "
                         f"{forms}")
    path_like = where.endswith(".py") or "/" in where or os.sep in where
    if not path_like and not identifiers(where):
        raise ValueError(f"{where!r} in submission {target!r} is neither a policy file (path/to/policy.py) nor a "
                         f"module name (package.module); valid: {forms}")


def _installed(module: str) -> bool:
    """Whether the top package of ``module`` is on a worker's import path (this process's
    ``sys.path`` without the grader's folder, :func:`lrgym.leaderboard.import_paths.import_paths`):
    found, not imported — nothing of it runs here."""
    import importlib.machinery
    import sys

    from lrgym.leaderboard.import_paths import import_paths

    top = module.split(".")[0]
    if top in sys.builtin_module_names:
        return True
    try:
        return importlib.machinery.PathFinder.find_spec(top, import_paths()) is not None
    except (ImportError, ValueError, OSError):
        return False


def checked_submission(spec: PolicySpec, suite: Suite | None = None) -> tuple[PolicySpec, list[str]]:
    """Read a submission's files as the worker will (:mod:`lrgym.leaderboard.submission_files`:
    no symbolic link at any level, regular files only, 64 MB in all), before anything runs, so
    that ``submit`` refuses them with the reason instead of recording a failed entry after a
    sandbox start. ``ValueError`` with the reader's message; nothing read is run. A module
    target reads no file here. Returns notes for the submitter: a ``<stem>.json`` beside a zip
    that is no sidecar, ignored; and, given the ``suite`` it is graded on, a policy trained at
    other settings than the suite's (:func:`~lrgym.leaderboard.trained_apart.trained_apart_note`:
    the ``trained_on`` of a train_sb3 sidecar, or the ``TRAINED_ON`` line of a policy file
    train_rllib, rllib_export or train_controller wrote), and the values of that record the env
    refuses, left out of the comparison
    (:func:`~lrgym.leaderboard.trained_apart.unread_settings_note`). Returns
    ``spec`` with that ``trained_on`` (:attr:`PolicySpec.trained_on`: its entry keeps the settings
    apart, for the board to say) and the notes."""
    from lrgym.baselines.sb3_agents import parse_sidecar
    from lrgym.leaderboard.failures import PolicyError
    from lrgym.leaderboard.trained_apart import trained_apart_note, unread_settings_note
    from lrgym.leaderboard.submission_files import declared_trained_on, read_policy_files, read_sb3_files

    notes: list[str] = []
    trained_on = what = None
    try:
        if spec.spec.get("kind") == "sb3":
            path = Path(spec.spec["path"])
            files = read_sb3_files(path, notes)
            check_zip_flags(spec.spec, files, path.name)
            sidecar = files.get(path.with_suffix(".json").name)
            trained_on = (parse_sidecar(sidecar) or {}).get("trained_on") if sidecar is not None else None
            what = f"{path.name} (its sidecar's trained_on)"
        elif spec.spec.get("kind") == "object":
            where = spec.spec["target"].rpartition(":")[0]
            if where.endswith(".py") or "/" in where or os.sep in where:
                files = read_policy_files(Path(where))
                trained_on = declared_trained_on(files[Path(where).name])
                what = f"{Path(where).name} (its TRAINED_ON)"
    except PolicyError as exc:
        raise ValueError(f"{exc} (refused before anything ran)") from None
    if suite is not None and trained_on is not None:
        notes += [note for note in (unread_settings_note(what, trained_on, suite),
                                    trained_apart_note(what, trained_on, suite)) if note]
    if isinstance(trained_on, dict):
        spec = dataclasses.replace(spec, trained_on=trained_on)
    return spec, notes


def check_zip_flags(spec: dict, files: dict[str, bytes], name: str) -> None:
    """``ValueError`` when an SB3 zip's ``--algo``, ``--optimizer`` or ``--env-options``
    contradict what its files say, naming the flag, the value, what the file says and the valid
    choices: the train_sb3 sidecar's algorithm and env options (``files`` holds the sidecar only
    when it is one, :func:`~lrgym.leaderboard.submission_files.read_sb3_files`; a bad one is
    refused too), else the algorithm and the action space's kind the zip's ``data`` JSON names
    (:func:`~lrgym.baselines.sb3_agents.zip_data`). Only JSON is parsed, and only its plain
    strings read: nothing of the submission is unpickled, imported or run here. What the zip
    does not say readably is left to the sandbox. A matching value changes nothing."""
    import io
    from lrgym.brief import brief

    from lrgym.baselines.sb3_agents import (ACTION_MODES, ALGOS, SB3_ALGOS, action_mode_of_data, algo_of_data,
                                            discrete_actions_of_data, observation_shape_of_data, parse_sidecar,
                                            same_algo, sidecar_choices, zip_data)
    from lrgym.features import N_FEATURES
    from lrgym.leaderboard.settings import ACTION_MODES as MODES, SettingsError, check_choices
    from lrgym.settings import DEFAULT_FACTORS

    def readable_data() -> dict | None:
        try:
            return zip_data(io.BytesIO(files[name]))
        except ValueError:
            return None  # nothing readable: the sandbox loads it and says why it cannot

    def check_factor_count(data: dict | None, factors, source: str) -> None:
        """A Discrete(n) model picks one of n factors: another count fails every episode with an
        invalid action in the sandbox (a review, 2026-12-05)."""
        n = None if data is None else discrete_actions_of_data(data)
        if n is None or factors is None and n == len(DEFAULT_FACTORS):
            return
        count = len(DEFAULT_FACTORS) if factors is None else len(factors)
        if count != n:
            said = f"the env's {count} default factors {DEFAULT_FACTORS}" if factors is None else f"{count} factors"
            raise ValueError(f"{name}'s model picks one of {n} actions (a Discrete({n}) action space, read from the "
                             f"zip) but {source} gives {said}; valid: --env-options '{{\"factors\": [...]}}' of {n} "
                             "numbers, the factors it was trained with")

    def check_observation_shape(data: dict | None) -> None:
        """The grader feeds the env's observation, N_FEATURES floats: a model of another shape (another
        env's, or one trained under VecFrameStack) failed every episode in the sandbox with SB3's
        "Unexpected observation shape" (CartPole's Discrete(2) was refused as a factor count)."""
        shape = None if data is None else observation_shape_of_data(data)
        if shape is not None and shape != (N_FEATURES,):
            raise ValueError(f"{name}'s model observes shape {shape} (its observation space, read from the zip) but "
                             f"the grader feeds every policy the env's observation, shape ({N_FEATURES},) (the "
                             f"features of lrgym.features.FEATURE_NAMES); valid: a model trained on an lrgym env's "
                             "observation (one trained under VecFrameStack: submit a policy class that stacks, "
                             "README 'Submitting a policy')")

    algo = spec.get("algo")
    options = dict(spec.get("env_options") or {})
    given = {**options, **({"optimizer": spec["optimizer"]} if spec.get("optimizer") else {})}
    sidecar_name = str(Path(name).with_suffix(".json"))
    meta = parse_sidecar(files[sidecar_name]) if sidecar_name in files else None
    if meta is not None:
        found = str(meta.get("algo")).lower()
        where = f"{sidecar_name}, the train_sb3 sidecar of {name},"
        if found not in ALGOS:
            raise ValueError(f"{sidecar_name}, the train_sb3 sidecar of {name}, names algo "
                             f"{brief(meta.get('algo'))}; valid: one of {', '.join(ALGOS)} (train_sb3 writes it)")
        if algo is not None and algo.lower() != found:
            raise ValueError(f"--algo {algo!r} contradicts {where} which says {found!r}; valid: --algo {found} or no "
                             "--algo (the sidecar names it)")
        try:
            trained = check_choices({"optimizer": "sgd", "action_mode": ACTION_MODES[found], **sidecar_choices(meta)})
        except (SettingsError, ValueError) as exc:
            raise ValueError(f"{sidecar_name}, the train_sb3 sidecar of {name}: {exc}") from None
        if trained["action_mode"] != ACTION_MODES[found]:  # the sandbox's SB3Policy would refuse it: a failed entry
            raise ValueError(f"{where} says action_mode={trained['action_mode']!r} for a {found.upper()} agent, which "
                             f"acts in action_mode {ACTION_MODES[found]!r}; valid: a sidecar train_sb3 wrote")
        try:
            asked = check_choices(given)  # (checked on its own by _zip_choices already)
        except SettingsError:
            return
        for key in given:
            if key in trained and asked.get(key) != trained[key]:
                flag = "--optimizer" if key == "optimizer" and spec.get("optimizer") else "--env-options"
                raise ValueError(f"{flag} {key}={brief(given[key])} contradicts {where} which says the agent "
                                 f"was trained with {key}={trained[key]!r}; valid: {key}={trained[key]!r} or leave it out (the "
                                 "sidecar's env options are graded; to grade another, train with it)")
        data = readable_data()
        in_zip = None if data is None else algo_of_data(data)
        if in_zip is not None and not same_algo(found, in_zip):
            raise ValueError(f"{where} says {found!r} but {name} was saved by {in_zip.upper()} (its policy class, read "
                             "from the zip); valid: the sidecar train_sb3 wrote beside that zip")
        check_observation_shape(data)
        flagged = options.get("factors") if isinstance(options.get("factors"), (list, tuple)) else None
        if "factors" in trained:
            check_factor_count(data, trained["factors"], where.rstrip(","))
        else:  # the sidecar records none (the env's default): the flag's, if given, are graded
            check_factor_count(data, flagged, "--env-options" if flagged is not None else where.rstrip(","))
        return
    data = readable_data()
    if data is None:
        return
    found = algo_of_data(data)
    if algo is not None and found is not None and not same_algo(algo, found):
        raise ValueError(f"--algo {algo!r} contradicts {name}, which was saved by {found.upper()} (its policy class, "
                         f"read from the zip); valid: --algo {found} or no --algo (read from the zip); choices: "
                         f"{', '.join(SB3_ALGOS)}")
    check_observation_shape(data)
    mode = action_mode_of_data(data)
    if "action_mode" in options and mode is not None and options["action_mode"] != mode:
        space = "Discrete" if mode == "discrete" else "Box"
        raise ValueError(f"--env-options action_mode={options['action_mode']!r} contradicts {name}, whose model has a "
                         f"{space} action space and acts in action_mode {mode!r}; valid: {mode!r} or leave "
                         f"action_mode out (the zip's action space decides); choices: {', '.join(MODES)}")
    factors = options.get("factors")
    check_factor_count(data, factors if isinstance(factors, (list, tuple)) else None, "--env-options")


def _zip_choices(algo: str | None, optimizer: str | None, env_options: dict | None) -> tuple[str | None, dict]:
    """(``algo`` lowercased, the checked choices) of an SB3 zip submission; ``ValueError``
    naming the bad value and the valid ones (the sandbox checks them again against the suite)."""
    from lrgym.baselines.sb3_agents import SB3_ALGOS
    from lrgym.leaderboard.settings import SettingsError, check_choices

    if algo is not None and algo.lower() not in SB3_ALGOS:
        raise ValueError(f"--algo {algo!r} unknown; valid choices: {', '.join(SB3_ALGOS)} (or leave it out: "
                         "the algorithm is read from the zip)")
    try:
        choices = check_choices({} if env_options is None else env_options)  # its type, keys and values
        if optimizer is not None:  # one optimizer, named once or twice
            check_choices({"optimizer": optimizer})
            if "optimizer" in (env_options or {}) and choices["optimizer"] != optimizer:
                raise ValueError(f"--optimizer {optimizer!r} and --env-options' optimizer {choices['optimizer']!r} "
                                 "differ; valid: one of them")
            choices = check_choices({**(env_options or {}), "optimizer": optimizer})
    except SettingsError as exc:
        raise ValueError(str(exc)) from None
    return (algo.lower() if algo else None), choices


def _baseline_names() -> list[str]:
    from lrgym.baselines import registry

    return list(registry.BASELINES)


@dataclass
class Outcome:
    """What happened to one policy: its stored entry (with id if a store was given)."""

    spec: PolicySpec
    entry: EntryRecord
    runs: list[RunRecord] = field(default_factory=list)
    elapsed: float = 0.0
    #: the side file keeping the result when it ran but could not be stored because another
    #: owner took its name meanwhile (``ResultStore.import_kept`` stores it under another name),
    #: and what the submitter is told about it; None when stored (or no store was given)
    kept: Path | None = None
    kept_message: str | None = None

    @property
    def ok(self) -> bool:
        return self.entry.status == "ok"


# ---- scoring ----------------------------------------------------------------------------------


def score_runs(trajectories: list[dict], refs: References) -> list[RunRecord]:
    """Score plain-dict trajectories (``Trajectory.to_dict()``) against the references.

    S = :func:`lrgym.baselines.score.score` (the one score function: LT and L_ref raised to the
    precision floor, clipped to [−1, 2], −1 on divergence). Steps to target: first step with a
    training loss ≤ L_ref (floored likewise).
    """
    runs = []
    for tr in trajectories:
        task = Task(tr["family"], int(tr["instance"]))
        seed = int(tr["seed"])
        l0 = tr["train_losses"][0]
        l_ref = float(floored(refs.final_loss(task, seed), l0))
        diverged = bool(tr["diverged"])
        lt = math.inf if diverged else tr["train_losses"][-1]
        score = float(scoring.score(l0, lt, refs.final_loss(task, seed), diverged))
        stt = float(scoring.steps_to_target(np.asarray(tr["train_losses"][1:], dtype=float), l_ref)) \
            if len(tr["train_losses"]) > 1 else math.inf
        runs.append(RunRecord(
            family=task.family, instance=task.instance, seed=seed, score=score,
            final_loss=lt, initial_loss=l0, diverged=diverged, steps_to_target=stt,
            curves={"lr": tr["lrs"], "train_loss": tr["train_losses"], "val_loss": tr["val_losses"],
                    "metric": tr["val_metrics"]},
        ))
    return runs


def score_matrix(runs: list[RunRecord], suite: Suite, field_name: str = "score") -> np.ndarray:
    """``(n_seeds, n_tasks)`` matrix of a run field, columns in ``suite.tasks()`` order."""
    index = {(r.family, r.instance, r.seed): getattr(r, field_name) for r in runs}
    tasks = suite.tasks()
    return np.array([[index[(t.family, t.instance, s)] for t in tasks] for s in suite.seeds], dtype=float)


def _interval(iv) -> list[float]:
    return [float(iv[0]), float(iv[1]), float(iv[2])]


def _new_instances_interval(scores: np.ndarray, labels: list[str], statistic, reps: int) -> list[float]:
    """The ranking statistic's CI over new instances of the suite's families — undefined (bounds
    None) when a family has a single instance: resampling it says nothing about other instances."""
    if min(labels.count(f) for f in set(labels)) < 2:
        return [float(statistic(scores)), None, None]
    return _interval(scoring.instance_bootstrap_ci(scores, labels, statistic, reps=reps, seed=0, vectorized=True))


def summarize(runs: list[RunRecord], suite: Suite, reps: int = BOOTSTRAP_REPS) -> dict:
    """Aggregates of one entry that do not depend on other entries (stored with it)."""
    scores = score_matrix(runs, suite)
    agg = scoring.aggregate(scores, reps=reps, seed=0)
    tasks = suite.tasks()
    labels = [t.family for t in tasks]

    def ranked(s):
        return scoring.family_iqm(s, labels)

    families = {}
    diverged = score_matrix(runs, suite, "diverged")
    for f in suite.family_names:
        cols = [i for i, t in enumerate(tasks) if t.family == f]
        # the family's IQM (its share of the ranking statistic) hides up to a quarter of its
        # failed runs: the mean and the divergence rate next to it show them
        families[f] = {
            "iqm": _interval(scoring.stratified_bootstrap_ci(scores[:, cols], scoring.iqm, reps=reps, seed=0)),
            "mean": float(scoring.mean(scores[:, cols])),
            "diverged_fraction": float(np.mean(diverged[:, cols])),
        }
    steps = score_matrix(runs, suite, "steps_to_target")
    return {
        # the ranking statistic, with its CI on the suite's instances (seeds resampled) and on
        # new instances of the same families (instances, then seeds, resampled)
        "family_iqm": _interval(scoring.stratified_bootstrap_ci(scores, ranked, reps=reps, seed=0, vectorized=True)),
        "family_iqm_instances": _new_instances_interval(scores, labels, ranked, reps),
        "iqm": _interval(agg["iqm"]),
        "mean": _interval(agg["mean"]),
        "median": _interval(agg["median"]),
        "optimality_gap": _interval(agg["optimality_gap"]),
        "families": families,
        "diverged_fraction": float(np.mean([r.diverged for r in runs])),
        "reached_fraction": float(np.mean(np.isfinite(steps))),
        "n_runs": len(runs),
        "bootstrap_reps": reps,
    }


# ---- metadata ---------------------------------------------------------------------------------


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Python's, lrgym's and its core packages' versions, plus those of the ``extra`` packages
    installed (pip names, e.g. :func:`policy_packages`)."""
    from importlib import metadata

    import lrgym

    out = {"python": platform.python_version(), "lrgym": lrgym.__version__}
    for pkg in ("numpy", "numba", "gymnasium", *extra):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def policy_packages(spec: dict) -> tuple[str, ...]:
    """The packages beyond lrgym's own a policy spec runs on, whose versions its entry records: an
    SB3 zip's and an SB3 baseline's torch and stable-baselines3
    (:func:`lrgym.baselines.registry.baseline_packages`). A policy class's imports are not known
    before it runs: none."""
    from lrgym.baselines.registry import baseline_packages
    from lrgym.baselines.sb3_agents import SB3_PACKAGES

    if spec.get("kind") == "sb3":
        return SB3_PACKAGES
    if spec.get("kind") == "baseline":
        return baseline_packages(spec["name"])
    return ()


def cpu_description() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model} ({os.cpu_count()} logical cores)"


def _horizon(suite: Suite, family: str) -> int:
    from lrgym.tasks import make_family

    kwargs = suite.env_kwargs(family)
    if kwargs.get("horizon") is not None:
        return int(kwargs["horizon"])
    return int(make_family(family, **dict(kwargs.get("family_options") or {})).default_horizon)


def _validate(trajectories, task: Task, seeds, suite: Suite, refs: References) -> str | None:
    """Why the trajectories of a task do not fit the suite, or None: one per seed, the task and
    seed asked for, the suite's horizon (fewer steps only after a divergence), numeric curves of
    consistent lengths, and the references' initial loss for that instance and seed."""
    horizon = _horizon(suite, task.family)
    if not isinstance(trajectories, list) or len(trajectories) != len(seeds):
        return "malformed reply: wrong number of trajectories"
    for tr, seed in zip(trajectories, seeds):
        try:
            if (tr["family"], int(tr["instance"]), int(tr["seed"])) != (task.family, task.instance, seed):
                return f"malformed reply: trajectory for the wrong task/seed ({task.label}, seed {seed})"
            n = len(tr["lrs"])
            if any(len(tr[k]) != n + 1 for k in ("train_losses", "val_losses", "val_metrics")):
                return "malformed reply: inconsistent curve lengths"
            if not (n == horizon or (1 <= n < horizon and tr["diverged"] is True)):
                return f"run length {n} on {task.label} seed {seed} does not match the suite's horizon {horizon}"
            for k in ("lrs", "train_losses", "val_losses", "val_metrics"):
                if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in tr[k]):
                    return "malformed reply: non-numeric curve"
            l0, want = float(tr["train_losses"][0]), float(refs.initial_loss(task, seed))
            if not (l0 == want or math.isclose(l0, want, rel_tol=L0_RTOL)):
                return (f"initial loss {l0!r} on {task.label} seed {seed} differs from the references' {want!r}: "
                        "the episode was not the suite's")
        except (KeyError, TypeError, ValueError, IndexError):
            return "malformed reply: missing fields"
    return None


# ---- running ----------------------------------------------------------------------------------


def run_suite(
    specs: list[PolicySpec],
    suite: Suite | str = DEFAULT_SUITE,
    *,
    store: ResultStore | str | os.PathLike | None = None,
    references: References | None = None,
    n_workers: int | None = None,
    time_limit: float | None = None,
    memory_mb: float | None = None,
    isolate: bool | None = None,
    owner: str | None = None,
    sandbox_baselines: bool = False,
    store_patience: float = 600.0,
    on_progress: Callable[[int, int], None] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    log: Callable[[str], None] | None = None,
    quiet_workers: bool = True,
    backend=None,
    grader_files: Sequence[str | os.PathLike] = (),
) -> list[Outcome]:
    """Evaluate every spec on ``suite``; record each as soon as it is done (if ``store``).

    Submissions run sandboxed (``sandbox_baselines``: the baselines too, as in the speed
    measurement of the isolation). ``time_limit`` (seconds of wall clock per policy, also its
    CPU-time limit) and ``memory_mb`` (per policy process) default to
    :data:`DEFAULT_TIME_LIMIT` / :data:`DEFAULT_MEMORY_MB` and are checked
    (:mod:`lrgym.leaderboard.limits`); ``isolate`` (never share a worker between policies)
    defaults to true when any spec is a submission. ``owner`` owns the submissions' names
    (default: the user running the grader). ``store_patience``: how long a locked database is
    waited for before the entry is left in the store's side file. ``backend``
    (:mod:`lrgym.baselines.backend`: ``"local"``, the default, or ``"ray"``) runs the jobs
    (:func:`lrgym.leaderboard.backends.grader_pool`); the results are the same. ``grader_files``:
    the grader's own files besides the store (a private suite's key file and references folder),
    which no policy may read: every sandbox covers them, the store's files and the commands' output
    folder (:func:`lrgym.baselines.outputs.runs_dir`: exports of a private board name its hidden
    instances) where its bound folders show them (:func:`lrgym.leaderboard.host_start.masked_dirs`).
    ``store``: an open :class:`~lrgym.leaderboard.store.ResultStore`, or its path: opened here
    (and closed on return) only once its place is accepted, so a refused run makes no file. The
    places a run with sandboxes would show to its policies are refused with a ``ValueError``
    before anything is opened, written or run (:func:`check_places`: a store the sandboxes could
    cover only file by file, a working directory they cannot cover).
    """
    suite = get_suite(suite)
    names = [s.name for s in specs]
    if len({name_key(n) for n in names}) != len(names):
        raise ValueError(f"duplicate entry names in {names}")
    check_places(specs, store, sandbox_baselines=sandbox_baselines)  # before the store is opened or written
    untrusted = any(s.kind != "baseline" for s in specs)
    time_limit = check_time_limit(DEFAULT_TIME_LIMIT if time_limit is None and untrusted else time_limit) \
        if (time_limit is not None or untrusted) else None
    if memory_mb is None:  # the default, on a machine with less memory: what it has
        memory_mb = min(DEFAULT_MEMORY_MB, max(MIN_MEMORY_MB, machine_memory_mb() // 2))
    memory_mb = check_memory_limit(memory_mb)
    if isolate is None:
        isolate = untrusted
    owner = owner if owner is not None else _current_user()
    if untrusted:  # the submissions' names are owned (baselines own none: their runs need no valid user name)
        owner = check_owner(owner)
    from lrgym.baselines.backend import get_backend
    from lrgym.leaderboard.backends import grader_pool

    backend = get_backend(backend)
    if untrusted or sandbox_baselines:
        from lrgym.leaderboard.private import is_private

        _check_sandbox(backend, log, private=is_private(suite) and untrusted)
    with contextlib.ExitStack() as opened:
        if isinstance(store, (str, os.PathLike)):  # a path: opened now that its place is accepted, closed on return
            store = opened.enter_context(ResultStore(store))
        if store is not None:
            store.flush_pending(log=log)
            for s in specs:  # before anything runs; the write re-checks it (another grader may claim it meanwhile)
                taken = s.kind == "submission" and store.name_available(s.name, suite.version, owner)
                if taken:
                    raise NameTakenError(taken)
        refs = references if references is not None else load_references(suite, n_workers=n_workers, log=log,
                                                                          backend=backend)
        # the memory cap is this machine's: on Ray each node's sandboxes keep their own limits
        workers, note = plan_workers(n_workers, len(specs) * len(suite.tasks()),
                                     memory_mb if (untrusted or sandbox_baselines) and not backend.is_ray else None,
                                     backend.default_workers() if backend.is_ray else default_workers())
        layouts = _layouts(specs, suite, workers, sandbox_baselines)
        jobs = _jobs(specs, suite, memory_mb, time_limit, sandbox_baselines, layouts)
        workers = min(workers, len(jobs))
        if note and log is not None:
            log(f"{workers} worker(s): {note}")
        context = _Context(suite, refs, package_versions(), cpu_description(), owner)
        recorder = _Recorder(specs, context, store, len(jobs), layouts, store_patience, on_progress, on_outcome, log)
        # the store's files and $LRGYM_STORE's, the commands' output folder (a private board's exports)
        # and the given grader files: covered in every sandbox whose bound folders show them
        from lrgym.baselines.outputs import runs_dir

        stores = [*(store.grader_files() if store is not None else ()), *(f for s in _named_store() for f in store_files(s))]
        files = [*stores, str(runs_dir()), *map(os.fspath, grader_files)]
        pool = grader_pool(backend, workers, time_limit=time_limit, isolate_groups=isolate, quiet=quiet_workers,
                           grader_files=files)
        pool.run(jobs, on_reply=recorder.on_reply, on_group_done=recorder.on_group_done)
        order = {n: i for i, n in enumerate(names)}
        return sorted(recorder.outcomes, key=lambda o: order[o.spec.name])


def check_places(specs: Sequence[PolicySpec], store: ResultStore | str | os.PathLike | None, *,
                 sandbox_baselines: bool = False) -> None:
    """Refuse the grader's places that a run of ``specs`` would show to its sandboxed policies,
    before a store is opened or anything runs (``ValueError``, naming the place and what to do;
    :mod:`lrgym.leaderboard.grader_places`); nothing is checked when no policy runs sandboxed
    (only trusted baselines, without ``sandbox_baselines``). Refused: a store (an open one, or
    the path :func:`run_suite` or the CLI is about to open) whose journals the sandboxes could
    cover only file by file (:func:`~lrgym.leaderboard.grader_places.check_store_place`: one
    lying directly in the venv's own folder or in ``/etc``; the run's and ``$LRGYM_STORE``'s),
    and a working directory or ``$LRGYM_HIDDEN_DIRS`` folder that is itself bound into every
    sandbox, so none covers it, or that is (or lies in) a folder the policy imports its modules
    from (:func:`~lrgym.leaderboard.grader_places.check_hidden_dirs`: the grader run from its
    venv's folder or from its site-packages). ``run_suite`` and the commands that grade submissions call it before opening their
    store: a refused call leaves nothing behind."""
    if not (sandbox_baselines or any(s.kind != "baseline" for s in specs)):
        return
    from lrgym.leaderboard.grader_places import check_hidden_dirs, check_store_place

    check_hidden_dirs()
    if store is not None:
        check_store_place(store.path if isinstance(store, ResultStore) else store)
    for named in _named_store():
        check_store_place(named)


def _named_store() -> list[str]:
    """``$LRGYM_STORE``'s path if set: a results store this grader knows of besides the run's
    (another one when ``--db`` or ``store=`` names a different one), which every sandbox covers
    too (:func:`run_suite`'s grader files) and :func:`check_places` refuses where it could cover
    it only file by file. Until 2026-12-07 it was not covered in a run writing to another store,
    and the policies of the user-namespace sandbox read it."""
    named = os.environ.get("LRGYM_STORE")
    return [named] if named else []


def _check_sandbox(backend, log: Callable[[str], None] | None, private: bool = False) -> None:
    """The grader's sandbox, before anything runs. A bad ``$LRGYM_SANDBOX``, ``require`` where
    this machine cannot confine a policy, or a ``private`` suite's submissions where they would run
    without namespaces (:func:`~lrgym.leaderboard.sandbox.private_refusal`), is the grader's error
    (``ValueError``: nothing runs or is stored), not a failure of each submission; the weak mode
    without namespaces is said through ``log`` (it is also stored with every entry). On Ray each
    node probes its own sandbox: only the setting is checked here."""
    from lrgym.leaderboard import sandbox

    sandbox.setting()
    try:
        refusal = sandbox.private_refusal(here=not backend.is_ray) if private else None
        confined = None if backend.is_ray else sandbox.mode()
    except sandbox.SandboxError as exc:
        raise ValueError(str(exc)) from None
    if refusal:
        raise ValueError(refusal)
    if confined is not None and confined["kind"] == "none" and log is not None:
        log(f"warning: {confined['note']}")


def _current_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no passwd entry
        return f"uid{os.getuid()}"


#: one job of a run: the tasks (instances of one family) and the seeds it runs, in lockstep
JobUnit = tuple[list[Task], tuple[int, ...]]


def job_layout(suite: Suite, workers: int = 2, seeds_apart: bool = False) -> list[JobUnit]:
    """The (tasks, seeds) of each job, expensive jobs first (better packing of the pool).

    A job runs all its (instance, seed) episodes in lockstep, one message to the policy per step
    for all of them, so fewer, larger jobs mean fewer messages; but the pool needs enough jobs
    to keep ``workers`` busy. Each family's instances are cut into jobs that cost at most
    ``max(one instance, the whole suite / (2 × workers))``: on 2 workers v1 makes 7 jobs of all
    seeds (mlp in pairs, every other family whole) instead of 32.

    ``seeds_apart`` (every sandboxed policy): each job runs **one seed**, so the episodes that
    run at the same time in one sandbox are of different instances. The episodes of a job can
    reach each other while they run (they share the sandbox's uid and ``/tmp``, and each knows
    its place in the job), and the seeds of one instance were a job's neighbours: a policy could
    run them as a population, each trying another LR and all following the best, and so beat
    any honest policy on the suite's own instances. Jobs of one seed hold up to 5 × the
    instances (v2 on 2 workers: 20 jobs of 8 – 16 episodes instead of 6 of 10 – 80).

    Two jobs of such an entry on one instance (its seeds) never run at the same time (sandboxes
    running at once reach each other through the kernel: :attr:`lrgym.leaderboard.scheduling.Job.apart`),
    so with ``seeds_apart`` a family's instances are also cut into at least ``workers`` jobs per
    seed (as far as it has instances): a family of one job per seed (v2's mlp on 2 workers) ran
    its seeds one after another, v2's wall clock +28 % on 2 workers and 2.2× on 4 (a scheduling
    model of the job costs); cut so, v2 on 2 workers makes 40 jobs of 4 – 8 episodes.
    """
    import math

    seed_sets = [(s,) for s in suite.seeds] if seeds_apart else [tuple(suite.seeds)]
    cap = max(1.0, sum(FAMILY_COST.get(t.family, 3.0) for t in suite.tasks()) / (2 * max(1, workers)))
    units: list[JobUnit] = []
    for seeds in seed_sets:
        for fs in suite.families:
            cost = FAMILY_COST.get(fs.family, 3.0) * len(seeds) / len(suite.seeds)
            size = max(1, int(cap // cost))
            if seeds_apart:  # so that each worker can run a part of the family's seed beside the others
                size = max(1, min(size, math.ceil(len(fs.instances) / max(1, workers))))
            tasks = [Task(fs.family, k) for k in fs.instances]
            units += [(tasks[i:i + size], seeds) for i in range(0, len(tasks), size)]
    return sorted(units, key=lambda u: -_unit_cost(u, suite))


def _unit_cost(unit: JobUnit, suite: Suite) -> float:
    tasks, seeds = unit
    return FAMILY_COST.get(tasks[0].family, 3.0) * len(tasks) * len(seeds) / len(suite.seeds)


def _layouts(specs: list[PolicySpec], suite: Suite, workers: int, sandbox_baselines: bool) -> dict[str, list[JobUnit]]:
    """Each entry's job layout: seeds apart wherever the policy runs in the sandbox."""
    return {spec.name: job_layout(suite, workers, seeds_apart=spec.kind != "baseline" or sandbox_baselines)
            for spec in specs}


def _jobs(specs: list[PolicySpec], suite: Suite, memory_mb: float, time_limit: float | None,
          sandbox_baselines: bool, layouts: dict[str, list[JobUnit]]) -> list[Job]:
    from dataclasses import asdict

    from lrgym.leaderboard.global_streams import episode_stream_seed
    from lrgym.leaderboard.private import is_private
    from lrgym.leaderboard.sandbox import Limits

    limits = asdict(Limits(memory_mb=memory_mb, cpu_seconds=time_limit))
    optimizers = list(allowed_optimizers(suite))
    return [
        Job(spec.name, {
            "op": "episodes", "policy": spec.spec, "family": tasks[0].family,
            "env_kwargs": suite.env_kwargs(tasks[0].family), "optimizers": optimizers,
            "instances": [t.instance for t in tasks], "seeds": list(seeds),
            "sandbox": limits if (spec.kind != "baseline" or sandbox_baselines) else None,
            "hidden": is_private(suite),  # its failure reasons then name no instance and no seed
            # each episode's global streams: its run's, whatever the job (global_streams)
            "stream_seeds": [[t.instance, s, episode_stream_seed(suite, t.family, t.instance, s)]
                             for t in tasks for s in seeds],
        }, _unit_cost((tasks, seeds), suite),
            # a sandboxed entry's jobs on one instance (its seeds) never run at once (Job.apart)
            frozenset((t.family, t.instance) for t in tasks) if (spec.kind != "baseline" or sandbox_baselines)
            else frozenset())
        for spec in specs
        for tasks, seeds in layouts[spec.name]
    ]


@dataclass
class _Context:
    """What every entry of a run is checked against and stamped with."""

    suite: Suite
    refs: References
    versions: dict
    cpu: str
    owner: str | None


class _Recorder:
    """Turns finished groups into stored entries (one transaction each) and reports progress."""

    def __init__(self, specs, context: _Context, store, n_jobs: int, layouts: dict[str, list[JobUnit]],
                 patience: float, on_progress, on_outcome, log):
        self.by_name = {s.name: s for s in specs}
        self.layouts = layouts  # each entry's jobs, in the order of its replies
        self.left = {s.name: len(layouts[s.name]) for s in specs}
        self.context, self.store, self.n_jobs, self.patience = context, store, n_jobs, patience
        self.on_progress, self.on_outcome, self.log = on_progress, on_outcome, log
        self.done = 0
        self.outcomes: list[Outcome] = []

    def on_reply(self, job: Job, reply: dict) -> None:
        self.done += 1
        self.left[job.group] -= 1
        if self.on_progress is not None:
            self.on_progress(self.done, self.n_jobs)

    def on_group_done(self, result: GroupResult) -> None:
        outcome = _finish(self.by_name[result.name], result, self.context, self.layouts[result.name])
        if self.store is not None:
            try:
                entry_id = self.store.add_entry_durably(outcome.entry, outcome.runs, patience=self.patience,
                                                        log=self.log)
            except KeptResultError as exc:  # name taken during the run, or refused: kept, said, never dropped
                entry_id = None
                outcome.kept, outcome.kept_message = exc.kept, str(exc)
                if self.log is not None:
                    self.log(f"warning: {exc}")
            except Exception as exc:  # noqa: BLE001 - one entry's store error must not lose the others'
                entry_id = None
                if self.log is not None:
                    self.log(f"error: entry {result.name!r} could not be stored "
                             f"({type(exc).__name__}: {clean(str(exc), False)[:300]})")
            if entry_id is not None:
                outcome.entry = self.store.entry(entry_id)
        self.outcomes.append(outcome)
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        if result.failed:  # its remaining jobs are dropped
            self.done += self.left[result.name]
            self.left[result.name] = 0
            if self.on_progress is not None:
                self.on_progress(self.done, self.n_jobs)


def _apart_field(trained_on: dict, suite: Suite) -> dict:
    """``{TRAINED_APART_KEY: record}`` of a policy trained at other settings than ``suite``'s
    (:func:`~lrgym.leaderboard.trained_apart.apart_record`: the numbers the env took, no text of the
    submitter's), else ``{}``. The claim is the submitter's: one the comparison cannot read is no
    record, never a reason to lose the entry."""
    try:
        apart = settings_apart(trained_on, suite)
    except Exception:  # noqa: BLE001 - a hostile record must not cost the result
        return {}
    return {TRAINED_APART_KEY: apart_record(apart)} if apart else {}


def _finish(spec: PolicySpec, result: GroupResult, ctx: _Context, layout: list[JobUnit]) -> Outcome:
    """The entry of a finished group: failed with its (cleaned) reason, or its runs checked
    against the suite (``layout``: the group's jobs, in reply order) and scored from their losses
    by the grader."""
    from lrgym.leaderboard.private import is_private, private_reason, public_description

    suite = ctx.suite
    extra = policy_packages(spec.spec)  # torch and stable-baselines3 for an SB3 policy: its actions depend on them
    common = dict(name=spec.name, kind=spec.kind, suite_version=suite.version, cpu=ctx.cpu,
                  seeds=() if is_private(suite) else tuple(suite.seeds),  # a private suite's seeds are its secret
                  package_versions=package_versions(extra) if extra else ctx.versions,
                  owner=ctx.owner if spec.kind == "submission" else None)

    described = public_description(suite) if is_private(suite) else suite.to_dict()  # hidden instances stay hidden
    env_spec: dict = {"suite": described, "policy": spec.spec, "source": spec.source}
    if spec.trained_on is not None:  # trained at other settings than graded: the board notes it
        env_spec.update(_apart_field(spec.trained_on, suite))

    def failed(reason: str) -> Outcome:
        if is_private(suite) and spec.kind == "submission":  # its words could carry the hidden instances out
            reason = private_reason(reason)
        entry = EntryRecord(status="failed", failure_reason=clean(reason), env_spec=env_spec,
                            summary={"elapsed_seconds": round(result.elapsed, 3)}, **common)
        return Outcome(spec, entry, [], result.elapsed)

    if result.failed:
        return failed(result.reason or "unknown failure")
    trajectories, policy_env, infos = [], {}, []
    timing = {"seconds": 0.0, "policy_seconds": 0.0, "steps": 0}
    for (group, seeds), reply in zip(layout, result.replies):
        n_seeds = len(seeds)
        got = reply.get("trajectories")
        if not isinstance(got, list) or len(got) != len(group) * n_seeds:
            return failed("malformed reply: wrong number of trajectories")
        for i, t in enumerate(group):  # instance by instance, the job's seeds in suite order
            problem = _validate(got[i * n_seeds:(i + 1) * n_seeds], t, list(seeds), suite, ctx.refs)
            if problem is not None:
                return failed(problem)
        trajectories.extend(got)
        info = reply.get("policy_info") or {}
        family = group[0].family
        if family in policy_env and policy_env[family] != info.get("env_kwargs"):
            return failed(f"the policy asked for different env options in two jobs of {family}")
        policy_env[family] = info.get("env_kwargs")
        infos.append(info)
        for k in timing:
            timing[k] += (info.get("timing") or {}).get(k, 0)
    changed = disagreement(infos)  # every job must have run the same files (lrgym.leaderboard.job_agreement)
    if changed is not None:
        return failed(changed)
    ran = infos[0] if infos else {}  # what every job ran
    source_hash, inputs = ran.get("source_hash"), ran.get("inputs")
    runs = score_runs(trajectories, ctx.refs)
    order = {(t.family, t.instance): i for i, t in enumerate(suite.tasks())}
    runs.sort(key=lambda r: (order[(r.family, r.instance)], suite.seeds.index(r.seed)))
    summary = summarize(runs, suite)
    summary["elapsed_seconds"] = round(result.elapsed, 3)
    # worker time in episodes, and the part of it spent waiting for the policy (its compute + messages)
    summary["episode_seconds"] = round(timing["seconds"], 3)
    summary["policy_seconds"] = round(timing["policy_seconds"], 3)
    summary["policy_steps"] = int(timing["steps"])
    env_spec["env_kwargs"] = policy_env
    env_spec["sandbox"] = recorded_sandbox([info.get("sandbox") for info in infos])  # the weakest, if they differ
    if spec.kind == "baseline" and inputs:
        env_spec["inputs"] = inputs  # the shipped tuned values / weights it ran (lrgym.baselines.registry)
    if source_hash is None:
        source_hash = hashlib.sha256(repr(sorted(spec.spec.items())).encode()).hexdigest()
    entry = EntryRecord(status="ok", policy_source_hash=source_hash, env_spec=env_spec, summary=summary, **common)
    return Outcome(spec, entry, runs, result.elapsed)
