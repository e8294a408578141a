"""Worker process of the grader: it owns the env and records the trajectories.

A worker is a fresh interpreter (``python -m lrgym.leaderboard.worker``) started by
:class:`lrgym.leaderboard.pool.WorkerPool`; it reads jobs from its stdin and writes replies to a
second pipe until stdin closes. Messages in both directions are length-prefixed UTF-8 JSON, so
the grader never unpickles anything a policy could have produced.

A worker runs only the grader's code. For an ``episodes`` job it builds the envs from the suite's
settings and the policy's *allowed* choices (:mod:`lrgym.leaderboard.settings`), runs the job's
(instance, seed) pairs in lockstep (:func:`run_lockstep`: one
:class:`lrgym.baselines.evaluation.Episode` each, each with its own policy instance, one message
per step for all of them) and records the trajectories itself. The policy answers through a *channel*:

* a submission runs in its own sandboxed process (:mod:`lrgym.leaderboard.sandbox`,
  :mod:`lrgym.leaderboard.policy_host`), started once per worker and ended (with everything it
  started) when the worker is done with it; inside it every episode runs in a fresh process
  forked from its job's own process, which has imported the policy's module and run nothing
  else of it (the host itself never imports it), and each job's processes, files and IPC
  objects are gone before the next job
  (:class:`~lrgym.leaderboard.episode_host.EpisodeHost`); it sees copies of the observation and of the
  whitelisted info, and its answers are validated here;
* the trusted baselines run in the worker itself through the same request handler
  (:class:`~lrgym.leaderboard.policy_host.Host`), so both paths give the same actions.

``reference`` jobs search the best constant SGD LR of one instance
(:class:`lrgym.baselines.reference.ConstantLRRuns`).

Policy specs (plain dicts):

* ``{"kind": "baseline", "name": NAME}``: ``lrgym.baselines.registry.make_baseline(NAME, family)``
* ``{"kind": "object", "target": "path/to/file.py:Name" | "package.module:Name"}``: a Policy
  class (instantiated with ``family=`` if its constructor takes it), a factory, or an instance;
  the file and the ``.py`` files beside it are copied into the sandbox
* ``{"kind": "sb3", "path": "model.zip", "algo": "dqn" | None, "optimizer": ..., "env_options": {...}}``
"""

from __future__ import annotations

import os

from lrgym.tasks.blas import SINGLE_THREAD_ENV

# One BLAS thread per worker: the pool provides the parallelism (set before SciPy's BLAS loads).
for _var, _value in SINGLE_THREAD_ENV.items():
    os.environ.setdefault(_var, _value)

import hashlib
import inspect
import json
import re
import sys
import time
from pathlib import Path

from lrgym.leaderboard.failures import FamilyError, PolicyError, describe, plain, traceback_text, truncate
from lrgym.leaderboard.libc import c_library
from lrgym.leaderboard.submission_files import read_policy_files, read_sb3_files
from lrgym.leaderboard.step_message import encode_act

__all__ = ["PolicyError", "main", "policy_files", "run_job", "serve"]


# ---- process setup ---------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the parent dies (best effort elsewhere)."""
    try:
        import signal

        c_library().prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # pragma: no cover - non-Linux
        pass


def serve(jobs, replies) -> None:
    """Answer jobs from the ``jobs`` connection on ``replies`` until EOF or ``{"op": "stop"}``."""
    _die_with_parent()
    state = _State()
    try:
        while True:
            try:
                job = json.loads(jobs.recv_bytes())
            except (EOFError, OSError):
                return
            if job.get("op") == "stop":
                return
            try:
                reply = {"ok": True, **run_job(job, state)}
            except (PolicyError, FamilyError) as exc:  # worded in full where raised
                reply = {"ok": False, "reason": truncate(str(exc))}
            except BaseException as exc:  # noqa: BLE001 - a grader bug is still a recorded failure
                reply = {"ok": False, "reason": truncate(f"grader error: {describe(exc)}\n{traceback_text(exc)}")}
            try:
                replies.send_bytes(json.dumps(reply).encode())
            except (BrokenPipeError, OSError):
                return
    finally:
        state.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m lrgym.leaderboard.worker REPLY_FD``: jobs on stdin, replies on REPLY_FD."""
    from multiprocessing.connection import Connection

    argv = sys.argv[1:] if argv is None else argv
    jobs = Connection(os.dup(0), writable=False)
    replies = Connection(int(argv[0]), readable=False)
    null = os.open(os.devnull, os.O_RDONLY)  # stdin was the job channel
    os.dup2(null, 0)
    os.close(null)
    serve(jobs, replies)


# ---- what the sandbox receives -----------------------------------------------------------------


def _file_hash(data: bytes, extra: str = "") -> str:
    return hashlib.sha256(data + extra.encode()).hexdigest()


def _files_hash(files: dict[str, bytes], main: str) -> str:
    """The source hash of a submission of ``files``: ``sha256sum`` of its file ``main`` when that
    is all it is, else the sha256 of every file's name, length and bytes in name order (the
    modules beside it, an SB3 model's sidecar), so two submissions that differ in any file the
    sandbox gets differ in their hash."""
    if set(files) == {main}:
        return _file_hash(files[main])
    digest = hashlib.sha256()
    for name in sorted(files):
        data = files[name]
        digest.update(f"{name}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()


def policy_files(spec: dict, family: str | None = None) -> tuple[dict, dict[str, bytes], str | None]:
    """(the spec the policy host loads, the files to copy into the sandbox, the source sha256).

    The grader reads the submission's files here (without following links, within a size
    budget: :mod:`lrgym.leaderboard.submission_files`), so the sandbox needs no access to where
    they live; nothing of the submission is imported or run in this process.
    """
    kind = spec.get("kind")
    if kind == "baseline":
        from lrgym.baselines.registry import load_tuned, make_baseline
        from lrgym.leaderboard.policy_loading import own_tuned

        cls = type(make_baseline(spec["name"], family, tuned=own_tuned(spec)))
        values = spec["tuned"] if "tuned" in spec else load_tuned().get("values", {}).get(spec["name"])
        tuned = json.dumps(values, sort_keys=True)
        made_from = json.dumps(baseline_inputs(spec), sort_keys=True)  # its weights, if learned
        source = inspect.getsourcefile(cls)
        return dict(spec), {}, _file_hash(Path(source).read_bytes(), tuned + made_from) if source else None
    if kind == "object":
        target = spec["target"]
        where, _, attr = target.rpartition(":")
        if not where or not attr:
            raise PolicyError(f"policy target {target!r} must be 'path/to/file.py:Name' or 'module:Name'")
        if where.endswith(".py") or "/" in where or os.sep in where:
            path = Path(where)
            if path.suffix != ".py":  # the host imports it as a module; nothing else is read
                raise PolicyError(f"policy file {where} is not a Python file; valid: path/to/file.py:Name")
            files = read_policy_files(path)
            # "source" names it in the host's messages, which become a public failure reason: its
            # file's name, not the submitter's folders (lrgym.leaderboard.public_source)
            host = {"kind": "object", "module": path.stem, "attr": attr, "file": path.name,
                    "source": f"{path.name}:{attr}"}
            return host, files, _files_hash(files, path.name)
        return ({"kind": "object", "module": where, "attr": attr, "file": None, "source": target}, {},
                installed_module_hash(where))
    if kind == "sb3":
        path = Path(spec["path"])
        files = read_sb3_files(path)
        host = {"kind": "sb3", "file": path.name, "sidecar": len(files) > 1, "algo": spec.get("algo"),
                "name": spec.get("name"), "optimizer": spec.get("optimizer"),
                "env_options": spec.get("env_options") or {}, "source": path.name}
        return host, files, _files_hash(files, path.name)
    raise PolicyError(f"unknown policy kind {kind!r}")


def installed_module_hash(module: str) -> str | None:
    """The source sha256 of an installed ``module:Name`` policy as it is now, which every job's
    sandbox imports where it lies (nothing of it is copied), or None for a module with no file
    (built in, in a zip) or none found. The code hashed is what importing ``module`` runs of its
    own: the module's file and the ``__init__`` file of every package on its dotted path
    (``pkg/__init__.py`` and ``pkg/mod.py`` for ``pkg.mod``; :func:`installed_module_files`), as
    :func:`_files_hash` hashes a submission's files: a top-level module's one file (or a module of
    a namespace package, whose folders have no ``__init__``) is ``sha256sum`` of its bytes, as for
    a policy file. The other modules it imports are not hashed (submit a file with the modules
    beside it to have them hashed too). Until 2026-12-07 a dotted ``package.module:Name`` recorded
    no hash at all, and a job during which its file changed was not caught."""
    found = installed_module_files(module)
    return None if found is None else _files_hash(*found)


def installed_module_files(module: str) -> tuple[dict[str, bytes], str] | None:
    """(the files importing ``module`` runs of its own, keyed by their path in the package tree,
    ``pkg/sub/__init__.py``; the key of the module's own file), or None when the module or a
    package on its way is not found, or the module has no file. Found as the import system finds
    them (each finder of ``sys.meta_path``, given the package's ``submodule_search_locations``)
    **without importing anything**: ``importlib.util.find_spec("pkg.mod")`` imports ``pkg``,
    which would run the submission's ``__init__`` in the grader, so each package's folder is
    taken from its spec, not from its module. A package whose ``__init__`` changes its own
    ``__path__`` when it runs (``pkgutil.extend_path``) may import its module from elsewhere in
    the sandbox than what is hashed here."""
    parts = module.split(".")
    files: dict[str, bytes] = {}
    locations = None  # a top-level name: searched on sys.path
    main = ""
    for i in range(len(parts)):
        spec = _unimported_spec(".".join(parts[:i + 1]), locations)
        if spec is None:
            return None
        is_package = spec.submodule_search_locations is not None
        if spec.has_location and spec.origin and os.path.isfile(spec.origin):
            folder = parts[:i + 1] if is_package else parts[:i]
            main = "/".join([*folder, os.path.basename(spec.origin)])
            try:
                files[main] = Path(spec.origin).read_bytes()
            except OSError:
                return None
        elif i == len(parts) - 1:
            return None  # the module itself has no file (built in, in a zip)
        if i < len(parts) - 1:
            if not is_package:  # a module on the way: the import fails in the sandbox, nothing to hash
                return None
            locations = list(spec.submodule_search_locations)
    return files, main  # (main: the last name's file, which has one or None was returned)


def _unimported_spec(name: str, locations: list[str] | None):
    """The spec of ``name`` from the finders of ``sys.meta_path`` given its package's folders
    ``locations`` (None: a top-level name), as ``importlib`` finds it but without importing the
    package first; None if no finder knows it (or one refuses to say)."""
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        if find is None:
            continue
        try:
            spec = find(name, locations)
        except (ImportError, ValueError, OSError, TypeError):
            continue
        if spec is not None:
            return spec
    return None


def _installed_module(spec: dict) -> str | None:
    """The module an installed ``module:Name`` spec names (read by each job where it lies), else None."""
    if spec.get("kind") != "object":
        return None
    where = str(spec.get("target", "")).rpartition(":")[0]
    return where if where and not (where.endswith(".py") or "/" in where or os.sep in where) else None


def baseline_inputs(spec: dict) -> dict:
    """The files a baseline spec's policy is made from: the driver's hashes of a tuned.json of your
    own (:func:`lrgym.leaderboard.runner.baseline_specs`), else the shipped files read here."""
    from lrgym.baselines.registry import shipped_inputs

    return dict(spec["inputs"]) if "inputs" in spec else shipped_inputs([spec["name"]])


# ---- channels: how the worker asks a policy for actions ----------------------------------------


class _InlineChannel:
    """A trusted baseline, answered in this process by the policy host's own request handler."""

    applied = {"kind": "inline (trusted baseline)"}

    def __init__(self, spec: dict):
        from lrgym.leaderboard.policy_host import Host

        self.host = Host()
        # the spec only: a "load" request would also make the submission's folder, which a
        # baseline has none of, here in the machine's /tmp (the sandbox's host makes it in its own)
        self.host.spec = spec

    def request(self, msg) -> dict:
        try:
            return self.host.handle(msg)  # its PolicyError is the worker's (lrgym.leaderboard.failures)
        except MemoryError:
            raise PolicyError("MemoryError: out of memory") from None

    def close(self) -> None:
        pass


class _SandboxChannel:
    """A submission in its own sandboxed process."""

    def __init__(self, spec: dict, files: dict, limits: dict, namespaces_only: bool = False):
        from lrgym.leaderboard.sandbox import Limits, SandboxError, start

        self._error = SandboxError
        try:
            self.process = start(Limits(**limits), namespaces_only=namespaces_only)
        except SandboxError as exc:
            raise PolicyError(str(exc)) from None
        self.applied = {**self.process.mode, **self.process.applied}
        try:
            self.request(("load", spec, files))
        except BaseException:  # not kept by the worker: end it (and its folder) now
            self.process.close()
            raise

    def request(self, msg) -> dict:
        """Send ``msg``; an ``act``'s items ``(i, obs, info)`` go as ``(i, bytes)``, each episode's
        part pickled once here for the sandbox's host to forward (:mod:`~lrgym.leaderboard.step_message`)."""
        if msg[0] == "act":
            msg = (msg[0], msg[1], [(i, encode_act(obs, info)) for i, obs, info in msg[2]])
        try:
            return self.process.request(msg)
        except self._error as exc:
            raise PolicyError(str(exc)) from None

    def close(self) -> None:
        self.process.close()


def _action(value):
    """A policy's JSON answer as an env action (the env validates it)."""
    if isinstance(value, list):
        import numpy as np

        try:
            return np.asarray(value)
        except (ValueError, TypeError):
            return repr(value)[:200]
    return value


def episode_label(family: str, k: int, runs: list[tuple[int, int]], hidden: bool) -> str:
    """How messages name episode ``k`` of a job: by its place in the job, plus its instance and
    seed unless the suite is ``hidden`` (a private suite's instances and seeds are its secret, and
    a failure reason goes back to the submitter)."""
    label = f"{family}, episode {k + 1} of {len(runs)} of the job"
    return label if hidden else f"{label}: instance {runs[k][0]} seed {runs[k][1]}"


#: what the env's action-mode hint advises a policy class (lrgym.actions.action_mode_hint)
_CLASS_ATTRIBUTE_HINT = re.compile(r"a policy declares it as its class attribute action_mode = '(\w+)'\.")


def zip_action_hint(message: str) -> str:
    """An invalid-action message worded for an SB3 zip, which has no class attribute to set: its
    action mode is its model's action space's."""
    return _CLASS_ATTRIBUTE_HINT.sub(
        lambda m: ("an SB3 zip acts in the mode of its model's action space (Discrete: 'discrete', Box: 'log_lr'): "
                   "leave action_mode out of --env-options, or give there the one its action space has."), message)


def run_lockstep(channel, family: str, envs: list, runs: list[tuple[int, int]], name: str,
                 hidden: bool = False, zip_policy: bool = False) -> tuple:
    """Run one episode per ``(instance, seed)`` of ``runs``, in lockstep, each on its own env and
    policy instance: one message per step carries every live episode's observation and public
    info (copies). Returns (trajectories, seconds spent waiting for the policy).

    The policy learns neither instance ids (it could look answers up) nor seeds: the episodes
    are named to it by their place in the job (``hidden`` says whether the grader's own
    messages may name them); ``zip_policy``: the policy is an SB3 zip (an invalid action's hint
    is worded for it, :func:`zip_action_hint`)."""
    from lrgym.baselines.evaluation import Episode
    from lrgym.leaderboard.settings import public_info

    episodes = [Episode(env, seed, instance, name) for env, (instance, seed) in zip(envs, runs)]
    wheres = [episode_label(family, k, runs, hidden=True) for k in range(len(runs))]
    channel.request(("reset", family, [public_info(ep.info) for ep in episodes], wheres))
    waited, step = 0.0, 0
    while True:
        live = [i for i, ep in enumerate(episodes) if not ep.done]
        if not live:
            return [ep.trajectory for ep in episodes], waited
        t0 = time.perf_counter()
        reply = channel.request(("act", family, [(i, episodes[i].obs.copy(), public_info(episodes[i].info))
                                                 for i in live]))
        waited += time.perf_counter() - t0
        actions = reply.get("actions")
        if not isinstance(actions, list) or len(actions) != len(live):
            raise PolicyError("malformed reply from the policy process (wrong number of actions)")
        for i, action in zip(live, actions):
            try:
                episodes[i].step(_action(action))
            except (ValueError, TypeError, OverflowError) as exc:  # (OverflowError: a number float() cannot hold)
                reason = describe(exc)
                raise PolicyError(f"invalid action at step {step} ({episode_label(family, i, runs, hidden)}): "
                                  f"{zip_action_hint(reason) if zip_policy else reason}") from None
        step += 1


class _State:
    """What a worker keeps between jobs: one channel per policy, one env per settings."""

    def __init__(self):
        self.channels: dict[str, tuple] = {}
        self.envs: dict[str, list] = {}
        self.tasks: dict[str, object] = {}

    def channel(self, spec: dict, sandbox: dict | None, family: str, hidden: bool = False) -> tuple:
        """(channel, source sha256) of ``spec``: made on its first job, kept until the worker ends;
        a ``hidden`` (private) suite's sandbox only with namespaces (:func:`~lrgym.leaderboard.sandbox.private_refusal`)."""
        key = json.dumps(spec, sort_keys=True)
        if key not in self.channels:
            host_spec, files, source_hash = policy_files(spec, family)
            if sandbox is None:
                if spec.get("kind") != "baseline":
                    raise PolicyError("only the registered baselines may run outside the sandbox")
                channel = _InlineChannel(host_spec)
            else:
                # a private suite's submission (not a baseline sandboxed on request) only in namespaces
                channel = _SandboxChannel(host_spec, files, sandbox,
                                          namespaces_only=hidden and spec.get("kind") != "baseline")
            self.channels[key] = (channel, source_hash)
        return self.channels[key]

    def task_cache(self, kwargs: dict):
        """The built tasks shared by every env of this worker with the same family and options."""
        from collections import OrderedDict

        key = json.dumps([kwargs.get("family"), kwargs.get("family_options")], sort_keys=True, default=str)
        return self.tasks.setdefault(key, OrderedDict())

    def envs_for(self, kwargs: dict, n: int) -> list:
        """``n`` envs with these keywords, sharing their built tasks (each instance built once)."""
        from lrgym.env import LRControlEnv

        key = json.dumps(kwargs, sort_keys=True, default=str)
        envs = self.envs.setdefault(key, [])
        while len(envs) < n:
            envs.append(LRControlEnv(**kwargs, task_cache=self.task_cache(kwargs)))
        return envs[:n]

    def env(self, kwargs: dict):
        return self.envs_for(kwargs, 1)[0]

    def close(self) -> None:
        for channel, _ in self.channels.values():
            channel.close()
        self.channels.clear()


# ---- jobs ---------------------------------------------------------------------------------------


def _describe_policy(channel, family: str, runs: list[tuple[int, int]], job: dict) -> tuple[str, dict]:
    """(name, env keywords) of the policy for ``family``: the suite's settings plus its allowed
    choices; builds one new instance of it per episode of the job (``runs``: its (instance, seed)
    each; never reused from an earlier job: in the sandbox each in a fresh process, seeded with its
    run's stream seed, :class:`~lrgym.leaderboard.episode_host.EpisodeHost`)."""
    from lrgym.leaderboard.settings import SettingsError, episode_kwargs_from
    from lrgym.leaderboard.text import clean

    reply = channel.request(("policies", family, len(runs), _stream_seeds(job, runs)))
    try:
        kwargs = episode_kwargs_from(job["env_kwargs"], reply.get("choices") or {}, job.get("optimizers"))
    except SettingsError as exc:
        raise PolicyError(f"invalid policy settings: {clean(str(exc))}") from None
    return clean(str(reply.get("name") or "policy"), keep_newlines=False)[:100], kwargs


def _stream_seeds(job: dict, runs: list[tuple[int, int]]) -> list[int] | None:
    """The stream seed of each of ``runs`` (:func:`lrgym.leaderboard.global_streams.episode_stream_seed`),
    from the job's ``stream_seeds`` (``[instance, seed, stream seed]`` each, computed by the grader,
    :func:`lrgym.leaderboard.runner.run_suite`); None for a job without them (the default seed)."""
    if job.get("stream_seeds") is None:
        return None
    table = {(int(k), int(s)): int(v) for k, s, v in job["stream_seeds"]}
    return [table[run] for run in runs]


def _episodes(job: dict, state: _State) -> dict:
    """Every (instance, seed) of the job, in lockstep; trajectories instance by instance."""
    family = job["family"]
    runs = [(int(k), int(s)) for k in job["instances"] for s in job["seeds"]]
    channel, source_hash = state.channel(job["policy"], job.get("sandbox"), family, bool(job.get("hidden")))
    installed = _installed_module(job["policy"])
    if installed is not None:  # each job imports the file where it lies: its hash now, not the worker's first
        source_hash = installed_module_hash(installed)
    name, kwargs = _describe_policy(channel, family, runs, job)
    try:
        envs = state.envs_for(kwargs, len(runs))
    except (ValueError, TypeError, OverflowError) as exc:
        raise PolicyError(f"the policy's settings are invalid: {describe(exc)}") from None
    t0 = time.perf_counter()
    trajs, waited = run_lockstep(channel, family, envs, runs, name, hidden=bool(job.get("hidden")),
                                 zip_policy=job["policy"].get("kind") == "sb3")
    seconds = time.perf_counter() - t0
    channel.request(("end",))  # nothing of the job runs on beside the entry's next jobs (EpisodeHost)
    if installed is not None and (now := installed_module_hash(installed)) != source_hash:
        from lrgym.leaderboard.job_agreement import FILES_CHANGED

        raise PolicyError(f"{FILES_CHANGED}: module {installed}'s file changed while a job ran (source sha256 "
                          f"{source_hash or 'none'}, then {now or 'none'}), so no one version earned the score; "
                          "grade it again once its files stay as they are")
    trajectories = [t.to_dict() for t in trajs]
    info = {"name": name, "source_hash": source_hash, "env_kwargs": plain(kwargs),
            "sandbox": plain(getattr(channel, "applied", {})),
            "timing": {"seconds": seconds, "policy_seconds": waited, "steps": sum(len(t.lrs) for t in trajs)}}
    if job["policy"].get("kind") == "baseline":  # the files it was made from, read here (or by the driver)
        info["inputs"] = baseline_inputs(job["policy"])
    return {"trajectories": trajectories, "policy_info": info}


def _reference(job: dict, state: _State) -> dict:
    """The reference (best constant SGD LR, :mod:`lrgym.baselines.reference`) of one instance;
    the built tasks are shared with this worker's other jobs on the same family."""
    from lrgym.baselines.reference import ConstantLRRuns, TaskRunError
    from lrgym.leaderboard.references import reference_entry

    runs = ConstantLRRuns(job["env_kwargs"], int(job["instance"]), job["seeds"],
                          tasks=state.task_cache(job["env_kwargs"]))
    try:
        return {"reference": reference_entry(runs.search())}
    except TaskRunError as exc:  # the family's bug in its words and frames (not "grader error: " and the search's)
        raise FamilyError(f"{exc}\n{traceback_text(exc.__cause__)}") from exc


def run_job(job: dict, state: _State | None = None) -> dict:
    """Run one job (``op`` ``"episodes"`` or ``"reference"``); returns a JSON-able dict."""
    state = state if state is not None else _State()
    op = job.get("op")
    if op == "episodes":
        return _episodes(job, state)
    if op == "reference":
        return _reference(job, state)
    if op == "sleep":  # for tests of the pool itself
        time.sleep(float(job.get("seconds", 0)))
        return {}
    if op == "die":  # for tests of the pool itself: a worker that crashes after writing to stderr,
        # or ("signal") is killed by a signal; "once": a file path, only the first attempt dies (the
        # others reply with their pid and environment)
        marker = job.get("once")
        if marker is None or not os.path.exists(marker):
            if marker is not None:
                Path(marker).touch()
            sys.stderr.write(str(job.get("message", "")))
            sys.stderr.flush()
            if "signal" in job:
                os.kill(os.getpid(), int(job["signal"]))
                time.sleep(60)
            os._exit(int(job.get("code", 3)))
        return {"pid": os.getpid(), "environ": dict(os.environ)}
    if op == "kill_host":  # for tests of the Ray pool: the Ray worker hosting this worker dies
        marker = job.get("once")  # a file path: only the first attempt kills (it creates the file)
        if marker is None or not os.path.exists(marker):
            if marker is not None:
                Path(marker).touch()
            import signal

            os.kill(os.getppid(), signal.SIGKILL)
            time.sleep(60)  # PR_SET_PDEATHSIG ends this process with its host
        return {"pid": os.getpid()}
    raise ValueError(f"unknown job op {op!r}")


if __name__ == "__main__":
    main()
