"""Loading a submitted policy (step 4 and 5 of :mod:`lrgym.leaderboard.policy_host`): its files
written, its module imported, its instances built, and what it declares read.

* :func:`write_files` writes the submission's files (sent by the grader) to
  ``<ROOT>/submission``;
* :func:`import_target` imports the object a spec names (a file of the submission, or
  ``module:Name``), :func:`build_policy` builds one instance of it for a family (a trusted
  baseline, an ``object`` spec, an SB3 zip), :func:`preload_sb3` imports what loading an SB3
  zip needs, in the pristine host, before anything of the submission runs;
* :func:`declared_choices` and :func:`described` read the env options an instance asks for
  (checked by the grader), :func:`plain_action` turns an action into JSON.

Every exception of the submission's code becomes a :class:`~lrgym.leaderboard.failures.PolicyError`
naming where it happened. The baselines, ``lrgym.policy``, torch and stable_baselines3 are
imported inside the functions that need them, as before the move out of
:mod:`lrgym.leaderboard.policy_host`.
"""

from __future__ import annotations

import os
import sys

from lrgym.leaderboard import sandbox_root
from lrgym.leaderboard.failures import PolicyError, describe, plain, traceback_text

__all__ = ["build_policy", "declared_choices", "described", "import_target", "plain_action", "preload_sb3",
           "write_files"]


def write_files(files: dict[str, bytes], where: str) -> None:
    os.makedirs(where, exist_ok=True)
    for name, data in files.items():
        if "/" in name or name.startswith("."):
            raise PolicyError(f"bad submission file name {name!r}")
        with open(os.path.join(where, name), "wb") as f:
            f.write(data)


def import_target(spec: dict):
    """The object named by an ``object`` spec: a file sent by the grader or ``module:Name``."""
    import importlib
    import importlib.util

    where, attr = spec["module"], spec["attr"]
    if spec.get("file"):
        path = os.path.join(sandbox_root.ROOT, "submission", spec["file"])
        module_name = os.path.splitext(spec["file"])[0]
        sys.path.insert(0, os.path.join(sandbox_root.ROOT, "submission"))  # sibling modules of the policy file
        try:
            loader_spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[module_name] = module
            loader_spec.loader.exec_module(module)
        except BaseException as exc:  # noqa: BLE001
            raise PolicyError(f"importing {spec['source']} raised {describe(exc)}\n{traceback_text(exc, skip=1)}") from None
    else:
        try:
            module = importlib.import_module(where)
        except BaseException as exc:  # noqa: BLE001
            raise PolicyError(f"importing module {where!r} raised {describe(exc)}\n{traceback_text(exc)}") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise PolicyError(f"{spec['source']} has no attribute {attr!r}; {_classes_of(module)}")
        obj = getattr(obj, part)
    return obj


def _classes_of(module) -> str:
    """The valid choices of a target's ``:Name``: what :func:`_instantiate` takes that ``module``
    defines itself and names publicly, a policy class, a factory function or a policy instance
    (an object whose class defines ``act``; read with ``inspect.getattr_static``, so listing the
    choices runs none of the submitter's attribute hooks)."""
    import inspect

    def policy_like(v) -> bool:
        if isinstance(v, type) or inspect.isfunction(v):
            return getattr(v, "__module__", None) == module.__name__
        # looked up statically: a hostile object's __getattr__ (one that never returns) runs no code here
        return (inspect.getattr_static(v, "act", None) is not None and not inspect.ismodule(v)
                and not inspect.isroutine(v))

    try:
        names = sorted(n for n, v in vars(module).items() if not n.startswith("_") and policy_like(v))
    except Exception:  # noqa: BLE001 - the module is the submitter's: its names are only a hint
        names = []
    return (f"valid choices: what it defines (a policy class, factory or instance), {', '.join(names)}" if names
            else "it defines no policy class, factory or instance")


#: what the target of a submission must name (its failure reasons say it)
VALID_TARGET = ("valid: a class whose instances have reset(info) and act(obs, info), or a factory (a function) "
                "returning such an instance, or such an instance (see lrgym.policy.Policy)")


def _a(type_name: str) -> str:
    """``an int``, ``a str``: a value named by its type (never its ``repr``, the submitter's code)."""
    return ("an " if type_name[:1].lower() in "aeiou" else "a ") + type_name


def _instantiate(obj, family: str, source: str):
    """The policy instance the target ``obj`` (named ``source``, ``p.py:Name``) gives for ``family``:
    the instance itself, an instance of the class, or what the factory returns; a
    :class:`PolicyError` naming the target, what it is and what it should be if that is no policy
    (no callable ``reset`` and ``act``: :func:`lrgym.policy.missing_methods`). A factory returning an
    ``int`` failed with "the policy int has no reset() method", which named neither the factory nor
    what a target must be (an audit, 2026-12-07)."""
    import inspect

    from lrgym.policy import missing_methods

    if hasattr(obj, "act") and not isinstance(obj, type):
        policy, what = obj, f"{_a(type(obj).__name__)} instance"
    elif not callable(obj):
        raise PolicyError(f"the policy target {source} is {_a(type(obj).__name__)}: neither a policy class, a factory "
                          f"nor a policy instance; {VALID_TARGET}")
    else:
        try:
            params = inspect.signature(obj).parameters
        except (TypeError, ValueError):
            params = {}
        try:
            policy = obj(family=family) if "family" in params else obj()
        except BaseException as exc:  # noqa: BLE001
            raise PolicyError(f"constructing the policy raised {describe(exc)}\n{traceback_text(exc, skip=1)}") from None
        what = ("a class, whose instances lack {them}" if isinstance(obj, type) else
                f"a factory, and it returned {'None' if policy is None else _a(type(policy).__name__)}")
    missing = missing_methods(policy)
    if missing:
        what = what.replace("{them}", "it" if len(missing) == 1 else "them")
        raise PolicyError(f"the policy {type(policy).__name__} has no {' and no '.join(f'{m}()' for m in missing)} "
                          f"method: {source} is {what}; {VALID_TARGET}")
    return policy


def own_tuned(spec: dict) -> dict | None:
    """A baseline spec's tuned values of your own (a suite file's ``tuned``, put in the spec by
    :func:`lrgym.leaderboard.runner.baseline_specs`) as a tuned.json's contents for
    :func:`lrgym.baselines.registry.make_baseline`; None: the shipped ones."""
    return {"values": {spec["name"]: spec["tuned"]}} if "tuned" in spec else None


def build_policy(spec: dict, family: str, loaded: dict):
    """The policy of ``spec`` for ``family`` (``loaded`` caches the imported object; in a job of
    :class:`~lrgym.leaderboard.episode_host.EpisodeHost` also the SB3 policy its job process
    built, with the model loaded)."""
    kind = spec.get("kind")
    if kind == "baseline":
        from lrgym.baselines.registry import make_baseline

        return make_baseline(spec["name"], family, tuned=own_tuned(spec))
    if kind == "object":
        if "obj" not in loaded:
            loaded["obj"] = import_target(spec)
        return _instantiate(loaded["obj"], family, spec["source"])
    if kind == "sb3":
        if "sb3" in loaded:  # loaded by the job process (EpisodeHost): this episode's own copy
            return loaded["sb3"]
        from lrgym.baselines.sb3_agents import SB3Policy, zip_meta

        path = os.path.join(sandbox_root.ROOT, "submission", spec["file"])
        try:
            if spec.get("sidecar"):  # train_sb3's: its env options and clipping; an --algo must agree with it
                policy = SB3Policy(path, name=spec.get("name"), algo=spec.get("algo"))
            else:
                policy = SB3Policy(path, name=spec.get("name"), meta=zip_meta(path, spec.get("algo")))
            policy.reset({})  # loads the model now: a bad zip fails here, not at step 0
        except BaseException as exc:  # noqa: BLE001
            raise PolicyError(f"loading SB3 model {spec['source']} raised {describe(exc)}") from None
        asked = (spec.get("env_options") or {}).get("action_mode")
        if asked is not None and asked != policy.action_mode:  # (refused on the command line when the zip says)
            raise PolicyError(f"--env-options action_mode={asked!r} contradicts {spec['source']}, whose model acts in "
                              f"action_mode {policy.action_mode!r} (an SB3 zip acts in the mode of its model's action "
                              "space, Discrete: 'discrete', Box: 'log_lr'; its sidecar's, if it has one); valid: "
                              f"{policy.action_mode!r} or leave action_mode out")
        if spec.get("optimizer"):
            policy.optimizer = spec["optimizer"]
        policy.env_options = {**policy.env_options, **(spec.get("env_options") or {})}  # checked by the grader
        return policy
    raise PolicyError(f"unknown policy kind {kind!r}")


def preload_sb3() -> None:
    """Import, in the pristine host, what loading an SB3 zip imports: torch, ``torch._dynamo``
    (which torch's optimizers import when the first one is built: half of a first load's
    second), stable_baselines3 and lrgym's SB3 policy. Every job process then starts with them
    (copy-on-write) and loads only the model: 0.03 – 0.04 CPU-s a job against 2.4 – 3.5 CPU-s with the
    imports (benchmarks/sb3_model_load.py).

    Only trusted code runs: the packages of the read-only binds, imported before any of the
    submission has run (nothing the policy can write exists yet but the submission's files,
    which are not on the import path). Without torch or stable_baselines3 nothing is imported,
    and the job's own load fails with its reason.

    What the imports leave besides modules is undone, so that every job starts as the first
    would have: ``torch._dynamo`` makes its compile cache folder in ``$TMPDIR``
    (``torchinductor_<user>``, here root's, which no job could write to) and names it in
    ``TORCHINDUCTOR_CACHE_DIR``; the folder is removed and the variable put back, so a job that
    compiles makes its own in its own ``TMPDIR``."""
    import shutil

    tmp = os.environ.get("TMPDIR") or sandbox_root.ROOT
    before_files = set(os.listdir(tmp)) if os.path.isdir(tmp) else set()
    before_env = dict(os.environ)
    try:
        import stable_baselines3  # noqa: F401
        import torch._dynamo  # noqa: F401

        import lrgym.baselines.sb3_agents  # noqa: F401
    except ImportError:
        pass
    finally:
        for name in set(os.environ) - set(before_env):
            del os.environ[name]
        os.environ.update(before_env)
        for name in (set(os.listdir(tmp)) if os.path.isdir(tmp) else set()) - before_files:
            path = os.path.join(tmp, name)
            shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)


def declared_choices(policy) -> dict:
    """The env options a policy asks for (the protocol's attributes; checked by the grader)."""
    from lrgym.policy import missing_methods, policy_env_kwargs

    for attr in missing_methods(policy):
        raise PolicyError(f"the policy {type(policy).__name__} has no {attr}() method "
                          "(see lrgym.baselines.policy.Policy)")
    try:
        kwargs = dict(policy_env_kwargs(policy))
    except BaseException as exc:  # noqa: BLE001
        raise PolicyError(f"reading the policy's env options raised {describe(exc)}") from None
    return plain(kwargs)


def described(built: list) -> dict:
    """The reply to ``policies``: the name and the env options of the instances ``built``."""
    choices = [declared_choices(p) for p in built]
    if any(c != choices[0] for c in choices):
        raise PolicyError("instances of the policy ask for different env options")
    policy = built[0]
    return {"ok": True, "name": str(getattr(policy, "name", type(policy).__name__))[:200], "choices": choices[0]}


def plain_action(action):
    """An action as JSON: an int, a float or a short list of numbers (anything else: its repr)."""
    if isinstance(action, bool):
        return repr(action)
    if isinstance(action, int):
        return action
    if isinstance(action, float):
        return action
    if hasattr(action, "tolist") and getattr(action, "size", 2) <= 64:
        value = action.tolist()
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        if isinstance(value, list):
            return value
    if isinstance(action, (list, tuple)) and len(action) <= 64:
        return [plain_action(a) for a in action]
    return repr(action)[:200]
