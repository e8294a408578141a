"""Evidence that a refactoring changed no trajectory: fingerprints to the bit, before vs after.

``dump`` fingerprints built instances (every array and number of a task, a fresh training
state and its first evaluation; :data:`INSTANCE_SEEDS` of each family), the recommender's kernel
under fixed LRs (:func:`recsys_kernel_runs`: parameters, optimizer slots, RNG word and every
statistic, the gradient features ‖g‖, g·g_prev, cos apart), and runs every registered id as a
single env and as the vector env (all three autoreset modes) with fixed seeds and fixed action
sequences, and fingerprints every observation, reward, flag and info value (SHA-256 of their
bytes; a second digest leaves out the observations and the ``grad_*`` infos), plus the final
training loss of every episode as a float's hex. ``compare`` counts runs that agree in
everything but the gradient features apart, with the largest relative difference of those. ``compare`` reads two such dumps and, optionally, two leaderboard exports
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


def _no_gradient_features(info: dict) -> dict:
    """An info dict without the gradient statistics (``grad_norm``, ``grad_dot``, ``grad_cos``
    and a vector env's ``_grad_*`` masks) and observations (a vector env's ``final_obs``), also
    inside nested dicts (its ``final_info``)."""
    return {k: _no_gradient_features(v) if isinstance(v, dict) else v for k, v in info.items()
            if "grad" not in k and "final_obs" not in k}


def single_env_run(env_id: str, kwargs: dict, seed: int) -> dict:
    """Fingerprints of one single-env run under fixed actions: ``sha256`` of everything,
    ``sha256_losses`` of what does not see the gradient features (rewards, flags, the info
    without ``grad_*``: LR, losses, metric, ...; observations left out)."""
    env = gym.make(env_id, **kwargs).unwrapped  # the raw env: wrappers add no numbers
    rng = np.random.default_rng(1000 + seed)
    actions = _actions(env.action_space, rng, STEPS)
    h, hl = hashlib.sha256(), hashlib.sha256()
    obs, info = env.reset(seed=seed)
    _digest(h, (obs, info))
    _digest(hl, _no_gradient_features(info))
    finals = []
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        _digest(h, (obs, np.float64(r), term, trunc, info))
        _digest(hl, (np.float64(r), term, trunc, _no_gradient_features(info)))
        if term or trunc:
            finals.append(float(info["train_loss"]).hex())
            obs, info = env.reset()
            _digest(h, (obs, info))
            _digest(hl, _no_gradient_features(info))
    return {"sha256": h.hexdigest(), "sha256_losses": hl.hexdigest(), "final_losses": finals}


def vector_env_run(env_id: str, kwargs: dict, seed: int, mode: str, n: int = 3) -> dict:
    envs = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", autoreset_mode=mode, **kwargs)
    rng = np.random.default_rng(2000 + seed)
    actions = [np.array(_actions(envs.single_action_space, rng, n)) for _ in range(STEPS)]
    h, hl = hashlib.sha256(), hashlib.sha256()
    obs, infos = envs.reset(seed=seed)
    _digest(h, (obs, infos))
    _digest(hl, _no_gradient_features(infos))
    finals = []
    for a in actions:
        obs, r, term, trunc, infos = envs.step(a)
        _digest(h, (obs, r, term, trunc, infos))
        _digest(hl, (r, term, trunc, _no_gradient_features(infos)))
        done = term | trunc
        finals.extend(float(x).hex() for x in infos["train_loss"][done])
        if mode == "Disabled" and done.any():
            obs, infos = envs.reset(options={"reset_mask": done})
            _digest(h, (obs, infos))
            _digest(hl, _no_gradient_features(infos))
    envs.close()
    return {"sha256": h.hexdigest(), "sha256_losses": hl.hexdigest(), "final_losses": finals}


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


#: recommender kernel runs fingerprinted by ``dump``: optimizer configurations × instance shapes × LRs
RECSYS_CONFIGS = {
    "sgd": {}, "momentum": {}, "nesterov": {}, "adam": {}, "rmsprop": {}, "adagrad": {},
    "sgd_clip": {"clip_norm": 0.5}, "sgd_wd": {"weight_decay": 0.01},
    "sgd_global": {"normalize": "global"}, "adam_layerwise": {"optimizer": "adam", "normalize": "layerwise"},
    "momentum_clip_wd": {"optimizer": "momentum", "clip_norm": 1.0, "weight_decay": 0.001},
}
RECSYS_SHAPES = {
    "default": {}, "rank1_batch1": {"rank": 1, "batch_size": 1, "n_negatives": 1},
    "rank32_neg8": {"rank": 32, "n_negatives": 8, "batch_size": 256}, "rank5_batch16": {"rank": 5, "batch_size": 16},
}
RECSYS_LRS = (0.05, 3.0, 1e4)
RECSYS_STEPS = ((10, 0), (1, 1), (7, 2), (10, 3))  # (updates, action index) per env step


def recsys_kernel_runs() -> dict:
    """The recommender's kernel under fixed LRs, per configuration × shape × LR: ``sha256`` of the
    parameters, optimizer slots, step counter and RNG word after every env step and of every
    statistic except the gradient features; ``grad_features`` = (grad_norm, grad_dot, grad_cos)
    of every env step as floats' hex (compared to rounding by ``compare``)."""
    from lrgym.optim import OptimizerConfig
    from lrgym.tasks import make_family
    from lrgym.tasks.base import N_STATS, S_GRAD_COS, S_GRAD_DOT, S_GRAD_NORM

    grad = (S_GRAD_NORM, S_GRAD_DOT, S_GRAD_COS)
    other = [k for k in range(N_STATS) if k not in grad]
    out = {}
    for shape, options in RECSYS_SHAPES.items():
        fam = make_family("recsys", **options)
        task = fam.build(fam.sample(7))
        for name, cfg_kw in RECSYS_CONFIGS.items():
            kw = {"optimizer": name.split("_")[0], **cfg_kw}
            cfg = OptimizerConfig(kw.pop("optimizer"), **kw)
            for lr in RECSYS_LRS:
                state = task.new_state(np.random.default_rng(3))
                h, feats = hashlib.sha256(), []
                stats = np.zeros(N_STATS)
                for n, _ in RECSYS_STEPS:
                    task.run(state, lr, n, cfg.code, cfg.hyper(), 1e6, stats)
                    _digest(h, (state.params, state.slots, state.step, state.rng, stats[other]))
                    feats.append([float(stats[k]).hex() for k in grad])
                out[f"kernel/recsys/{shape}/{name}/{lr}"] = {"sha256": h.hexdigest(), "grad_features": feats,
                                                             "final_losses": []}
    print("recsys kernel runs done", file=sys.stderr, flush=True)
    return out


def dump(path: str, instances_only: bool = False) -> None:
    out: dict = instance_fingerprints()
    if instances_only:
        with open(path, "w") as f:
            json.dump(out, f, indent=1, sort_keys=True)
        return
    out.update(recsys_kernel_runs())
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
    losses_same = []  # everything but the gradient features identical
    rel = 0.0  # largest relative difference of a gradient feature (kernel runs)
    for key in sorted(set(a) & set(b)):
        if a[key] == b[key]:
            same += 1
        elif _same_but_gradient_features(a[key], b[key]):
            losses_same.append(key)
            rel = max(rel, _feature_difference(a[key], b[key]))
        else:
            print("DIFFERS:", key)
            bad += 1
    print(f"fingerprints: {same} identical, {len(losses_same)} identical except the gradient features, "
          f"{bad} different ({sum(len(v['final_losses']) for v in a.values())} episode final losses)")
    if losses_same:
        kinds = sorted({k.split("/")[0] + "/" + k.split("/")[1] for k in losses_same})
        print(f"  identical except the gradient features: {len(losses_same)} ({', '.join(kinds)}); "
              f"largest relative difference of a kernel run's grad_norm / grad_dot / grad_cos: {rel:.3g}")
    if board:
        ra, rb = _board_rows(board[0]), _board_rows(board[1])
        diff = sorted((k for k in set(ra) | set(rb) if ra.get(k) != rb.get(k)), key=str)
        counts = {t: sum(1 for k in ra if k[0] == t) for t in ("entries", "runs", "trajectories")}
        print(f"leaderboard rows (before): {counts}; {len(rb)} rows after; {len(diff)} differ in any bit")
        for k in diff[:20]:
            print("  DIFFERS:", k, ra.get(k), rb.get(k))
        bad += len(diff)
    return 1 if bad else 0


def _same_but_gradient_features(x: dict, y: dict) -> bool:
    """Two fingerprints that agree on everything the gradient features do not feed: an env run's
    losses digest and final losses, or a kernel run's state-and-statistics digest."""
    if "grad_features" in x:
        return x["sha256"] == y.get("sha256") and "grad_features" in y
    return "sha256_losses" in x and x["sha256_losses"] == y.get("sha256_losses") \
        and x["final_losses"] == y["final_losses"]


def _feature_difference(x: dict, y: dict) -> float:
    """The largest |a − b| / max(|a|, |b|) over two kernel runs' gradient features (0: env runs)."""
    worst = 0.0
    for row_a, row_b in zip(x.get("grad_features", []), y.get("grad_features", [])):
        for u, v in zip(row_a, row_b):
            fa, fb = float.fromhex(u), float.fromhex(v)
            if fa != fb:
                worst = max(worst, abs(fa - fb) / max(abs(fa), abs(fb)))
    return worst


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
