"""lrgym's recommender step against a hand-written Numba kernel of the same math.

    python -m benchmarks.hand_recsys [--rounds 3 --blocks 5 --seconds 0.3] [--updates 10]

The hand kernel is what one would write for this model without an LR-control environment
around it: plain SGD on the summed logistic loss of matrix factorisation (rows (p_u, b_u) and
(q_i, b_i)), minibatches of one positive and ``n_negatives`` uniform negatives per drawn
positive — drawn by lrgym's own :func:`~lrgym.tasks.recsys.draw_minibatch`, so both sides make
the same triples from the same random state — the gradient of every triple at the minibatch's
parameters, scattered into the rows; then the step's evaluation (mean log-loss on the
evaluation triples, log-loss and sampled AUC on the validation triples). No statistics, no
row bookkeeping, no optimizer dispatch.

lrgym's kernel (``RecsysTask.run`` with the ``sgd`` optimizer) does the same plus what the
environment observes: per-update loss moments, the sparse gradient's norm, g·g_prev and cosine
against the previous minibatch's gradient (row bookkeeping), the divergence checks. The ratio
lrgym / hand (env steps per second of CPU time, best of blocks, the two interleaved in one
process) is the price of those statistics; the issue's target is ≥ 1.0×.

:func:`hand_recsys_step` follows the same triples as lrgym's kernel, so after the same updates
from the same state both hold the same parameters up to rounding (the order of the sums
differs): ``tests/test_hand_recsys.py`` checks it.
"""

from __future__ import annotations

import argparse
import math
import time

import numba
import numpy as np

from lrgym.tasks.recsys import draw_minibatch


@numba.njit(cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")
def _mean_logloss(P, n_users, tri_u, tri_i, tri_y, scores):
    r = P.shape[1] - 1
    total = 0.0
    for t in range(tri_u.shape[0]):
        u, i = tri_u[t], n_users + tri_i[t]
        s = P[u, r] + P[i, r]
        for c in range(r):
            s += P[u, c] * P[i, c]
        scores[t] = s
        x = -s if tri_y[t] > 0.5 else s
        total += max(x, 0.0) + math.log1p(math.exp(-abs(x)))
    return total / tri_u.shape[0]


@numba.njit(cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")
def hand_recsys_step(P, n_users, rng, pos_u, pos_i, n_items, group, tri_u, tri_i, tri_y, d, gU, gV, lr, n_updates,
                     ev_u, ev_i, ev_y, va_u, va_i, va_y, ev_scores, va_scores, out):
    """``n_updates`` plain-SGD minibatch updates of the table ``P`` (rows: users, then items),
    then (train loss, val loss, val AUC) into ``out``."""
    r = P.shape[1] - 1
    n = tri_u.shape[0]
    for _ in range(n_updates):
        draw_minibatch(rng, pos_u, pos_i, n_items, group, tri_u, tri_i, tri_y, d)
        for t in range(n):  # ∂ℓ/∂s = σ(s) − y at the minibatch's parameters
            u, i = tri_u[t], n_users + tri_i[t]
            s = P[u, r] + P[i, r]
            for c in range(r):
                s += P[u, c] * P[i, c]
            d[t] = 1.0 / (1.0 + math.exp(-s)) - tri_y[t]
        for t in range(n):  # per-triple row gradients, before any row moves
            u, i = tri_u[t], n_users + tri_i[t]
            for c in range(r):
                gU[t, c] = d[t] * P[i, c]
                gV[t, c] = d[t] * P[u, c]
            gU[t, r] = d[t]
            gV[t, r] = d[t]
        for t in range(n):  # scatter
            u, i = tri_u[t], n_users + tri_i[t]
            for c in range(r + 1):
                P[u, c] -= lr * gU[t, c]
                P[i, c] -= lr * gV[t, c]
    out[0] = _mean_logloss(P, n_users, ev_u, ev_i, ev_y, ev_scores)
    out[1] = _mean_logloss(P, n_users, va_u, va_i, va_y, va_scores)
    wins = 0.0
    n_groups = va_u.shape[0] // group
    for g in range(n_groups):
        pos = va_scores[g * group]
        for j in range(g * group + 1, (g + 1) * group):
            wins += 1.0 if pos > va_scores[j] else (0.5 if pos == va_scores[j] else 0.0)
    out[2] = wins / (n_groups * (group - 1))


class HandRecsys:
    """The hand kernel on a copy of ``params`` and ``rng`` (a lrgym state's SplitMix64 word)."""

    def __init__(self, task, params: np.ndarray, rng: np.ndarray):
        s = task.spec
        self.task = task
        self.width = s.rank + 1
        self.P = np.array(params, dtype=np.float64).reshape(-1, self.width)
        self.n_users = task.v_off // self.width
        self.rng = np.array(rng, copy=True)
        n = s.batch_size * (1 + s.n_negatives)
        self.tri_u, self.tri_i = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        self.tri_y, self.d = np.zeros(n), np.zeros(n)
        self.gU, self.gV = np.zeros((n, self.width)), np.zeros((n, self.width))
        self.ev_scores, self.va_scores = np.zeros(len(task.ev_u)), np.zeros(len(task.va_u))
        self.out = np.zeros(3)

    def env_step(self, lr: float, n_updates: int = 10) -> np.ndarray:
        t = self.task
        hand_recsys_step(
            self.P, self.n_users, self.rng, t.pos_u, t.pos_i, t.n_items, t.group, self.tri_u, self.tri_i, self.tri_y,
            self.d, self.gU, self.gV, float(lr), int(n_updates), t.ev_u, t.ev_i, t.ev_y, t.va_u, t.va_i, t.va_y,
            self.ev_scores, self.va_scores, self.out,
        )
        return self.out


def _rate(step, seconds: float) -> float:
    """Env steps per second of thread CPU time over one block of ≈ ``seconds``."""
    n, start = 0, time.thread_time()
    while time.thread_time() - start < seconds:
        step()
        n += 1
    return n / (time.thread_time() - start)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=0.3)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--updates", type=int, default=10, help="updates per env step (more: the update path alone)")
    args = ap.parse_args(argv)

    from benchmarks.reference_recsys import reference_task
    from lrgym.optim import OptimizerConfig
    from lrgym.tasks.base import N_STATS

    task = reference_task()
    state = task.new_state(np.random.default_rng(0))
    hand = HandRecsys(task, state.params, state.rng)
    stats, cfg = np.zeros(N_STATS), OptimizerConfig("sgd")
    code, hyper = cfg.code, cfg.hyper()
    runners = {
        "lrgym kernel (sgd)": lambda: task.run(state, args.lr, args.updates, code, hyper, 1e300, stats),
        "hand-written kernel": lambda: hand.env_step(args.lr, args.updates),
    }
    best = {name: 0.0 for name in runners}
    for step in runners.values():
        step()
    for _ in range(args.rounds):
        for name, step in runners.items():
            for _ in range(args.blocks):
                best[name] = max(best[name], _rate(step, args.seconds))
    lrgym_rate, hand_rate = best["lrgym kernel (sgd)"], best["hand-written kernel"]
    print(f"| recommender env step (rank 16, 256 triples, {args.updates} updates + evaluation) | env steps/s |")
    print("|---|---:|")
    for name, rate in best.items():
        print(f"| {name} | {rate:,.0f} |")
    print(f"| ratio lrgym / hand | **{lrgym_rate / hand_rate:.2f}×** |")


if __name__ == "__main__":
    main()
