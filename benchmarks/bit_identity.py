"""Evidence that a refactoring changed no trajectory: fingerprints to the bit, before vs after.

``dump`` fingerprints built instances (every array and number of a task, a fresh training
state and its first evaluation; :data:`INSTANCE_SEEDS` of each family) and runs every registered id as a single env and as the vector env (all three autoreset
modes) with fixed seeds and fixed action sequences, and fingerprints every observation, reward,
flag and info value (SHA-256 of their bytes), plus the final training loss of every episode as a
float's hex. ``compare`` reads two such dumps and, optionally, two leaderboard exports
(``lrgym leaderboard export --format json``) and reports every per-run final loss and score that
differs in any bit::

    python -m benchmarks.bit_identity dump before.json          # on the old commit
    python -m benchmarks.bit_identity dump after.json           # on the new one, same machine
    python -m benchmarks.bit_identity compare before.json after.json \\
        --board before_board.json after_board.json

Both sides come from the same code paths on the same machine: no number recorded elsewhere is
compared (NumPy's CPU-dispatched math may differ in the last bit between CPU kinds).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

import gymnasium as gym
import numpy as np

import lrgym  # noqa: F401  (registers the ids)
from lrgym.registry import ENV_IDS

#: settings run per id besides the defaults (both action modes, an adaptive optimizer, rejection)
VARIANTS = {
    "default": {"horizon": 12},
    "log_lr_adam": {"horizon": 9, "action_mode": "log_lr", "optimizer": "adam"},
    "reject": {"horizon": 7, "rejection_threshold": 0.02, "optimizer": "momentum"},
}
SEEDS = (0, 1, 2)
STEPS = 30  # several episodes (autoresets) per sub-env


def _actions(space, rng: np.random.Generator, n: int):
    """A fixed action sequence drawn from ``rng`` (integers or exact dyadic floats: no libm)."""
    if isinstance(space, gym.spaces.Discrete):
        return [int(a) for a in rng.integers(0, space.n, size=n)]
    return [np.array([x], dtype=np.float32) for x in rng.integers(-8, 9, size=n) / 8.0]


def _digest(h, value) -> None:
    if isinstance(value, dict):
        for key in sorted(value):
            h.update(key.encode())
            _digest(h, value[key])
    elif isinstance(value, (list, tuple)):
        for v in value:
            _digest(h, v)
    elif value is None:
        h.update(b"None")
    else:
        arr = np.asarray(value)
        if arr.dtype == object:
            for v in arr.ravel():
                _digest(h, v)
        else:
            h.update(arr.dtype.str.encode())
            h.update(np.ascontiguousarray(arr).tobytes())


def single_env_run(env_id: str, kwargs: dict, seed: int) -> dict:
    env = gym.make(env_id, **kwargs).unwrapped  # the raw env: wrappers add no numbers
    rng = np.random.default_rng(1000 + seed)
    actions = _actions(env.action_space, rng, STEPS)
    h = hashlib.sha256()
    obs, info = env.reset(seed=seed)
    _digest(h, (obs, info))
    finals = []
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        _digest(h, (obs, np.float64(r), term, trunc, info))
        if term or trunc:
            finals.append(float(info["train_loss"]).hex())
            obs, info = env.reset()
            _digest(h, (obs, info))
    return {"sha256": h.hexdigest(), "final_losses": finals}


def vector_env_run(env_id: str, kwargs: dict, seed: int, mode: str, n: int = 3) -> dict:
    envs = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", autoreset_mode=mode, **kwargs)
    rng = np.random.default_rng(2000 + seed)
    actions = [np.array(_actions(envs.single_action_space, rng, n)) for _ in range(STEPS)]
    h = hashlib.sha256()
    obs, infos = envs.reset(seed=seed)
    _digest(h, (obs, infos))
    finals = []
    for a in actions:
        obs, r, term, trunc, infos = envs.step(a)
        _digest(h, (obs, r, term, trunc, infos))
        done = term | trunc
        finals.extend(float(x).hex() for x in infos["train_loss"][done])
        if mode == "Disabled" and done.any():
            obs, infos = envs.reset(options={"reset_mask": done})
            _digest(h, (obs, infos))
    envs.close()
    return {"sha256": h.hexdigest(), "final_losses": finals}


#: instances fingerprinted by ``dump`` (besides the env runs): family options → seeds
INSTANCE_FAMILIES = {
    "linreg": {}, "quadratic": {}, "mlp": {}, "recsys": {},
    "mlp/digits": {"dataset": "digits"}, "mlp/breast_cancer": {"dataset": "breast_cancer"},
}
INSTANCE_SEEDS = (*range(0, 10_000, 125), *range(10_000, 10_200, 10), *range(20_000, 20_200, 10))


def _task_digest(h, value, depth: int = 0) -> None:
    """Every array and number a built task holds (its attributes, recursively through
    containers and plain objects, two levels deep); compiled kernels and classes skipped."""
    if isinstance(value, (np.ndarray, np.generic, int, float, bool, str)) or value is None:
        _digest(h, value)
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            if key == "scratch":  # a state's work buffers: their layout is the kernel's business
                continue
            h.update(str(key).encode())
            _task_digest(h, value[key], depth)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _task_digest(h, v, depth)
    elif hasattr(value, "__dict__") and depth < 2 and not isinstance(value, type) and not callable(value):
        _task_digest(h, vars(value), depth + 1)


def instance_fingerprints() -> dict:
    """SHA-256 per built instance: its arrays and numbers (spec included), a fresh training
    state drawn from a fixed generator (without its ``scratch`` work buffers, whose layout a
    kernel may change), and one evaluation of it."""
    from lrgym.tasks import make_family
    from lrgym.tasks.base import N_STATS
    from lrgym.tasks.cache import build_task

    out = {}
    for label, options in INSTANCE_FAMILIES.items():
        fam = make_family(label.split("/")[0], **options)
        for seed in INSTANCE_SEEDS:
            task = build_task(fam, fam.sample(seed))
            h = hashlib.sha256()
            _task_digest(h, vars(task))
            state = task.new_state(np.random.default_rng(seed))
            _task_digest(h, vars(state))
            stats = np.zeros(N_STATS)
            task.evaluate(state, stats)
            _digest(h, stats)
            out[f"instance/{label}/{seed}"] = {"sha256": h.hexdigest(), "final_losses": []}
        print(label, "instances done", file=sys.stderr, flush=True)
    return out


def dump(path: str, instances_only: bool = False) -> None:
    out: dict = instance_fingerprints()
    if instances_only:
        with open(path, "w") as f:
            json.dump(out, f, indent=1, sort_keys=True)
        return
    for env_id in ENV_IDS:
        for variant, kwargs in VARIANTS.items():
            for seed in SEEDS:
                out[f"single/{env_id}/{variant}/{seed}"] = single_env_run(env_id, kwargs, seed)
            for mode in ("NextStep", "SameStep", "Disabled"):
                out[f"vector/{env_id}/{variant}/{mode}"] = vector_env_run(env_id, kwargs, 0, mode)
        print(env_id, "done", file=sys.stderr, flush=True)
    with open(path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)


def _board_rows(path: str) -> dict:
    """Every per-run value and trajectory point of a leaderboard JSON export, keyed by what
    identifies it (entry name, family, instance, seed[, step]); floats as hex (every bit)."""
    with open(path) as f:
        data = json.load(f)

    def exact(v):
        return float(v).hex() if isinstance(v, float) else v

    out = {}
    for table, ident in (("entries", ("name",)), ("runs", _RUN_KEY), ("trajectories", _RUN_KEY + ("step",))):
        for row in data[table]:
            key = (table,) + tuple(row[k] for k in ident)
            out[key] = {k: exact(v) for k, v in row.items() if k not in _VOLATILE}
    return out


#: what identifies a run in an export; columns that differ between two runs of the same board
_RUN_KEY = ("name", "family", "instance", "seed")
_VOLATILE = ("entry_id", "created_at", "policy_source_hash")


def compare(before: str, after: str, board: list[str] | None) -> int:
    with open(before) as f:
        a = json.load(f)
    with open(after) as f:
        b = json.load(f)
    bad = 0
    if set(a) != set(b):
        print("different runs:", sorted(set(a) ^ set(b)))
        bad += 1
    same = 0
    for key in sorted(set(a) & set(b)):
        if a[key] != b[key]:
            print("DIFFERS:", key)
            bad += 1
        else:
            same += 1
    print(f"env fingerprints: {same} identical, {bad} different "
          f"({sum(len(v['final_losses']) for v in a.values())} episode final losses)")
    if board:
        ra, rb = _board_rows(board[0]), _board_rows(board[1])
        diff = sorted((k for k in set(ra) | set(rb) if ra.get(k) != rb.get(k)), key=str)
        counts = {t: sum(1 for k in ra if k[0] == t) for t in ("entries", "runs", "trajectories")}
        print(f"leaderboard rows (before): {counts}; {len(rb)} rows after; {len(diff)} differ in any bit")
        for k in diff[:20]:
            print("  DIFFERS:", k, ra.get(k), rb.get(k))
        bad += len(diff)
    return 1 if bad else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out")
    d.add_argument("--instances-only", action="store_true", help="only the built instances' fingerprints")
    c = sub.add_parser("compare")
    c.add_argument("before")
    c.add_argument("after")
    c.add_argument("--board", nargs=2, metavar=("BEFORE", "AFTER"))
    args = p.parse_args(argv)
    if args.cmd == "dump":
        dump(args.out, args.instances_only)
        return 0
    return compare(args.before, args.after, args.board)


if __name__ == "__main__":
    sys.exit(main())
