"""Speed-motivated kernel pieces: exact equivalence with the obvious versions."""

import numpy as np
import pytest

from lrgym import rng
from lrgym.tasks import make_family
from lrgym.rng import draw_indices
from lrgym.tasks.linreg import mean_loss, qr_loss, qr_stats


@pytest.mark.parametrize("n, m", [(2048, 64), (7, 1), (10**6, 333), (1, 5)])
def test_draw_indices_is_fill_randint_bit_for_bit(n, m):
    s1 = np.array([0x1234_5678_9ABC_DEF0], dtype=np.uint64)
    s2 = s1.copy()
    a, b = np.zeros(m, dtype=np.int64), np.zeros(m, dtype=np.int64)
    for _ in range(3):
        rng.fill_randint(s1, n, a)
        draw_indices(s2, n, b)
        assert (a == b).all() and s1[0] == s2[0]


@pytest.mark.parametrize("options", [
    dict(dim=32, n_train=2048),
    dict(dim=7, n_train=300, noise=0.0),
    dict(dim=40, n_train=30),  # fewer rows than features: rank-deficient R, ρ = 0
    dict(dataset="diabetes"),
])
def test_qr_loss_is_the_mean_loss_over_the_rows(options):
    family = make_family("linreg", streaming=False, **options)
    task = family.build(family.sample(2))
    rng_ = np.random.default_rng(0)
    for w in (rng_.standard_normal(task.dim), np.zeros(task.dim), 1e3 * rng_.standard_normal(task.dim)):
        assert qr_loss(w, task.R, task.c, task.rho, task.n_eval) == pytest.approx(
            mean_loss(w, task.X, task.y, task.n_eval), rel=1e-12)
        assert qr_loss(w, task.Rv, task.cv, task.rho_v, task.n_val) == pytest.approx(
            mean_loss(w, task.Xv, task.yv, task.n_val), rel=1e-12)
    w_ls = np.linalg.lstsq(task.X[: task.n_eval], task.y[: task.n_eval], rcond=None)[0]
    assert task.optimal_loss == pytest.approx(mean_loss(w_ls, task.X, task.y, task.n_eval), rel=1e-9, abs=1e-25)
    assert np.isnan(qr_loss(np.full(task.dim, np.nan), task.R, task.c, task.rho, task.n_eval))
    R, c, rho = qr_stats(task.X, task.y, task.n_eval)
    assert (R == task.R).all() and (c == task.c).all() and rho == task.rho  # deterministic
