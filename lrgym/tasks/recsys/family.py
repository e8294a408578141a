"""The recommender family: its spec, the task an instance builds, and the instance distribution."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace

import numpy as np

from lrgym.tasks import pcg64
from lrgym.tasks.base import (
    MAX_ARRAY_ITEMS,
    KernelTask,
    TaskFamily,
    TaskSpec,
    TrainState,
    check_build_size,
    check_options,
    choose,
    data_rng,
    is_integer,
    is_real,
    log_uniform,
    log_uniform_int,
    worst_case,
)
from lrgym.tasks.recsys.kernels import (
    GRADIENT_SCALE,
    N_PREV_META,
    evaluate_recsys,
    gather_row_gradients,
    logistic_losses,
    run_recsys,
    triple_scores,
)
from lrgym.tasks.recsys.ratings import file_positives
from lrgym.tasks.recsys.split import split_positives
from lrgym.tasks.recsys.synthetic import synthetic_positives
from lrgym.tasks.stats import N_ACC

BATCH_SIZES = (16, 32, 64, 128, 256)
NEGATIVE_COUNTS = (1, 2, 3, 4, 8)
#: the sampled numbers of users and items, rank and mean positives per user
N_USERS_RANGE = (100, 5000)
N_ITEMS_RANGE = (50, 2000)
RANK_RANGE = (4, 32)
INTERACTIONS_RANGE = (10.0, 50.0)
#: the most Gumbel keys (n_users × n_items) a synthetic build may draw and select from: 2³¹,
#: ≈ 200 times the largest sampled instance's 5,000 × 2,000. A build takes 4 – 10 ns of CPU a key
#: (the largest sampled instance, 10⁷ keys: 0.04 – 0.06 s), so one at the bound takes ≈ 22 s, in
#: chunks of 2·10⁶ keys (benchmarks/recsys_build_keys.py, RESULTS "A synthetic recommender build's
#: cost per key"). A lower bound would save little: any bound of ≥ 100 times the largest instance
#: (10⁹ keys) builds for ≥ 5 s.
MAX_KEYS = 2**31


@dataclass(frozen=True)
class RecsysSpec(TaskSpec):
    n_users: int = 1000
    n_items: int = 500
    rank: int = 16
    true_rank: int = 8
    zipf: float = 1.0
    signal: float = 2.0
    interactions: float = 20.0
    batch_size: int = 64
    n_negatives: int = 3
    init_scale: float = 0.1
    data_path: str | None = None


class RecsysTask(KernelTask):
    metric_name = "auc"
    #: the divergence rule's scale: log 2, the log-loss of σ(0) (≈ L₀ at the small init)
    loss_scale = math.log(2.0)

    def __init__(self, spec: RecsysSpec):
        self.spec = spec
        rng = data_rng(spec)
        if spec.data_path is not None:
            pos_u, pos_i, n_users, n_items = file_positives(spec.data_path)
        else:
            pos_u, pos_i = synthetic_positives(spec, rng)
            n_users, n_items = spec.n_users, spec.n_items
        self.n_users, self.n_items = int(n_users), int(n_items)
        self.pos_u, self.pos_i, (self.ev_u, self.ev_i, self.ev_y), (self.va_u, self.va_i, self.va_y) = split_positives(
            rng, pos_u, pos_i, self.n_users, self.n_items, spec.n_negatives
        )
        self.group = 1 + spec.n_negatives
        self.width = spec.rank + 1
        self.v_off = self.n_users * self.width
        self.n_params = self.v_off + self.n_items * self.width
        self.segments = np.array([0, self.v_off, self.n_params], dtype=np.int64)
        self.n_triples = spec.batch_size * self.group

    def tables(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Views (user rows (n_users, r+1), item rows (n_items, r+1)) of a flat parameter vector."""
        return (
            params[: self.v_off].reshape(self.n_users, self.width),
            params[self.v_off :].reshape(self.n_items, self.width),
        )

    def init_params(self, rng):
        params = np.zeros(self.n_params)
        users, items = self.tables(params)
        r = self.spec.rank
        # rng.normal(0, init_scale, size)'s doubles, drawn compiled (lrgym.tasks.pcg64)
        users[:, :r] = pcg64.fill_normal(rng, np.empty((self.n_users, r)), 0.0, self.spec.init_scale)
        items[:, :r] = pcg64.fill_normal(rng, np.empty((self.n_items, r)), 0.0, self.spec.init_scale)
        return params

    def new_scratch(self):
        T = self.n_triples
        n_eval = max(len(self.ev_u), len(self.va_u))
        return {
            "tri_u": np.zeros(T, dtype=np.int64),
            "tri_i": np.zeros(T, dtype=np.int64),
            "tri_y": np.zeros(T),
            "scores": np.zeros(T),
            "losses": np.zeros(T),
            "dscores": np.zeros(T),
            # two gradient buffers (current / previous, roles swapped every update: run_recsys)
            "row_slot": np.full((2, self.n_users + self.n_items), -1, dtype=np.int64),
            "rows": np.zeros((2, 2 * T), dtype=np.int64),
            "starts": np.zeros(2 * T, dtype=np.int64),
            "G": np.zeros((2, 2 * T, self.width)),
            "uacc": np.zeros(self.width),
            "both": np.zeros((2, 2 * T), dtype=np.int64),  # rows in g and g_prev (sparse_gradient_pair_sums)
            "prev_meta": np.zeros(N_PREV_META),
            "table_sq": np.zeros(2),
            "acc": np.zeros(N_ACC),
            "ev_scores": np.zeros(n_eval),
            "ev_losses": np.zeros(n_eval),
            "ev_dscores": np.zeros(n_eval),
        }

    kernel_name = "recsys"
    kernel = staticmethod(run_recsys)

    def kernel_item(self, state: TrainState) -> tuple[tuple, tuple]:
        s = state.scratch
        head = (
            state.params, state.slots, state.step, state.rng,
            s["tri_u"], s["tri_i"], s["tri_y"], s["scores"], s["losses"], s["dscores"], s["row_slot"], s["rows"],
            s["starts"], s["G"], s["uacc"], s["both"], s["prev_meta"], s["table_sq"], s["acc"],
            s["ev_scores"], s["ev_losses"], s["ev_dscores"],
            self.width, self.v_off, self.pos_u, self.pos_i, self.n_items, self.spec.n_negatives,
            self.ev_u, self.ev_i, self.ev_y, self.va_u, self.va_i, self.va_y,
        )
        return head, ()

    def evaluate(self, state: TrainState, stats):
        s = state.scratch
        evaluate_recsys(
            state.params, self.width, self.v_off, self.ev_u, self.ev_i, self.ev_y, self.va_u, self.va_i,
            self.va_y, self.group, s["ev_scores"], s["ev_losses"], s["ev_dscores"], stats,
        )

    # -- helpers for tests and references --------------------------------------------------

    def loss_and_grad(self, params, users, items, labels) -> tuple[float, np.ndarray]:
        """Summed log-loss Σ_t ℓ_t of the given triples and its (dense) gradient, with the kernel
        code: what one minibatch update descends (:data:`GRADIENT_SCALE`)."""
        u = np.ascontiguousarray(users, dtype=np.int64)
        i = np.ascontiguousarray(items, dtype=np.int64)
        y = np.ascontiguousarray(labels, dtype=np.float64)
        n = len(u)
        params = np.ascontiguousarray(params, dtype=np.float64)
        scores, losses, dscores = np.zeros(n), np.zeros(n), np.zeros(n)
        triple_scores(params, self.width, self.v_off, u, i, n, scores)
        logistic_losses(scores, y, n, losses, dscores, True)
        row_slot = np.full(self.n_users + self.n_items, -1, dtype=np.int64)
        rows, starts = np.zeros(2 * n, dtype=np.int64), np.zeros(2 * n, dtype=np.int64)
        G = np.zeros((2 * n, self.width))
        no_prev = np.full(self.n_users + self.n_items, -1, dtype=np.int64)  # no previous gradient
        n_rows, _ = gather_row_gradients(
            params, self.width, self.n_users, u, i, dscores, n, GRADIENT_SCALE, row_slot, rows, starts, G,
            np.zeros(self.width), no_prev, np.zeros((2, 2 * n), dtype=np.int64),
        )
        grad = np.zeros(self.n_params)
        for k in range(n_rows):
            grad[starts[k] : starts[k] + self.width] = G[k]
        return float(losses.sum()), grad


class RecsysFamily(TaskFamily):
    """Logistic matrix-factorisation instances; see the module docstring for the distribution."""

    name = "recsys"
    spec_class = RecsysSpec

    def _validate_overrides(self):
        o = self.overrides
        check_options(self.name, o, {
            "n_users": (lambda v: is_integer(v) and 3 <= v <= 10_000_000, "integer 3..10,000,000"),
            # 5: three positives and two other items for one negative (4 never built: _check_sizes)
            "n_items": (lambda v: is_integer(v) and 5 <= v <= 10_000_000, "integer 5..10,000,000"),
            "rank": (lambda v: is_integer(v) and 1 <= v <= 1024, "integer 1..1024"),
            "true_rank": (lambda v: is_integer(v) and 1 <= v <= 1024, "integer 1..1024"),
            "zipf": (lambda v: is_real(v) and 0 <= v <= 5, "0 <= zipf <= 5"),
            "signal": (lambda v: is_real(v) and 0 <= v <= 100, "0 <= signal <= 100"),
            "interactions": (lambda v: is_real(v) and 1 <= v <= 1e6, "1 <= interactions <= 1e6"),
            "batch_size": (lambda v: is_integer(v) and 1 <= v <= 65536, "integer 1..65536"),
            "n_negatives": (lambda v: is_integer(v) and 1 <= v <= 1000, "integer 1..1000"),
            "init_scale": (lambda v: is_real(v) and 0 <= v < 1e3, "0 <= init_scale < 1000"),
            "data_path": (lambda v: v is None or isinstance(v, (str, os.PathLike)), "None or a file path"),
        })
        if o.get("data_path") is not None:
            o["data_path"] = os.fspath(o["data_path"])
            fixed = sorted({"n_users", "n_items"} & set(o))
            if fixed:
                raise ValueError(f"recsys option(s) {fixed} cannot be set with data_path: they come from the file")
            # a missing, oversized or malformed file fails here, with the line
            _, _, n_users, n_items = file_positives(o["data_path"])
            r, r_words = worst_case(o, "rank", RANK_RANGE[1])
            check_build_size(self.name, [f"data_path's n_users={n_users:,}, n_items={n_items:,}", r_words],
                             "a parameter table of (n_users + n_items) × (rank + 1)", (n_users + n_items) * (r + 1),
                             MAX_ARRAY_ITEMS, lower="lower rank")
        else:
            self._check_sizes()

    def _check_sizes(self):
        """Refuse synthetic options whose worst case (an override, else the sampling's extreme)
        cannot build: a held-out user needs items left for its negatives, and the Gumbel keys
        (one per user and item), the positives and the parameter table must fit a machine."""
        o = self.overrides
        k, k_words = worst_case(o, "n_negatives", max(NEGATIVE_COUNTS))
        # every user holds 3 – max(3, n_items // 4) positives (synthetic_positives); it can be held
        # out for validation when n_items − 2·n_negatives items remain (split_positives), so every
        # user can when max(3, n_items // 4) + 2·n_negatives <= n_items, which grows with n_items
        few = o.get("n_items", N_ITEMS_RANGE[0])
        if max(3, few // 4) + 2 * k > few:
            need = 3 + 2 * k
            while max(3, need // 4) + 2 * k > need:
                need += 1
            few_words = f"n_items={few:,}" if "n_items" in o else f"n_items from {few:,} (sampled)"
            raise ValueError(
                f"recsys options {few_words}, {k_words} leave no user to hold out for validation: a user "
                f"holds up to max(3, n_items // 4) = {max(3, few // 4):,} positives and needs 2·n_negatives = "
                f"{2 * k:,} other items for its negatives; valid: n_items >= {need:,} for this n_negatives "
                f"(raise n_items or lower n_negatives)"
            )
        u, u_words = worst_case(o, "n_users", N_USERS_RANGE[1])
        i, i_words = worst_case(o, "n_items", N_ITEMS_RANGE[1])
        r, r_words = worst_case(o, "rank", RANK_RANGE[1])
        lam = float(o.get("interactions", INTERACTIONS_RANGE[1]))
        lam_words = f"interactions={lam:,}" if "interactions" in o else f"interactions up to {lam:,} (sampled)"
        check_build_size(self.name, [u_words, i_words], "a score matrix of n_users × n_items", u * i, MAX_KEYS,
                         unit="keys", lower="lower n_users or n_items")
        # positives per user: Poisson(interactions) clipped to [3, max(3, n_items // 4)]; a draw
        # above λ + 10√λ + 10 has a probability below 1e-20
        per_user = min(max(3, i // 4), max(3, math.ceil(lam + 10 * math.sqrt(lam) + 10)))
        check_build_size(self.name, [u_words, i_words, lam_words],
                         f"a list of n_users × up to {per_user:,} positive pairs",
                         u * per_user, MAX_ARRAY_ITEMS, unit="int64s", lower="lower n_users or interactions")
        check_build_size(self.name, [u_words, i_words, r_words],
                         "a parameter table of (n_users + n_items) × (rank + 1)",
                         (u + i) * (r + 1), MAX_ARRAY_ITEMS, lower="lower n_users, n_items or rank")

    def sample(self, instance_seed: int) -> RecsysSpec:
        spec = super().sample(instance_seed)
        if spec.data_path is not None:
            _, _, n_users, n_items = file_positives(spec.data_path)
            spec = replace(spec, n_users=n_users, n_items=n_items, true_rank=0, zipf=0.0, signal=0.0, interactions=0.0)
        return spec

    def _sample(self, rng, instance_seed):
        return RecsysSpec(
            family=self.name,
            instance=instance_seed,
            n_users=log_uniform_int(rng, *N_USERS_RANGE),
            n_items=log_uniform_int(rng, *N_ITEMS_RANGE),
            rank=log_uniform_int(rng, *RANK_RANGE),
            true_rank=log_uniform_int(rng, 2, 16),
            zipf=float(rng.uniform(0.5, 1.5)),
            signal=log_uniform(rng, 1.0, 4.0),
            interactions=log_uniform(rng, *INTERACTIONS_RANGE),
            batch_size=int(choose(rng, BATCH_SIZES)),
            n_negatives=int(choose(rng, NEGATIVE_COUNTS)),
        )

    def build(self, spec):
        if spec.data_path is None and spec.n_users < 3:
            raise ValueError(f"recsys n_users={spec.n_users} too small; valid: >= 3")
        return RecsysTask(spec)
