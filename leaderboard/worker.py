"""Worker-process side of the runner: load a policy, run episodes, answer in plain JSON.

A worker is a fresh interpreter (``python -m lrgym.leaderboard.worker``) started by
:class:`lrgym.leaderboard.pool.WorkerPool`; it reads jobs from its stdin and writes replies to a
second pipe until stdin closes. Messages in both directions are length-prefixed UTF-8 JSON
(``multiprocessing.connection.Connection.send_bytes`` / ``recv_bytes``), so the grader never
unpickles anything a policy could have produced, and nothing of the grader's state (its
``__main__``, open store, ...) reaches the worker. Before any policy code runs the worker applies its limits: an address-space limit
(``RLIMIT_AS``) and "die with the parent" (``PR_SET_PDEATHSIG``), so a grader killed mid-run
leaves no orphans.

Every episode goes through :func:`lrgym.baselines.evaluation.run_episode` (the one evaluation
function). The policy is wrapped so that an exception inside the policy is reported as
"policy raised ...", while an action the environment rejects (wrong type, out of range, NaN)
is reported as "invalid action ...".

Policy specs (plain dicts, see :mod:`lrgym.leaderboard.policies` for building them):

* ``{"kind": "baseline", "name": NAME}``: ``lrgym.baselines.registry.make_baseline(NAME, family)``
* ``{"kind": "object", "target": "path/to/file.py:Name" | "package.module:Name"}``: a Policy
  class (instantiated with ``family=`` if its constructor takes it, else without arguments),
  a factory function, or a Policy instance
* ``{"kind": "sb3", "path": "model.zip", "algo": "dqn" | None, "optimizer": "sgd", ...}``
* ``{"kind": "constant", "lr": 0.01}``: fixed SGD learning rate (the references)
"""

from __future__ import annotations

import os

# One BLAS thread per worker: the pool provides the parallelism (set before NumPy loads).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import hashlib
import importlib
import importlib.util
import inspect
import json
import math
import sys
import traceback
from pathlib import Path

__all__ = ["PolicyError", "load_policy", "main", "run_job", "serve"]

MAX_REASON_CHARS = 4000


class PolicyError(Exception):
    """A policy could not be loaded or misbehaved; ``str(self)`` is the recorded reason."""


# ---- process setup ---------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the parent dies (best effort elsewhere)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # pragma: no cover - non-Linux
        pass


def _limit_memory(memory_mb: float | None) -> None:
    if not memory_mb:
        return
    import resource

    limit = int(memory_mb * 1024 * 1024)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def serve(jobs, replies, memory_mb: float | None = None) -> None:
    """Answer jobs from the ``jobs`` connection on ``replies`` until EOF or ``{"op": "stop"}``."""
    _die_with_parent()
    _limit_memory(memory_mb)
    cache: dict = {}
    while True:
        try:
            job = json.loads(jobs.recv_bytes())
        except (EOFError, OSError):
            return
        if job.get("op") == "stop":
            return
        try:
            reply = {"ok": True, **run_job(job, cache)}
        except PolicyError as exc:
            reply = {"ok": False, "reason": _truncate(str(exc))}
        except MemoryError:
            reply = {"ok": False, "reason": f"MemoryError: out of memory (limit {memory_mb:g} MB)"}
        except BaseException as exc:  # noqa: BLE001 - everything a policy can throw is a result
            reply = {"ok": False, "reason": _truncate(f"error: {_describe(exc)}\n{_tb(exc)}")}
        try:
            replies.send_bytes(json.dumps(reply).encode())
        except (BrokenPipeError, OSError):
            return


def main(argv: list[str] | None = None) -> None:
    """``python -m lrgym.leaderboard.worker REPLY_FD [MEMORY_MB]``: jobs on stdin, replies on REPLY_FD."""
    from multiprocessing.connection import Connection

    argv = sys.argv[1:] if argv is None else argv
    reply_fd = int(argv[0])
    memory_mb = float(argv[1]) if len(argv) > 1 and float(argv[1]) > 0 else None
    jobs = Connection(os.dup(0), writable=False)
    replies = Connection(reply_fd, readable=False)
    # stdin is the job channel: give policies an empty stdin instead
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    serve(jobs, replies, memory_mb)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _tb(exc: BaseException, limit: int = 6, skip: int = 0) -> str:
    """The last ``limit`` frames of ``exc``'s traceback, without the first ``skip`` (ours)."""
    tb = exc.__traceback__
    for _ in range(skip):
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb, limit=-limit))


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 20] + "\n...[truncated]"


# ---- policies ---------------------------------------------------------------------------------


class ConstantLR:
    """Fixed learning rate: starts at ``lr`` and keeps it (discrete action 'x1.0')."""

    action_mode = "discrete"
    optimizer = "sgd"

    def __init__(self, lr: float):
        self.lr_init = float(lr)
        self.name = f"constant-{lr:g}"
        self.env_options: dict = {}

    def env_kwargs(self) -> dict:
        # factors (1.0,): action 0 keeps the LR exactly, whatever the default factor list is
        return {"optimizer": "sgd", "action_mode": "discrete", "lr_init": self.lr_init, "factors": (1.0,)}

    def reset(self, info: dict) -> None:
        pass

    def act(self, obs, info) -> int:
        return 0


class SB3Policy:
    """A Stable-Baselines3 model as a Policy (deterministic actions).

    The action mode follows the model's action space (``Discrete`` → ``"discrete"``, ``Box``
    → ``"log_lr"``); ``optimizer`` and ``env_options`` must match what it was trained with.
    """

    def __init__(self, path: str, algo: str | None = None, optimizer="sgd", env_options: dict | None = None,
                 name: str | None = None):
        import stable_baselines3 as sb3
        from gymnasium import spaces

        try:
            import torch

            torch.set_num_threads(1)
        except Exception:  # pragma: no cover
            pass
        algo = (algo or _sb3_algo_from_zip(path)).upper()
        if not hasattr(sb3, algo):
            raise PolicyError(f"unknown SB3 algorithm {algo!r}; valid: DQN, PPO, A2C, SAC, TD3, DDPG")
        self.model = getattr(sb3, algo).load(path, device="cpu")
        space = self.model.action_space
        self.action_mode = "discrete" if isinstance(space, spaces.Discrete) else "log_lr"
        self.optimizer = optimizer
        self.env_options = dict(env_options or {})
        self.name = name or Path(path).stem

    def reset(self, info: dict) -> None:
        pass

    def act(self, obs, info):
        action, _ = self.model.predict(obs, deterministic=True)
        return int(action) if self.action_mode == "discrete" else action


def _sb3_algo_from_zip(path: str) -> str:
    """The algorithm of an SB3 zip (:func:`lrgym.baselines.sb3_agents.algo_of_zip`)."""
    from lrgym.baselines.sb3_agents import algo_of_zip

    try:
        return algo_of_zip(path)
    except ValueError as exc:
        raise PolicyError(str(exc)) from None


def _import_target(target: str):
    """``path/file.py:Name`` or ``package.module:Name`` → (object, source file or None)."""
    if ":" not in target:
        raise PolicyError(f"policy target {target!r} must be 'path/to/file.py:Name' or 'module:Name'")
    where, _, attr = target.rpartition(":")
    if where.endswith(".py") or os.sep in where or "/" in where:
        path = Path(where).resolve()
        if not path.is_file():
            raise PolicyError(f"policy file {path} not found")
        module_name = f"_lrgym_submission_{hashlib.sha1(str(path).encode()).hexdigest()[:10]}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        sys.path.insert(0, str(path.parent))  # sibling modules of the policy file
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:  # noqa: BLE001
            raise PolicyError(f"importing {path} raised {_describe(exc)}\n{_tb(exc, skip=1)}") from None
        source = str(path)
    else:
        try:
            module = importlib.import_module(where)
        except BaseException as exc:  # noqa: BLE001
            raise PolicyError(f"importing module {where!r} raised {_describe(exc)}\n{_tb(exc)}") from None
        source = getattr(module, "__file__", None)
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise PolicyError(f"{where} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj, source


def _instantiate(obj, family: str):
    if hasattr(obj, "act") and not isinstance(obj, type):
        return obj  # an instance
    if not callable(obj):
        raise PolicyError(f"{obj!r} is neither a Policy class, a factory nor a Policy instance")
    try:
        params = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        params = {}
    try:
        return obj(family=family) if "family" in params else obj()
    except BaseException as exc:  # noqa: BLE001
        raise PolicyError(f"constructing the policy raised {_describe(exc)}\n{_tb(exc, skip=1)}") from None


def _file_hash(path: str | None, extra: str = "") -> str | None:
    """sha256 of a file's bytes (plus ``extra``, e.g. tuned hyper-parameters)."""
    if not path or not os.path.isfile(path):
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    h.update(extra.encode())
    return h.hexdigest()


def load_policy(spec: dict, family: str):
    """Build the policy of ``spec`` for ``family``; returns (policy, source sha256 or None)."""
    kind = spec.get("kind")
    if kind == "constant":
        return ConstantLR(spec["lr"]), None
    if kind == "baseline":
        from lrgym.baselines.registry import load_tuned, make_baseline

        policy = make_baseline(spec["name"], family)
        tuned = json.dumps(load_tuned().get("values", {}).get(spec["name"]), sort_keys=True)
        return policy, _file_hash(inspect.getsourcefile(type(policy)), extra=tuned)
    if kind == "object":
        obj, source = _import_target(spec["target"])
        policy = _instantiate(obj, family)
        return policy, _file_hash(source)
    if kind == "sb3":
        try:
            if Path(spec["path"]).with_suffix(".json").is_file() and not spec.get("algo"):
                # trained with lrgym.baselines.train_sb3: the sidecar says how it acts (obs clipping, env options)
                from lrgym.baselines.sb3_agents import SB3Policy as SidecarPolicy

                policy = SidecarPolicy(spec["path"], name=spec.get("name"))
            else:
                policy = SB3Policy(spec["path"], spec.get("algo"), spec.get("optimizer", "sgd"),
                                   spec.get("env_options"), spec.get("name"))
        except PolicyError:
            raise
        except BaseException as exc:  # noqa: BLE001
            raise PolicyError(f"loading SB3 model {spec['path']} raised {_describe(exc)}") from None
        return policy, _file_hash(spec["path"])
    raise PolicyError(f"unknown policy kind {kind!r}")


class _Guarded:
    """Forwards to a policy; exceptions inside it become :class:`PolicyError`."""

    def __init__(self, policy, where: str):
        self._policy = policy
        self._where = where
        self.name = str(getattr(policy, "name", type(policy).__name__))
        self.step = 0

    def reset(self, info):
        self.step = 0
        try:
            self._policy.reset(info)
        except BaseException as exc:  # noqa: BLE001
            raise PolicyError(
                f"policy raised in reset() ({self._where}): {_describe(exc)}\n{_tb(exc, skip=1)}"
            ) from None

    def act(self, obs, info):
        try:
            action = self._policy.act(obs, info)
        except BaseException as exc:  # noqa: BLE001
            raise PolicyError(
                f"policy raised in act() at step {self.step} ({self._where}): {_describe(exc)}\n{_tb(exc, skip=1)}"
            ) from None
        self.step += 1
        return action


def _plain(value):
    """JSON-able copy of env keywords (optimizer configs, tuples, NumPy numbers)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return _plain(dataclasses.asdict(value))
    return repr(value)


def _policy_entry(spec: dict, family: str, env_kwargs: dict, cache: dict):
    """(policy, env, info) for (spec, family), built once per worker."""
    key = (json.dumps(spec, sort_keys=True), family, json.dumps(env_kwargs, sort_keys=True, default=str))
    if key not in cache:
        from lrgym.baselines.evaluation import make_env
        from lrgym.baselines.policy import policy_env_kwargs

        policy, source_hash = load_policy(spec, family)
        for attr in ("act", "reset"):
            if not callable(getattr(policy, attr, None)):
                raise PolicyError(f"the policy {type(policy).__name__} has no {attr}() method (see lrgym.baselines.policy.Policy)")
        try:
            policy_kwargs = policy_env_kwargs(policy)
        except BaseException as exc:  # noqa: BLE001
            raise PolicyError(f"reading the policy's env options raised {_describe(exc)}") from None
        try:
            env = make_env(policy, env_kwargs)
        except BaseException as exc:  # noqa: BLE001
            raise PolicyError(f"the policy's env options are invalid: {_describe(exc)}") from None
        _share_tasks(env, cache)
        info = {
            "name": str(getattr(policy, "name", type(policy).__name__)),
            "source_hash": source_hash,
            "env_kwargs": _plain({**env_kwargs, **policy_kwargs}),
        }
        cache[key] = (policy, env, info)
    return cache[key]


def _share_tasks(env, cache: dict) -> None:
    """Let every env of this worker on the same family reuse the built tasks (data arrays,
    eigendecompositions, ...): tasks are immutable, the training state lives elsewhere."""
    tasks = getattr(env, "_tasks", None)
    if not isinstance(tasks, dict) or tasks:
        return
    key = ("tasks", json.dumps(_plain(env.family.overrides), sort_keys=True), type(env.family).__name__)
    env._tasks = cache.setdefault(key, tasks)


def _episodes(job: dict, cache: dict) -> dict:
    from lrgym.baselines.evaluation import run_episode

    family, instance = job["family"], int(job["instance"])
    policy, env, info = _policy_entry(job["policy"], family, job["env_kwargs"], cache)
    trajectories = []
    for seed in job["seeds"]:
        where = f"{family} instance {instance} seed {seed}"
        guarded = _Guarded(policy, where)
        try:
            traj = run_episode(guarded, env, seed=int(seed), instance=instance)
        except PolicyError:
            raise
        except (ValueError, TypeError) as exc:
            # the env rejected the action the policy just returned (step counts from 0)
            raise PolicyError(f"invalid action at step {guarded.step - 1} ({where}): {_describe(exc)}") from None
        d = traj.to_dict()
        d["policy"] = info["name"]
        trajectories.append(d)
    return {"trajectories": trajectories, "policy_info": info}


def _reference(job: dict, cache: dict) -> dict:
    """The reference (best constant SGD LR, :mod:`lrgym.baselines.reference`) of one instance."""
    from lrgym.baselines.reference import ConstantLRRuns
    from lrgym.leaderboard.references import reference_entry

    runs = ConstantLRRuns(job["env_kwargs"], int(job["instance"]), job["seeds"])
    env = runs.env(runs.lr_min)
    _share_tasks(env, cache)  # built tasks shared with this worker's other jobs on the family
    runs.tasks = env._tasks
    return {"reference": reference_entry(runs.search())}


def run_job(job: dict, cache: dict) -> dict:
    """Run one job (``op`` ``"episodes"`` or ``"reference"``); returns a JSON-able dict."""
    op = job.get("op")
    if op == "episodes":
        return _episodes(job, cache)
    if op == "reference":
        return _reference(job, cache)
    if op == "sleep":  # for tests of the pool itself
        import time

        time.sleep(float(job.get("seconds", 0)))
        return {}
    raise ValueError(f"unknown job op {op!r}")


if __name__ == "__main__":
    main()
