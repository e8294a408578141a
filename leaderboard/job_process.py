"""The processes that run a submission's code (step 5 of :mod:`lrgym.leaderboard.policy_host`):
one *job process* per job and one *episode process* per episode of the job, forked from it.

The job process (:func:`job_main`, forked by the job's waiter, :mod:`lrgym.leaderboard.job_starter`)
first gets what the job has of its own (``enter``:
:mod:`lrgym.leaderboard.job_isolation`), then loads the policy once (an ``object`` policy's
module, an SB3 zip's model), freezes its objects out of the garbage collector and forks one
episode process per episode. Each episode process builds its own instance in a folder of its
own, from its run's own global random streams (:mod:`lrgym.leaderboard.global_streams`), and
answers its episode's ``reset`` and ``act`` over its pipe to the pristine host
(:class:`lrgym.leaderboard.episode_host.EpisodeHost`); the job process reports their pids and
how each ended. Anything the policy raises becomes the reply
(:func:`lrgym.leaderboard.host_messages.failure_reply`).
"""

from __future__ import annotations

import os

from lrgym.leaderboard import sandbox_root
from lrgym.leaderboard.failures import PolicyError, describe, traceback_text
from lrgym.leaderboard.global_streams import POLICY_RANDOM_SEED, seed_global_streams
from lrgym.leaderboard.host_messages import failure_reply, send_reply
from lrgym.leaderboard.libc import die_with_parent
from lrgym.leaderboard.policy_loading import build_policy, described, import_target, plain_action
from lrgym.leaderboard.step_message import decode_message

__all__ = ["job_main"]


def job_main(spec: dict, family: str, conns: list, status, namespaces: bool, enter=None,
             stream_seeds: list[int] | None = None) -> None:
    """The job process (see :class:`~lrgym.leaderboard.episode_host.EpisodeHost`): load the policy
    once, fork one process per episode (``conns[k]``: episode k's end of its pipe to the pristine
    host; ``stream_seeds[k]``: the seed of its global streams, from the grader, by default
    :data:`~lrgym.leaderboard.global_streams.POLICY_RANDOM_SEED`), then report their pids and how
    each ended on ``status`` until none is left.

    Loaded here, before the forks, so that every episode shares it copy-on-write: an ``object``
    policy's module (its top-level code); an SB3 zip's whole policy, torch and stable_baselines3
    imported and the model loaded (each episode's process used to import both and load the model
    itself: 1 – 2 s of CPU and ≈ 80 MB per episode); for a trusted baseline (``bench
    --isolation`` runs them here) the baseline registry, as a submission's module would be (each
    episode importing it cost ≈ 16 ms). A failure here is every episode's reply."""
    import gc
    import json

    if not namespaces:
        os.setpgid(0, 0)  # the job, its episodes and their children: killed as one group at its end
    os.chdir(os.path.join(sandbox_root.ROOT, "work"))  # made anew by the last clean-up (the host's cwd was removed)
    loaded: dict = {}
    try:
        if enter is not None:  # its own output, IPC namespace and uid (enter_job)
            enter()
        seed_global_streams()  # what the module draws at its import is the same in every job
        if spec.get("kind") == "object":
            loaded["obj"] = import_target(spec)
        elif spec.get("kind") == "sb3":
            loaded["sb3"] = build_policy(spec, family, loaded)
        elif spec.get("kind") == "baseline":  # trusted (the isolation benchmark): its registry, once
            import lrgym.baselines.registry  # noqa: F401
    except BaseException as exc:  # noqa: BLE001 - everything a policy can throw is a result
        try:
            data = json.dumps(failure_reply(exc)).encode()
        except (TypeError, ValueError) as err:
            data = json.dumps({"ok": False, "reason": f"unencodable reply: {err}"}).encode()
        for conn in conns:
            try:
                conn.send_bytes(data)
            except OSError:
                pass
        return
    gc.collect()  # (the job's own objects: the job starter froze what it had, _starter_main)
    gc.freeze()  # the job's objects stay shared with every episode's process (no copy by the GC)
    pids = []
    with_job = die_with_parent()  # looked up before the forks: the policy's import may have started threads
    for k, conn in enumerate(conns):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the episode's process
            try:
                with_job()  # ends with the job process (without namespaces nothing else ends it)
                status.close()
                for other in conns[k + 1:]:
                    other.close()
                seed = stream_seeds[k] if stream_seeds is not None else POLICY_RANDOM_SEED
                _episode_main(spec, family, loaded, k, conn, namespaces, seed)
            finally:
                os._exit(0)
        pids.append(pid)
        conn.close()
    try:
        status.send_bytes(json.dumps({"pids": pids}).encode())
        while True:
            try:
                pid, st = os.waitpid(-1, 0)
            except ChildProcessError:
                return
            except InterruptedError:  # pragma: no cover
                continue
            status.send_bytes(json.dumps({"pid": pid, "status": st}).encode())
    except OSError:  # the host closed its end: the job is over
        return


def _episode_main(spec: dict, family: str, loaded: dict, k: int, conn, namespaces: bool, seed: int) -> None:
    """One episode's process: seed its global streams with ``seed`` (its run's), build the
    instance in a folder of its own, then answer ``reset`` and ``act`` for it until the pristine
    host closes the connection."""
    work = os.path.join(sandbox_root.ROOT, "work", str(k))
    os.makedirs(work, mode=0o700, exist_ok=True)
    os.chdir(work)
    os.environ.update(HOME=work, TMPDIR=work)
    import tempfile

    tempfile.tempdir = None
    policy, step, where = None, 0, f"episode {k + 1} of the job"
    while True:
        try:
            if policy is None:
                reply = {"ok": True}
                seed_global_streams(seed)  # its run's draws, whatever its job (global_streams)
                policy = build_policy(spec, family, loaded)
                reply = described([policy])
            else:
                try:
                    msg = decode_message(conn.recv_bytes())  # a flat-layout act, or a pickle
                except (EOFError, OSError):
                    return
                if msg[0] == "reset":
                    _, info, where = msg
                    try:
                        policy.reset(info)
                    except BaseException as exc:  # noqa: BLE001
                        raise PolicyError(f"policy raised in reset() ({where}): {describe(exc)}\n"
                                          f"{traceback_text(exc, skip=1)}") from None
                    step, reply = 0, {"ok": True}
                else:
                    _, obs, info = msg
                    try:
                        action = policy.act(obs, info)
                    except BaseException as exc:  # noqa: BLE001
                        raise PolicyError(f"policy raised in act() at step {step} ({where}): "
                                          f"{describe(exc)}\n{traceback_text(exc, skip=1)}") from None
                    step += 1
                    reply = {"ok": True, "action": plain_action(action)}
        except BaseException as exc:  # noqa: BLE001 - everything a policy can throw is a result
            reply = failure_reply(exc)
        if not send_reply(conn, reply):
            return
        if policy is None or not reply.get("ok"):
            return  # it failed: the job fails with this reply
