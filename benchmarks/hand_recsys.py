"""lrgym's recommender step against hand-written Numba kernels of the same math.

    python -m benchmarks.hand_recsys [--rounds 5 --blocks 5 --seconds 0.2] [--updates 10 200]

Two hand-written kernels, written the way one would write this model by hand, without an
LR-control environment around it: straight loops over the minibatch's triples, then one pass
over the touched rows; no generic layers, no optimizer dispatch, no flags.

* :func:`hand_recsys_stats_step` — **the same math as lrgym's kernel** (``RecsysTask.run`` with
  the ``sgd`` optimizer), including everything the environment observes per update: the
  minibatch's mean log-loss and its variance (two passes over the losses), the norm of the
  row-summed sparse gradient, g·g_prev and the cosine against the previous minibatch's gradient
  (kept across env steps), the divergence checks (the loss cap, a non-finite parameter), and the
  same step statistics (``S_*`` layout of :mod:`lrgym.tasks.base`). Its scratch is what one would
  pick by hand: the touched rows' gradients in a compact table filled in draw order, a dense
  row → slot map, and two of each (current / previous gradient) swapped after every update, so
  g·g_prev is one lookup per row — no sorting, no searching, no copying. Three passes over the
  triples: draw (serial :func:`lrgym.rng.randint` calls in the documented order, bit-identical
  to lrgym's vectorised :func:`~lrgym.tasks.recsys.kernels.draw_minibatch`) and score; losses and
  ∂ℓ/∂s; the gradient summed into the rows. (One fused pass was 1.6× slower: exp and log1p
  inside the triple loop do not vectorise.) Then one pass over the touched rows for ‖g‖²,
  g·g_prev, the SGD step and the finiteness test.
  ``tests/tasks/test_hand_recsys.py`` checks that it holds lrgym's parameters and statistics after
  several env steps, to 1e-12 relative (the order of the sums differs).
* :func:`hand_recsys_step` — plain SGD and nothing else (the "no statistics" row): each
  triple's gradient scattered straight into its rows, no loss values, no gradient statistics,
  no divergence check. Its parameters differ from lrgym's only by rounding (a row's gradient
  is applied triple by triple instead of summed first).

Both draw the same triples from the same state word as lrgym's kernel and end with the step's
evaluation (mean log-loss on the evaluation triples, log-loss and sampled AUC on the validation
triples). They use lrgym's vectorisable ``vexp`` / ``vlog1p_unit`` (:mod:`lrgym.tasks.vmath`)
instead of Numba's scalar libm calls, so neither side is timed on a slower ``exp``.

The ratio lrgym / hand (env steps per second of CPU time, best of blocks, interleaved in one
process) is the issue's measure; its target is ≥ 1.0× against the same-math kernel.

The hand kernels are compiled in every process, not cached on disk: they inline lrgym functions
(``vexp``, ``randint``, ...), and Numba validates a cache entry by this file alone, so a cached
hand kernel would keep an old copy of them after lrgym changes (lrgym's own kernels are stamped
with the whole package: :mod:`lrgym.kernel_cache`).
"""

from __future__ import annotations

import argparse
import math
import time

import numba
import numpy as np

from lrgym.rng import randint
from lrgym.tasks.base import (
    FAST_MATH,
    N_STATS,
    S_BATCH_LOSS,
    S_DIVERGED,
    S_GRAD_COS,
    S_GRAD_DOT,
    S_GRAD_NORM,
    S_LOSS_VAR,
    S_TRAIN_LOSS,
    S_UPDATES,
    S_VAL_LOSS,
    S_VAL_METRIC,
)
from lrgym.tasks.recsys import draw_minibatch
from lrgym.tasks.vmath import vexp, vlog1p_unit


@numba.njit(fastmath=FAST_MATH, error_model="numpy")  # no cache: see the module docstring
def _mean_logloss(P, n_users, tri_u, tri_i, tri_y, scores):
    """Mean log-loss softplus((1 − 2y) s) of the triples; their scores into ``scores`` (the
    losses in a loop of their own, which vectorises)."""
    r = P.shape[1] - 1
    for t in range(tri_u.shape[0]):
        u, i = tri_u[t], n_users + tri_i[t]
        s = P[u, r] + P[i, r]
        for c in range(r):
            s += P[u, c] * P[i, c]
        scores[t] = s
    total = 0.0
    for t in range(tri_u.shape[0]):
        s = scores[t]
        x = -s if tri_y[t] > 0.5 else s
        total += max(x, 0.0) + vlog1p_unit(vexp(-abs(x)))
    return total / tri_u.shape[0]


@numba.njit(fastmath=FAST_MATH, error_model="numpy")  # no cache: see the module docstring
def _evaluate(P, n_users, group, ev_u, ev_i, ev_y, va_u, va_i, va_y, ev_scores, va_scores, out):
    """(train loss, val loss, val AUC) into ``out[S_TRAIN_LOSS, S_VAL_LOSS, S_VAL_METRIC]``."""
    out[S_TRAIN_LOSS] = _mean_logloss(P, n_users, ev_u, ev_i, ev_y, ev_scores)
    out[S_VAL_LOSS] = _mean_logloss(P, n_users, va_u, va_i, va_y, va_scores)
    wins = 0.0
    n_groups = va_u.shape[0] // group
    for g in range(n_groups):
        pos = va_scores[g * group]
        for j in range(g * group + 1, (g + 1) * group):
            wins += 1.0 if pos > va_scores[j] else (0.5 if pos == va_scores[j] else 0.0)
    out[S_VAL_METRIC] = wins / (n_groups * (group - 1))


@numba.njit(fastmath=FAST_MATH, error_model="numpy")  # no cache: see the module docstring
def hand_recsys_step(P, n_users, rng, pos_u, pos_i, n_items, group, tri_u, tri_i, tri_y, d, gU, gV, lr, n_updates,
                     ev_u, ev_i, ev_y, va_u, va_i, va_y, ev_scores, va_scores, out):
    """``n_updates`` plain-SGD minibatch updates of the table ``P`` (rows: users, then items),
    no statistics; then (train loss, val loss, val AUC) into ``out``."""
    r = P.shape[1] - 1
    n = tri_u.shape[0]
    for _ in range(n_updates):
        draw_minibatch(rng, pos_u, pos_i, n_items, group, tri_u, tri_i, tri_y, d)
        for t in range(n):  # ∂ℓ/∂s = σ(s) − y at the minibatch's parameters
            u, i = tri_u[t], n_users + tri_i[t]
            s = P[u, r] + P[i, r]
            for c in range(r):
                s += P[u, c] * P[i, c]
            d[t] = 1.0 / (1.0 + vexp(-s)) - tri_y[t]
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
    _evaluate(P, n_users, group, ev_u, ev_i, ev_y, va_u, va_i, va_y, ev_scores, va_scores, out)


@numba.njit(fastmath=FAST_MATH, error_model="numpy")  # no cache: see the module docstring
def hand_recsys_stats_step(P, n_users, rng, pos_u, pos_i, n_items, batch_size, group, tri_u, tri_row, scores,
                           losses, dls, uacc,
                           G, rows, slot_of, n_rows, prev_sq, t_done, lr, n_updates, loss_cap,
                           ev_u, ev_i, ev_y, va_u, va_i, va_y, ev_scores, va_scores, out):
    """``n_updates`` SGD updates with every statistic lrgym's kernel reports, then evaluation.

    ``G[b]`` / ``rows[b]`` / ``slot_of[b]`` / ``n_rows[b]`` (b = 0, 1) are two gradient buffers:
    the touched rows' summed gradients, which row each slot holds, row → slot (−1: untouched),
    and how many rows; buffer ``t % 2`` takes update t's gradient while ``1 − t % 2`` still holds
    update t − 1's, whose ‖g‖² is ``prev_sq[0]``. ``t_done[0]`` counts updates over the whole
    run (it picks the buffer and says whether a previous gradient exists). The statistics go into ``out`` (``S_*`` layout).
    """
    r = P.shape[1] - 1
    n_pos = pos_u.shape[0]
    n_tri = batch_size * group
    sum_norm = 0.0
    sum_dot = 0.0
    sum_cos = 0.0
    pairs = 0
    sum_loss = 0.0
    sum_var = 0.0
    done = 0
    diverged = False
    for _ in range(n_updates):
        t = t_done[0]
        cur = t % 2
        old = 1 - cur
        # pass 1 over the minibatch: draw the triples (serial randint calls, the documented
        # order: a positive, then its negatives) and score them
        nr = 0
        loss_sum = 0.0
        for b in range(batch_size):
            p = randint(rng, n_pos)
            u = pos_u[p]
            for j in range(group):
                q = b * group + j
                row = n_users + (pos_i[p] if j == 0 else randint(rng, n_items))
                tri_u[q] = u
                tri_row[q] = row
                s = P[u, r] + P[row, r]
                for c in range(r):
                    s += P[u, c] * P[row, c]
                scores[q] = s
        # pass 2: losses and ∂ℓ/∂s (exp and log1p in a loop of their own, so it vectorises:
        # inside pass 1 they ran one at a time and made the kernel 1.6× slower)
        for q in range(n_tri):
            s = scores[q]
            y = 1.0 if q % group == 0 else 0.0
            e = vexp(-abs(s))
            x = s - 2.0 * y * s
            loss = max(x, 0.0) + vlog1p_unit(e)
            losses[q] = loss
            loss_sum += loss
            dls[q] = (1.0 / (1.0 + e) if s >= 0.0 else e / (1.0 + e)) - y
        # pass 3: every triple's gradient summed into its rows (a positive and its negatives
        # share the user row: summed in uacc first)
        for b in range(batch_size):
            u = tri_u[b * group]
            for c in range(r + 1):
                uacc[c] = 0.0
            for j in range(group):
                q = b * group + j
                row = tri_row[q]
                dl = dls[q]
                k = slot_of[cur, row]
                if k < 0:
                    k = nr
                    nr += 1
                    slot_of[cur, row] = k
                    rows[cur, k] = row
                    for c in range(r):
                        G[cur, k, c] = dl * P[u, c]
                    G[cur, k, r] = dl
                else:
                    for c in range(r):
                        G[cur, k, c] += dl * P[u, c]
                    G[cur, k, r] += dl
                for c in range(r):
                    uacc[c] += dl * P[row, c]
                uacc[r] += dl
            k = slot_of[cur, u]
            if k < 0:
                k = nr
                nr += 1
                slot_of[cur, u] = k
                rows[cur, k] = u
                for c in range(r + 1):
                    G[cur, k, c] = uacc[c]
            else:
                for c in range(r + 1):
                    G[cur, k, c] += uacc[c]
        mean = loss_sum / n_tri
        var = 0.0
        for q in range(n_tri):
            var += (losses[q] - mean) ** 2
        sum_loss += mean
        sum_var += var / n_tri
        # one pass over the touched rows: ‖g‖², g·g_prev, the SGD step, finiteness
        gg = 0.0
        gp = 0.0
        moved = 0.0
        for k in range(nr):
            row = rows[cur, k]
            kp = slot_of[old, row]
            for c in range(r + 1):
                g = G[cur, k, c]
                gg += g * g
                if kp >= 0:
                    gp += g * G[old, kp, c]
                P[row, c] -= lr * g
                moved += P[row, c]
        for k in range(n_rows[old]):  # clear the previous gradient's row map for update t + 1
            slot_of[old, rows[old, k]] = -1
        n_rows[old] = 0
        n_rows[cur] = nr
        pp = prev_sq[0]
        prev_sq[0] = gg
        sum_norm += math.sqrt(gg)
        if t > 0:
            sum_dot += gp
            denom = math.sqrt(gg * pp)
            sum_cos += gp / denom if denom > 0.0 else 0.0
            pairs += 1
        t_done[0] = t + 1
        done += 1
        if not math.isfinite(mean) or mean > loss_cap or not math.isfinite(moved):
            diverged = True
            break
    _evaluate(P, n_users, group, ev_u, ev_i, ev_y, va_u, va_i, va_y, ev_scores, va_scores, out)
    if not math.isfinite(out[S_TRAIN_LOSS]) or out[S_TRAIN_LOSS] > loss_cap:
        diverged = True
    n = max(done, 1)
    out[S_GRAD_NORM] = sum_norm / n
    out[S_GRAD_DOT] = sum_dot / pairs if pairs > 0 else 0.0
    out[S_GRAD_COS] = sum_cos / pairs if pairs > 0 else 0.0
    out[S_BATCH_LOSS] = sum_loss / n
    out[S_LOSS_VAR] = sum_var / n
    out[S_DIVERGED] = 1.0 if diverged else 0.0
    out[S_UPDATES] = done


class _HandBase:
    """A hand kernel's copy of ``params`` (as one (rows, r + 1) table) and of ``rng`` (a lrgym
    state's SplitMix64 word)."""

    def __init__(self, task, params: np.ndarray, rng: np.ndarray):
        s = task.spec
        self.task = task
        self.width = s.rank + 1
        self.P = np.array(params, dtype=np.float64).reshape(-1, self.width)
        self.n_users = task.v_off // self.width
        self.rng = np.array(rng, copy=True)
        self.n_triples = s.batch_size * (1 + s.n_negatives)
        self.ev_scores, self.va_scores = np.zeros(len(task.ev_u)), np.zeros(len(task.va_u))


class HandRecsys(_HandBase):
    """The same-math hand kernel (:func:`hand_recsys_stats_step`): ``env_step`` returns the
    ``S_*`` statistics lrgym's SGD kernel reports."""

    def __init__(self, task, params: np.ndarray, rng: np.ndarray):
        super().__init__(task, params, rng)
        n, w = self.n_triples, self.width
        self.tri_u, self.tri_row = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        self.scores, self.losses, self.dls, self.uacc = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(w)
        self.G = np.zeros((2, 2 * n, w))
        self.rows = np.zeros((2, 2 * n), dtype=np.int64)
        self.slot_of = np.full((2, self.P.shape[0]), -1, dtype=np.int64)
        self.n_rows = np.zeros(2, dtype=np.int64)
        self.prev_sq = np.zeros(1)
        self.t_done = np.zeros(1, dtype=np.int64)
        self.out = np.zeros(N_STATS)

    def env_step(self, lr: float, n_updates: int = 10, loss_cap: float = 1e300) -> np.ndarray:
        t = self.task
        hand_recsys_stats_step(
            self.P, self.n_users, self.rng, t.pos_u, t.pos_i, t.n_items, t.spec.batch_size, t.group, self.tri_u,
            self.tri_row, self.scores, self.losses, self.dls, self.uacc, self.G, self.rows, self.slot_of, self.n_rows, self.prev_sq, self.t_done, float(lr), int(n_updates),
            float(loss_cap), t.ev_u, t.ev_i, t.ev_y, t.va_u, t.va_i, t.va_y, self.ev_scores, self.va_scores, self.out,
        )
        return self.out


class HandRecsysSGD(_HandBase):
    """The plain-SGD hand kernel without statistics (:func:`hand_recsys_step`): ``env_step``
    returns the ``S_*`` array with only the train loss, val loss and val AUC filled."""

    def __init__(self, task, params: np.ndarray, rng: np.ndarray):
        super().__init__(task, params, rng)
        n, w = self.n_triples, self.width
        self.tri_u, self.tri_i = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        self.tri_y, self.d = np.zeros(n), np.zeros(n)
        self.gU, self.gV = np.zeros((n, w)), np.zeros((n, w))
        self.out = np.zeros(N_STATS)

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


def measure(updates: int, rounds: int = 5, blocks: int = 5, seconds: float = 0.2, lr: float = 0.1) -> dict:
    """Best env steps/s (CPU time) of lrgym's SGD kernel and both hand kernels, interleaved."""
    from benchmarks.reference_recsys import reference_task
    from lrgym.optim import OptimizerConfig

    task = reference_task()
    state = task.new_state(np.random.default_rng(0))
    hand = HandRecsys(task, state.params, state.rng)
    plain = HandRecsysSGD(task, state.params, state.rng)
    stats, cfg = np.zeros(N_STATS), OptimizerConfig("sgd")
    code, hyper = cfg.code, cfg.hyper()
    runners = {
        "lrgym": lambda: task.run(state, lr, updates, code, hyper, 1e300, stats),
        "hand": lambda: hand.env_step(lr, updates),
        "hand_sgd": lambda: plain.env_step(lr, updates),
    }
    best = {name: 0.0 for name in runners}
    for step in runners.values():
        step()
    for _ in range(rounds):
        for name, step in runners.items():
            for _ in range(blocks):
                best[name] = max(best[name], _rate(step, seconds))
    return best


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--updates", type=int, nargs="+", default=[10, 200],
                    help="updates per env step, one table row each (200: the update path alone)")
    args = ap.parse_args(argv)
    print("| env step (rank 16, 256 triples per update) | lrgym kernel, steps/s | hand, same math, steps/s "
          "| lrgym / hand | hand, plain SGD without statistics, steps/s | lrgym / plain |")
    print("|---|---:|---:|---:|---:|---:|")
    for updates in args.updates:
        best = measure(updates, args.rounds, args.blocks, args.seconds, args.lr)
        print(f"| {updates} updates + evaluation | {best['lrgym']:,.0f} | {best['hand']:,.0f} "
              f"| **{best['lrgym'] / best['hand']:.2f}×** | {best['hand_sgd']:,.0f} "
              f"| {best['lrgym'] / best['hand_sgd']:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
