"""The client matrix: other RL libraries run ``LRControl-v1`` unchanged, a few thousand env
steps each; works / fails and env steps per second into a Markdown table (``make clients``).

    python -m benchmarks.clients.matrix --steps 4096 --out benchmarks/clients/RESULTS.md --readme README.md
    python -m benchmarks.clients.matrix --only torchrl          # one client
    python -m benchmarks.clients.matrix --only torchrl --merge --out benchmarks/clients/RESULTS.md --readme README.md
                                                                # its row alone, the others kept

Every client runs in its own process (``python -m benchmarks.clients.matrix --client NAME``),
with a time limit, so one failing library cannot take the others down; the row records the
exception's last line. The libraries live in their own virtual environment (``.venv-clients``,
made by ``make clients``; torch pinned to the CPU build); ``gymnasium-utils`` runs in lrgym's
own ``.venv`` (``--core-python``), whose gymnasium is what ``.[all]`` resolves (1.2.2 on 2026-12-07,
as ``ray[rllib]`` 2.60 pins it: the same as ``.venv-clients``'s).

Rates are env steps per second of wall clock over the library's own loop (agent updates, worker
start-up and kernel loading included where the library does them inside its timed call), on a
shared 2-core machine: compare rows with that in mind, not with the speed table. Kernel
*compilation* is not in any row: one process first fills Numba's disk cache (``--warm-up``), so a
fresh clone's first client does not pay it alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ENV_ID = "LRControl-v1"
REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


# ---- the clients: each returns {"steps": int, "seconds": float, "note": str} ------------------


def client_sb3(steps: int) -> dict:
    """Stable-Baselines3 PPO on ``make_vec_env("lrgym:LRControl-v1", n_envs=4)`` (DummyVecEnv)."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from lrgym.baselines.train_sb3 import logger_without_folder

    torch.set_num_threads(1)
    venv = make_vec_env("lrgym:" + ENV_ID, n_envs=4, seed=0)
    model = PPO("MlpPolicy", venv, n_steps=256, batch_size=256, n_epochs=2, seed=0, verbose=0)
    model.set_logger(logger_without_folder())  # SB3's made an empty /tmp/SB3-<time> folder per learn
    start = time.perf_counter()
    model.learn(steps)
    return {"steps": model.num_timesteps, "seconds": time.perf_counter() - start, "note": "PPO, DummyVecEnv × 4"}


def client_sb3_batched(steps: int) -> dict:
    """SB3 PPO on lrgym's batched SB3 adapter (``lrgym.sb3.make_sb3_vec_env``)."""
    import torch
    from stable_baselines3 import PPO

    from lrgym.baselines.train_sb3 import logger_without_folder
    from lrgym.sb3 import make_sb3_vec_env

    torch.set_num_threads(1)
    venv = make_sb3_vec_env(ENV_ID, n_envs=4, seed=0)
    model = PPO("MlpPolicy", venv, n_steps=256, batch_size=256, n_epochs=2, seed=0, verbose=0)
    model.set_logger(logger_without_folder())  # SB3's made an empty /tmp/SB3-<time> folder per learn
    start = time.perf_counter()
    model.learn(steps)
    return {"steps": model.num_timesteps, "seconds": time.perf_counter() - start, "note": "PPO, `lrgym.sb3.make_sb3_vec_env` × 4"}


def client_rlzoo3(steps: int) -> dict:
    """rl-zoo3's train script, subprocess envs, hyperparameters from ``rlzoo_lrgym.yml``."""
    import tempfile

    with tempfile.TemporaryDirectory() as logs:
        cmd = [
            sys.executable, "-m", "rl_zoo3.train", "--algo", "ppo", "--env", ENV_ID, "--gym-packages", "lrgym",
            "-conf", str(HERE / "rlzoo_lrgym.yml"), "-n", str(steps), "--vec-env", "subproc",
            "--log-folder", logs, "--eval-freq", "-1", "--seed", "0",
        ]
        start = time.perf_counter()
        # SB3's logger in its log folder: without a folder of its own it made /tmp/SB3-<time>
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, env={**os.environ, "SB3_LOGDIR": logs})
        seconds = time.perf_counter() - start
        if out.returncode != 0:
            raise RuntimeError(out.stderr.strip().splitlines()[-1])
        done = [int(x) for x in re.findall(r"total_timesteps\s*\|\s*(\d+)", out.stdout)]
        fps = [int(x) for x in re.findall(r"\bfps\s*\|\s*(\d+)", out.stdout)]
    return {
        "steps": done[-1], "seconds": seconds, "steps_per_s": fps[-1] if fps else None,
        "note": "PPO, `--vec-env subproc` × 4, `--gym-packages lrgym`; rate = SB3's fps (env processes load the kernels first)",
    }


def client_cleanrl(steps: int) -> dict:
    """The CleanRL-style PPO script (``cleanrl_ppo.py``: SyncVectorEnv over ``gym.make``)."""
    cmd = [sys.executable, str(HERE / "cleanrl_ppo.py"), "--total-timesteps", str(steps)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, cwd=REPO)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {"steps": result["steps"], "seconds": result["seconds"], "note": "PPO, `gym.vector.SyncVectorEnv` × 4, id `lrgym:LRControl-v1`"}


def _rllib(steps: int, env) -> dict:
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig

    from lrgym.baselines.rllib_logdir import logdirs_in_temp

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    # the algorithm's logdir in a temp folder, removed after: RLlib's default made an empty
    # ~/ray_results/<date-time><random> folder at every run
    with logdirs_in_temp():
        try:
            config = (
                PPOConfig()
                .environment(env, env_config={"family": "mixed"} if not isinstance(env, str) else {})
                .env_runners(num_env_runners=1, num_envs_per_env_runner=2, rollout_fragment_length=256)
                .training(train_batch_size_per_learner=512, minibatch_size=256, num_epochs=2)
            )
            algo = config.build_algo()
            start, sampled = time.perf_counter(), 0
            for _ in range(100):
                result = algo.train()
                # an iteration whose env runner returned nothing within RLlib's sample timeout (a cold
                # Numba cache on a busy machine) has no env-runner metrics yet: keep training
                sampled = int((result.get("env_runners") or {}).get("num_env_steps_sampled_lifetime", sampled))
                if sampled >= steps:
                    break
            if sampled < steps:
                raise RuntimeError(f"only {sampled} env steps sampled in 100 iterations")
            seconds = time.perf_counter() - start
            algo.stop()
        finally:
            ray.shutdown()
    return {"steps": sampled, "seconds": seconds}


def client_rllib(steps: int) -> dict:
    """Ray RLlib PPO (new API stack), env given as ``"lrgym:LRControl-v1"``, one env runner."""
    out = _rllib(steps, "lrgym:" + ENV_ID)
    out["note"] = 'PPO, `config.environment("lrgym:LRControl-v1")`, 1 env runner × 2 envs'
    return out


def client_rllib_class(steps: int) -> dict:
    """RLlib with the env class: RLlib calls ``LRControlEnv(EnvContext)``."""
    from lrgym import LRControlEnv

    out = _rllib(steps, LRControlEnv)
    out["note"] = 'PPO, `config.environment(LRControlEnv, env_config={"family": "mixed"})`'
    return out


def gym_make_steps(actions, seeds: list[int], info_keys: tuple[str, ...] = (), **kwargs) -> dict:
    """The independent reference for a batched TorchRL rollout: ``gym.make(ENV_ID, **kwargs)``
    envs, sub-env i reset with ``seeds[i]`` and reset again (TorchRL's ``set_seed`` resets, then
    its collector or rollout does), stepped with ``actions[i]`` (``[n, T, ...]``), reset after
    every episode's end. Arrays ``[n, T, ...]`` of the root and next observations, rewards,
    ``terminated`` and ``truncated``, and the values of ``info_keys`` (also
    ``tests/test_torchrl.py``'s reference)."""
    import gymnasium as gym
    import numpy as np

    import lrgym  # noqa: F401  (registers the ids)

    keys = ("root", "next", "reward", "terminated", "truncated", *info_keys)
    out: dict = {k: [] for k in keys}
    for i, seed in enumerate(seeds):
        env = gym.make(ENV_ID, **kwargs)
        env.reset(seed=seed)
        obs, _ = env.reset()
        rows: dict = {k: [] for k in keys}
        for action in actions[i]:
            rows["root"].append(obs)
            obs, reward, terminated, truncated, info = env.step(action)
            for key, value in zip(keys[1:], (obs, reward, terminated, truncated, *(info[k] for k in info_keys))):
                rows[key].append(value)
            if terminated or truncated:
                obs, _ = env.reset()
        env.close()
        for key in keys:
            out[key].append(np.array(rows[key]))
    return {key: np.stack(value) for key, value in out.items()}


def torchrl_steps_wrong(td) -> str | None:
    """Compare a TorchRL batch ``[n, T]`` (categorical actions, sub-env i seeded ``i``) with
    :func:`gym_make_steps` on the same actions: None when every root and next observation, reward
    (as float32, TorchRL's dtype), ``terminated`` and ``truncated`` flag is ``gym.make``'s to the
    bit, else what differs, where, and how many steps."""
    import numpy as np

    actions = td["action"].numpy()
    ref = gym_make_steps(actions, list(range(actions.shape[0])))
    got = {
        "root": td["observation"].numpy(), "next": td["next", "observation"].numpy(),
        "reward": td["next", "reward"].squeeze(-1).numpy(),
        "terminated": td["next", "terminated"].squeeze(-1).numpy(),
        "truncated": td["next", "truncated"].squeeze(-1).numpy(),
    }
    ref["reward"] = ref["reward"].astype(np.float32)
    ends = ref["terminated"] | ref["truncated"]
    wrong = np.zeros(actions.shape[:2], bool)
    first = []
    for key, value in got.items():
        bad = (value != ref[key]).reshape(*actions.shape[:2], -1).any(-1)
        wrong |= bad
        if bad.any():
            i, t = np.argwhere(bad)[0]
            where = (
                " (an episode's last step)" if ends[i, t]
                else " (after an episode's end)" if t and ends[i, t - 1]
                else " (the first step: the seeded reset, no episode end involved)" if t == 0 else ""
            )
            if key in ("root", "next"):
                what = "all zeros" if not value[i, t].any() else "differs"
                first.append(f"{key} observation {what} at sub-env {i} step {t}{where}")
            else:
                first.append(f"{key} {value[i, t].item():.4g} (gym.make {ref[key][i, t].item():.4g}) at sub-env {i} step {t}{where}")
    if not wrong.any():
        return None
    return (
        f"{wrong.sum()} of {wrong.size} steps differ from `gym.make`'s on the same actions ({ends.sum()} episode ends); "
        "first: " + "; ".join(first)
    )


def _torchrl_run(env, steps: int) -> dict:
    """Specs checked, a random-policy collector for ``steps`` frames from ``set_seed(0)``, timed,
    and every frame checked against ``gym.make`` (:func:`torchrl_steps_wrong`, not timed)."""
    import torch
    from torchrl.collectors import Collector
    from torchrl.envs.utils import check_env_specs

    check_env_specs(env)
    torch.manual_seed(0)  # the random policy's actions
    env.set_seed(0)
    collector = Collector(env, None, frames_per_batch=512, total_frames=steps)
    start, batches = time.perf_counter(), []
    for batch in collector:
        batches.append(batch)
    seconds = time.perf_counter() - start
    collector.shutdown()
    env.close()
    td = torch.cat(batches, dim=1)  # [n envs, time]
    wrong = torchrl_steps_wrong(td)
    if wrong:
        raise RuntimeError(wrong)
    keys = sorted(k for k in td["next"].keys() if k in ("family", "excess_loss", "train_loss"))
    return {"steps": td.numel(), "seconds": seconds, "keys": keys}


def client_torchrl(steps: int) -> dict:
    """TorchRL as README's "TorchRL" section says: ``GymWrapper`` over lrgym's vector env with
    ``autoreset_mode="Disabled"`` (TorchRL resets finished sub-envs by ``reset_mask``), info keys
    registered; every collected frame checked against ``gym.make``."""
    import gymnasium as gym
    import torch
    from torchrl.envs import GymWrapper

    import lrgym  # noqa: F401

    torch.set_num_threads(1)
    venv = gym.make_vec(ENV_ID, num_envs=4, vectorization_mode="vector_entry_point", autoreset_mode="Disabled")
    env = GymWrapper(venv, categorical_action_encoding=True)
    env.auto_register_info_dict()
    out = _torchrl_run(env, steps)
    out["note"] = (
        '`GymWrapper(gym.make_vec(id, 4, autoreset_mode="Disabled"))` + `check_env_specs`, `auto_register_info_dict`; '
        f"random policy; every frame = `gym.make`'s on the same actions, to the bit; info keys in the batch e.g. {out.pop('keys')}"
    )
    return out


def client_torchrl_gymenv(steps: int) -> dict:
    """TorchRL's own batched ``GymEnv(id, num_envs=4)`` (an ``AsyncVectorEnv`` in gymnasium's
    ``NEXT_STEP`` autoreset mode), checked like :func:`client_torchrl`: with TorchRL 0.14.1 its
    episode ends differ from ``gym.make``'s (docs/upstream/torchrl-gymenv-autoreset.md)."""
    import torch
    from torchrl.envs import GymEnv

    torch.set_num_threads(1)
    out = _torchrl_run(GymEnv("lrgym:" + ENV_ID, num_envs=4, categorical_action_encoding=True), steps)
    out["note"] = "`GymEnv(id, num_envs=4)` (AsyncVectorEnv); every frame = `gym.make`'s on the same actions, to the bit"
    out.pop("keys")
    return out


def client_gymnasium_utils(steps: int) -> dict:
    """gymnasium's own utilities: ``benchmark_init``, ``benchmark_step`` (random actions, resets
    included), ``benchmark_vector_step`` where this gymnasium has it."""
    import gymnasium as gym
    from gymnasium.utils import performance

    import lrgym  # noqa: F401

    init = performance.benchmark_init(lambda: gym.make(ENV_ID), target_duration=2)
    env = gym.make(ENV_ID)
    start = time.perf_counter()
    rate = performance.benchmark_step(env, target_duration=max(2.0, steps / 1000))
    seconds = time.perf_counter() - start
    note = f"`benchmark_step` {rate:,.0f} steps/s; `benchmark_init` {init:,.2f} inits/s"
    if hasattr(performance, "benchmark_vector_step"):
        venv = gym.make_vec(ENV_ID, num_envs=4, vectorization_mode="vector_entry_point")
        vrate = performance.benchmark_vector_step(venv, target_duration=2)
        note += f"; `benchmark_vector_step` (4 envs) {vrate:,.0f} vector steps/s"
    return {"steps": int(round(rate * seconds)), "seconds": seconds, "steps_per_s": rate, "note": note, "gymnasium": gym.__version__}


CLIENTS = {
    "sb3": ("Stable-Baselines3", client_sb3),
    "sb3-batched": ("Stable-Baselines3 + lrgym's batched VecEnv", client_sb3_batched),
    "rl-zoo3": ("rl-zoo3 (`rl_zoo3.train`)", client_rlzoo3),
    "cleanrl": ("CleanRL-style PPO (`benchmarks/clients/cleanrl_ppo.py`)", client_cleanrl),
    "rllib": ("Ray RLlib (env id)", client_rllib),
    "rllib-class": ("Ray RLlib (env class, `EnvContext`)", client_rllib_class),
    "torchrl": ("TorchRL", client_torchrl),
    "torchrl-gymenv": ("TorchRL `GymEnv(id, num_envs=4)`", client_torchrl_gymenv),
    "gymnasium-utils": ("gymnasium's benchmark utilities", client_gymnasium_utils),
}
# clients known to fail, and why: their ❌ row is the finding, not a failure of `make clients`
KNOWN_BROKEN = {"torchrl-gymenv": "TorchRL 0.14.1 mishandles gymnasium's NEXT_STEP autoreset (docs/upstream/torchrl-gymenv-autoreset.md)"}
PACKAGES = {
    "sb3": "stable-baselines3", "sb3-batched": "stable-baselines3", "rl-zoo3": "rl-zoo3", "cleanrl": "torch",
    "rllib": "ray", "rllib-class": "ray", "torchrl": "torchrl", "torchrl-gymenv": "torchrl",
    "gymnasium-utils": "gymnasium",
}


def run_client(name: str, steps: int) -> dict:
    """Run one client in this process; never raises (the row records the error)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        pkg_version = version(PACKAGES[name])
    except PackageNotFoundError:
        pkg_version = None
    row = {"client": name, "package": PACKAGES[name], "version": pkg_version}
    try:
        out = CLIENTS[name][1](steps)
        row.update(out, works=True)
        row.setdefault("steps_per_s", out["steps"] / out["seconds"])
        if "gymnasium" in out:
            row["version"] = out.pop("gymnasium")
    except Exception as err:  # a failing library is a row, not a crash
        row.update(works=False, error=f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}")
    return row


def warm_up_kernels() -> None:
    """Compile (or load) every Numba kernel ``LRControl-v1`` can need, through ``gym.make`` and
    lrgym's vector env (``benchmarks.harness.warm_up``), so that they sit in Numba's disk cache."""
    from benchmarks.harness import warm_up

    for mode in ("sync", "vector_entry_point"):
        warm_up(ENV_ID, mode)


def run_warm_up(python: str, timeout: float) -> float:
    """:func:`warm_up_kernels` in a process of its own before any client runs, untimed: seconds
    taken. Without it the first client's timed loop held the compilation of the kernels its
    instances met (a fresh clone's cache is cold: Numba keys it on the source files' times), 28
    env steps/s for SB3 on 2026-12-07 where the next rows read 57 – 169."""
    start = time.perf_counter()
    out = subprocess.run([python, "-m", "benchmarks.clients.matrix", "--warm-up"], capture_output=True, text=True, timeout=timeout, cwd=REPO)
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"the kernels' warm-up failed (exit {out.returncode}): {tail}")
    return time.perf_counter() - start


def run_isolated(name: str, steps: int, python: str, timeout: float) -> dict:
    cmd = [python, "-m", "benchmarks.clients.matrix", "--client", name, "--steps", str(steps)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"client": name, "works": False, "error": f"no result within {timeout:.0f} s"}
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"client": name, "works": False, "error": f"exit {out.returncode}: {tail}"}
    return json.loads(lines[-1])


def table(rows: list[dict]) -> str:
    lines = ["| client | version | works | env steps | env steps/s | how |", "|---|---|:---:|---:|---:|---|"]
    for r in rows:
        label = CLIENTS[r["client"]][0]
        version = f"{r.get('package', '')} {r.get('version') or ''}".strip()
        if r.get("works"):
            lines.append(f"| {label} | {version} | ✅ | {r['steps']:,} | {r['steps_per_s']:,.0f} | {r.get('note', '')} |")
        else:
            lines.append(f"| {label} | {version} | ❌ | – | – | {r.get('error', '')} |")
    return "\n".join(lines)


def replace_between(text: str, begin: str, end: str, body: str) -> str:
    i, j = text.index(begin) + len(begin), text.index(end)
    return text[:i] + "\n" + body + "\n" + text[j:]


#: the note :func:`main` appends to the header for a ``--merge`` run (:func:`rerun_note`), read back
#: by :func:`merge_rows` to drop the rows a later merge runs again
RERUN_NOTE = re.compile(r" Rows (?P<rows>.+?): run again on (?P<rest>.+?); the other rows are from the run named first\.")


def rerun_note(names: list[str], started: str, steps: int, load: float, python: str) -> str:
    """What the header says of a ``--merge`` run of the clients ``names``: when, how many env steps
    per client (the header's are the first run's) and how (read back by :data:`RERUN_NOTE`)."""
    return (
        f"Rows {', '.join(CLIENTS[n][0] for n in names)}: run again on {started} UTC with {steps:,} env steps "
        f"per client (`--only {' --only '.join(names)} --merge`, Python {platform.python_version()} `{python}`, "
        f"load average {load:.1f} at the start); the other rows are from the run named first."
    )


def _note_labels(text: str) -> list[str] | None:
    """The client labels of a note's ``Rows A, B`` (labels hold ", " themselves: matched whole,
    longest first); None if ``text`` is not such a list."""
    labels, known = [], sorted((label for label, _ in CLIENTS.values()), key=len, reverse=True)
    while text:
        label = next((k for k in known if text == k or text.startswith(k + ", ")), None)
        if label is None:
            return None
        labels.append(label)
        text = text[len(label) + 2:]
    return labels


def _without_rows(header: str, rerun: set[str]) -> str:
    """``header`` with the rows ``rerun`` taken out of its earlier merges' notes (a note left with
    no row is dropped): a row is described by the note of the run that made it only."""
    def drop(match):
        labels = _note_labels(match["rows"])
        if labels is None:
            return match[0]
        left = [label for label in labels if label not in rerun]
        return f" Rows {', '.join(left)}: run again on {match['rest']}; the other rows are from the run named first." if left else ""

    return RERUN_NOTE.sub(drop, header)


def merge_rows(report: str, rows: list[dict], note: str) -> str:
    """``report`` (a header paragraph, then a table made by :func:`table`) with the rows of the
    clients in ``rows`` replaced or added (in ``CLIENTS`` order), every other row kept as it was,
    and ``note`` (when and how these rows were run) appended to the header paragraph, whose notes of
    earlier merges no longer name these rows (until 2026-12-07 a second merge of a row left the
    first merge's note naming it too: the header said the row was run at both times)."""
    header, _, old_table = report.strip().partition("\n\n")
    old_lines = old_table.strip().splitlines()
    kept = {}
    for line in old_lines[2:]:
        label = line.split(" | ")[0].removeprefix("| ")
        kept[label] = line
    new_lines = dict(zip((CLIENTS[r["client"]][0] for r in rows), table(rows).splitlines()[2:]))
    lines = []
    for label, _ in CLIENTS.values():
        if label in new_lines or label in kept:
            lines.append(new_lines.get(label) or kept.pop(label))
        kept.pop(label, None)
    lines += kept.values()  # rows of clients this matrix no longer has: kept, at the end
    return f"{_without_rows(header, set(new_lines))} {note}\n\n" + "\n".join(old_lines[:2] + lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--client", choices=list(CLIENTS), help="run one client in this process, print its row as JSON")
    p.add_argument("--only", action="append", choices=list(CLIENTS), help="run only these clients (repeatable)")
    p.add_argument("--steps", type=int, default=4096, help="env steps per client")
    p.add_argument("--timeout", type=float, default=1200, help="seconds per client")
    p.add_argument("--core-python", default=str(REPO / ".venv" / "bin" / "python"), help="interpreter for gymnasium-utils")
    p.add_argument("--out", help="write the Markdown report here")
    p.add_argument("--readme", help="replace the table between the clients-table markers of this file")
    p.add_argument(
        "--merge", action="store_true",
        help="with --only: replace only these clients' rows in --out / --readme, keep the other rows and the header (noting this run)",
    )
    p.add_argument("--warm-up", action="store_true", help="compile every kernel of the id into Numba's cache, then exit (main does it first)")
    args = p.parse_args(argv)
    if args.warm_up:
        warm_up_kernels()
        return 0
    if args.client:
        print(json.dumps(run_client(args.client, args.steps)))
        return 0

    if args.merge and not args.only:
        p.error("--merge replaces the rows of the clients given with --only: name them")
    names = args.only or list(CLIENTS)
    rows = []
    started, load = time.strftime("%Y-%m-%d %H:%M"), os.getloadavg()
    print(f"  kernels warmed up in {run_warm_up(sys.executable, args.timeout):.0f} s (untimed)", file=sys.stderr, flush=True)
    for name in names:
        python = args.core_python if name == "gymnasium-utils" and os.path.exists(args.core_python) else sys.executable
        row = run_isolated(name, args.steps, python, args.timeout)
        status = f"{row['steps_per_s']:,.0f} steps/s" if row.get("works") else f"FAILED: {row.get('error')}"
        print(f"  {name:<16} {status}", file=sys.stderr, flush=True)
        rows.append(row)
    header = (
        f"`make clients` on {started} UTC: `{ENV_ID}` (default settings, a new train instance every "
        f"episode), {args.steps:,} env steps per client; {platform.machine()}, {os.cpu_count()} cores "
        f"shared with other work (load average {load[0]:.1f} at the start); Python {platform.python_version()}; "
        "every kernel in Numba's cache before the first client (`--warm-up`, untimed)."
    )
    text = header + "\n\n" + table(rows) + "\n"
    print(text)
    begin, end, title = "<!-- clients-table:begin -->", "<!-- clients-table:end -->", "# Client matrix\n\n"
    python = os.path.relpath(sys.executable, REPO) if Path(sys.executable).is_relative_to(REPO) else sys.executable
    note = rerun_note(names, started, args.steps, load[0], python)
    if args.out:
        path = Path(args.out)
        body = merge_rows(path.read_text().removeprefix(title), rows, note) if args.merge else text
        path.write_text(title + body)
    if args.readme:
        path = Path(args.readme)
        old = path.read_text()
        body = merge_rows(old[old.index(begin) + len(begin):old.index(end)], rows, note) if args.merge else text
        path.write_text(replace_between(old, begin, end, body))
    return 0 if all(r.get("works") or r["client"] in KNOWN_BROKEN for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
