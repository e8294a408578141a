"""What a grading run evaluates: a :class:`PolicySpec` per entry, for the registered baselines
(:func:`baseline_specs`) or a submission (:func:`submission_spec`), and a submission's files read
and checked before anything runs (:func:`checked_submission`, :func:`check_zip_flags`), so that a
bad target, name, flag or file is refused with its reason instead of recorded as a failed entry.

Nothing of a submission is imported or run here: its class is loaded only in its sandbox
(:mod:`lrgym.leaderboard.runner` runs the specs).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from lrgym.leaderboard.submission_files import declared_name, missing_file_error
from lrgym.leaderboard.suite import Suite
from lrgym.leaderboard.text import check_entry_name, lookalike_note, name_key

__all__ = ["PolicySpec", "baseline_specs", "baselines_without_weights", "check_zip_flags", "checked_submission", "submission_spec"]


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


def baselines_without_weights(specs: list[PolicySpec], suite: Suite) -> dict[str, str]:
    """The baseline specs among ``specs`` that do not apply to ``suite``, each with why: a learned
    baseline whose weights are per family (:func:`lrgym.baselines.registry.weights_families`: the
    ``controller``) on a suite with a family it has no weights for (a family of one's own). Its
    every episode there would be refused at reset, so ``run-baselines`` leaves it out (not run,
    nothing stored, one line saying so) instead of recording a failed entry each time; an entry
    that ran and failed on a family it has weights for stays a failure."""
    from lrgym.baselines import registry

    out = {}
    for spec in specs:
        covered = registry.weights_families(spec.name) if spec.kind == "baseline" else None
        missing = [f for f in suite.family_names if covered is not None and f not in covered]
        if missing:
            named = ", ".join(f for f in covered if f != "mixed") + (" (and their mixture)" if "mixed" in covered else "")
            out[spec.name] = (f"its weights are per family, for {named} only; suite {suite.version}'s "
                              f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} none of them")
    return out


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
