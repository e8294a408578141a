"""Linear regression: kernels against a NumPy reference, gradients against finite differences."""

import math

import numpy as np
import pytest

from lrgym.optim import OptimizerConfig
from lrgym.tasks import make_family
from lrgym.tasks.base import N_STATS, S_BATCH_LOSS, S_DIVERGED, S_GRAD_DOT, S_GRAD_NORM, S_LOSS_VAR, S_TRAIN_LOSS, S_VAL_LOSS, S_VAL_METRIC
from lrgym.tasks.linreg import minibatch_gradient
from references import ReferenceOptimizer, SplitMix64, rel_err


def build(**options):
    family = make_family("linreg", **options)
    return family.build(family.sample(5))


def loss(w, X, y):
    return 0.5 * np.mean((X @ w - y) ** 2)


def test_minibatch_gradient_matches_central_differences():
    task = build(dim=7, n_train=300, streaming=False, dataset="synthetic")
    rows = np.array([3, 17, 17, 250, 0], dtype=np.int64)
    w = np.random.default_rng(0).standard_normal(7)
    grad, losses = np.zeros(7), np.zeros(5)
    minibatch_gradient(w, task.X, task.y, rows, grad, losses)
    Xb, yb = task.X[rows], task.y[rows]
    h = 1e-6
    fd = np.array([(loss(w + h * e, Xb, yb) - loss(w - h * e, Xb, yb)) / (2 * h) for e in np.eye(7)])
    assert rel_err(grad, fd) < 1e-7
    np.testing.assert_allclose(losses, 0.5 * (Xb @ w - yb) ** 2, rtol=1e-12)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", {"name": "nesterov", "clip_norm": 0.2}])
def test_finite_kernel_matches_numpy_reference_in_lock_step(optimizer):
    task = build(dim=12, n_train=3000, batch_size=16, streaming=False, dataset="synthetic")
    config = OptimizerConfig.coerce(optimizer)
    state = task.new_state(np.random.default_rng(3))
    ref_rng = SplitMix64(int(state.rng[0]))
    ref_opt = ReferenceOptimizer(**{"name": config.name, "n": 12, **{k: v for k, v in config.to_dict().items() if k in ("clip_norm",)}})
    w_ref = state.params.copy()
    stats = np.zeros(N_STATS)
    prev_g = None  # the previous update's raw gradient, across env steps
    for lr in (0.05, 0.2, 0.1):
        task.run(state, lr, 10, config.code, config.hyper(), 1e12, stats)
        batch_losses, batch_vars, norms, dots = [], [], [], []
        for _ in range(10):
            rows = [ref_rng.randint(3000) for _ in range(16)]
            r = task.X[rows] @ w_ref - task.y[rows]
            per_example = 0.5 * r * r
            g = task.X[rows].T @ r / 16
            batch_losses.append(per_example.mean())
            batch_vars.append(per_example.var())
            norms.append(np.linalg.norm(g))
            if prev_g is not None:
                dots.append(g @ prev_g)
            prev_g = g
            w_ref = ref_opt.step(w_ref, g, lr)
        assert rel_err(state.params, w_ref) < 1e-10
        assert stats[S_BATCH_LOSS] == pytest.approx(np.mean(batch_losses), rel=1e-10)
        assert stats[S_LOSS_VAR] == pytest.approx(np.mean(batch_vars), rel=1e-10)
        assert stats[S_GRAD_NORM] == pytest.approx(np.mean(norms), rel=1e-10)
        assert stats[S_GRAD_DOT] == pytest.approx(np.mean(dots), rel=1e-9)  # the first step has 9 pairs, later ones 10
    n_eval = min(2048, 3000)
    assert stats[S_TRAIN_LOSS] == pytest.approx(loss(w_ref, task.X[:n_eval], task.y[:n_eval]), rel=1e-10)
    assert stats[S_VAL_LOSS] == pytest.approx(loss(w_ref, task.Xv, task.yv), rel=1e-10)
    assert stats[S_VAL_METRIC] == pytest.approx(1 - np.mean((task.Xv @ w_ref - task.yv) ** 2) / task.yv.var(), rel=1e-10)
    assert stats[S_DIVERGED] == 0.0


@pytest.mark.parametrize("dim", [6, 7])  # even and odd dimensions
def test_streaming_kernel_matches_reference_and_population_loss_is_exact(dim):
    task = build(dim=dim, batch_size=8, streaming=True, dataset="synthetic", noise=0.3)
    state = task.new_state(np.random.default_rng(1))
    ref_rng = SplitMix64(int(state.rng[0]))
    w_ref = state.params.copy()
    H = task.U @ np.diag(task.eigvals) @ task.U.T
    stats = np.zeros(N_STATS)
    task.run(state, 0.1, 5, 0, OptimizerConfig().hyper(), 1e12, stats)
    batch_losses, batch_vars, norms = [], [], []
    for _ in range(5):
        X = np.zeros((8, dim))
        y = np.zeros(8)
        for k in range(8):
            z = ref_rng.normals(dim)
            X[k] = task.U @ (np.sqrt(task.eigvals) * z)
            y[k] = X[k] @ task.w_star + 0.3 * ref_rng.normals(1)[0]
        r = X @ w_ref - y
        g = X.T @ r / 8
        batch_losses.append(np.mean(0.5 * r * r))
        batch_vars.append(np.var(0.5 * r * r))
        norms.append(np.linalg.norm(g))
        w_ref = w_ref - 0.1 * g
    assert rel_err(state.params, w_ref) < 1e-10
    assert int(state.rng[0]) == ref_rng.state
    assert stats[S_BATCH_LOSS] == pytest.approx(np.mean(batch_losses), rel=1e-10)
    assert stats[S_LOSS_VAR] == pytest.approx(np.mean(batch_vars), rel=1e-10)
    assert stats[S_GRAD_NORM] == pytest.approx(np.mean(norms), rel=1e-10)
    e = w_ref - task.w_star
    assert stats[S_TRAIN_LOSS] == pytest.approx(0.5 * e @ H @ e + 0.5 * 0.3**2, rel=1e-12)
    assert task.optimal_loss == pytest.approx(0.5 * 0.3**2)


def test_streaming_rows_have_the_instance_covariance():
    """The kernel never forms its rows (it works in the eigenbasis of H). Draw them as it draws
    them — z_k, then ε_k, from a copy of the generator word — form x = U(√λ ⊙ z) and
    y = xᵀw* + σε explicitly, check their covariance, and check that the kernel's per-example
    losses and gradient on one big minibatch are those of these rows."""
    from lrgym import rng

    n = 20_000
    task = build(dim=4, condition=100.0, scale=2.0, batch_size=n, streaming=True, dataset="synthetic", noise=0.3)
    state = task.new_state(np.random.default_rng(2))
    word = state.rng.copy()
    X, eps, z = np.zeros((n, 4)), np.zeros(n), np.zeros(4)
    for k in range(n):
        rng.fill_standard_normal(word, z)
        X[k] = task.U @ (np.sqrt(task.eigvals) * z)
        eps[k] = rng.standard_normal(word)
    y = X @ task.w_star + 0.3 * eps
    H = task.U @ np.diag(task.eigvals) @ task.U.T
    np.testing.assert_allclose(np.cov(X.T), H, atol=0.06)
    np.testing.assert_allclose(np.linalg.eigvalsh(H)[::-1], 2.0 * 100.0 ** (-np.arange(4) / 3), rtol=1e-10)

    w = state.params.copy()
    stats = np.zeros(N_STATS)
    task.run(state, 0.0, 1, 0, OptimizerConfig().hyper(), 1e12, stats)  # one update at lr 0
    assert int(state.rng[0]) == int(word[0])
    r = X @ w - y
    assert rel_err(state.scratch["losses"], 0.5 * r * r) < 1e-10
    assert rel_err(state.grad, X.T @ r / n) < 1e-10
    e = w - task.w_star
    population = 0.5 * e @ H @ e + 0.5 * 0.3**2
    assert stats[S_BATCH_LOSS] == pytest.approx(population, rel=0.05)  # E ½r² = L(w); sd 1%
    np.testing.assert_allclose(state.grad, H @ e, atol=0.08)  # E g = He; sd ≈ 0.015


def test_divergence_is_reported_not_raised():
    task = build(dim=8, n_train=512, streaming=False, dataset="synthetic", scale=1.0)
    state = task.new_state(np.random.default_rng(0))
    stats = np.zeros(N_STATS)
    task.run(state, 1e3, 10, 0, OptimizerConfig().hyper(), 1e4, stats)
    assert stats[S_DIVERGED] == 1.0
    assert 1 <= stats[9] <= 10


def test_diabetes_instance_is_standardised_real_data():
    task = build(dataset="diabetes")
    assert task.X.shape[1] == 10 and task.X.shape[0] + task.Xv.shape[0] == 442
    full = np.vstack([task.X, task.Xv])
    np.testing.assert_allclose(full.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(full.std(0), 1, rtol=1e-12)


def test_spec_sampling_is_deterministic_and_in_range():
    family = make_family("linreg")
    specs = [family.sample(k) for k in range(400)]
    assert specs == [family.sample(k) for k in range(400)]
    assert all(4 <= s.dim <= 256 and 1 <= s.condition <= 1e4 and 1 <= s.scale <= 100 for s in specs)
    assert 0.1 < np.mean([s.streaming for s in specs]) < 0.4
    assert any(s.dataset == "diabetes" for s in specs)
    dims = np.log([s.dim for s in specs])
    assert dims.min() < math.log(8) and dims.max() > math.log(128)


def test_same_spec_gives_identical_data():
    a, b = build(dim=10, n_train=100), build(dim=10, n_train=100)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.yv, b.yv)


@pytest.mark.parametrize("options, message", [
    ({"dim": 0}, "dim=0"),
    ({"dataset": "mnist"}, "valid choices: synthetic, diabetes"),
    # was NumPy's bare "truth value of an array ... is ambiguous"
    ({"dataset": np.array(["synthetic", "diabetes"])}, r"unknown linreg dataset array\(.*; valid choices: synthetic, diabetes"),
    ({"depth": 3}, "unknown linreg family option"),
    ({"condition": 0.5}, "condition=0.5"),
    # bounded as the mlp family's: batch_size=10**9 was accepted and one env step ran for minutes,
    # n_train=10**11 a MemoryError naming no option
    ({"batch_size": 10**9}, r"batch_size=1000000000 out of range; valid: integer 1\.\.65536"),
    ({"n_train": 10**11}, r"n_train=100000000000 out of range; valid: integer 2\.\.10,000,000"),
])
def test_bad_family_options(options, message):
    with pytest.raises(ValueError, match=message):
        make_family("linreg", **options)


# ---- the QR behind the exact losses: faster kernel, same bits -------------------------------


@pytest.mark.parametrize("rows, cols", [
    (33, 2048), (129, 2048), (257, 512), (5, 300), (70, 64), (40, 41), (3, 1),
    (65, 256), (66, 257), (97, 256), (98, 257), (201, 700), (251, 1024),
])
def test_qr_kernel_gives_the_canonical_householder_bits(rows, cols):
    """``qr_stats`` runs ``qr_kernel()``: on every shape (sum lengths beyond the self-check's
    1..160, both column parities), its result is the canonical ``householder_qr``'s to the bit,
    whichever kernel the running CPU got."""
    from lrgym.tasks.householder import householder_qr, qr_kernel

    rng = np.random.default_rng(rows * 7919 + cols)
    A = rng.standard_normal((rows, cols)) * np.exp(rng.uniform(-4.0, 4.0, size=(rows, 1)))
    B = A.copy()
    k = min(cols, rows - 1)
    householder_qr(A, k)
    qr_kernel()(B, k)
    assert A.view(np.int64).tolist() == B.view(np.int64).tolist()


def test_qr_kernel_falls_back_to_the_canonical_kernel(monkeypatch):
    """A CPU where no block length reproduces the canonical kernel gets the canonical kernel."""
    from lrgym.tasks import householder

    monkeypatch.setattr(householder, "_QR_KERNEL", None)
    monkeypatch.setattr(householder, "_reproduces_canonical_qr", lambda block, panel=0, fuse=False: False)
    assert householder.qr_kernel() is householder.householder_qr


def test_qr_kernel_without_the_panel_form_when_only_it_fails_the_check(monkeypatch):
    """A CPU where the blocked kernel passes the self-check and the panel kernel does not gets
    the blocked kernel alone (never the panel kernel on large matrices)."""
    from lrgym.tasks import householder

    monkeypatch.setattr(householder, "_QR_KERNEL", None)
    monkeypatch.setattr(householder, "_reproduces_canonical_qr",
                        lambda block, panel=0, fuse=False: panel == 0 and block == 16)
    kernel = householder.qr_kernel()
    assert kernel.func is householder.householder_qr_blocked and kernel.keywords == {"block": 16}
    monkeypatch.setattr(householder, "_QR_KERNEL", None)
    monkeypatch.setattr(householder, "_reproduces_canonical_qr", lambda block, panel=0, fuse=False: block == 16)
    kernel = householder.qr_kernel()
    assert kernel.func is householder.householder_qr_fast
    assert kernel.keywords == {"block": 16, "panel": householder.QR_PANEL, "fuse": True}


def test_qr_kernel_without_the_fused_panel_when_only_it_fails_the_check(monkeypatch):
    """A CPU where the panel kernel passes the self-check and its fused form does not gets the
    unfused panel kernel."""
    from lrgym.tasks import householder

    monkeypatch.setattr(householder, "_QR_KERNEL", None)
    monkeypatch.setattr(householder, "_reproduces_canonical_qr",
                        lambda block, panel=0, fuse=False: block == 32 and not fuse)
    kernel = householder.qr_kernel()
    assert kernel.func is householder.householder_qr_fast
    assert kernel.keywords == {"block": 32, "panel": householder.QR_PANEL, "fuse": False}


def test_qr_kernel_tries_the_one_slice_blocked_form_last(monkeypatch):
    """Block length 1 (every sum one loop over a slice: the form that passes on AVX2, where every
    longer block fails) comes after every other block length, so a CPU where one of those passes
    keeps its kernel; where only block 1 passes, it runs in the fast (panel) kernel too."""
    from lrgym.tasks import householder

    assert householder.QR_BLOCKS[-1] == 1
    tried = []

    def only_one(block, panel=0, fuse=False):
        tried.append((block, panel, fuse))
        return block == 1 and not fuse

    monkeypatch.setattr(householder, "_QR_KERNEL", None)
    monkeypatch.setattr(householder, "_reproduces_canonical_qr", only_one)
    kernel = householder.qr_kernel()
    assert kernel.func is householder.householder_qr_fast
    assert kernel.keywords == {"block": 1, "panel": householder.QR_PANEL, "fuse": False}
    assert [b for b, panel, _ in tried if not panel] == list(householder.QR_BLOCKS)
    monkeypatch.setattr(householder, "_QR_KERNEL", None)
    monkeypatch.setattr(householder, "_reproduces_canonical_qr", lambda block, panel=0, fuse=False: block in (1, 8))
    assert householder.qr_kernel().keywords["block"] == 8


def test_qr_kernel_fuses_one_row_at_a_time_when_only_that_passes(monkeypatch):
    """A CPU where the panel kernel passes and its fused form passes only one row at a time
    (``FUSE_ROWS``: AVX2, znver3) gets that form; where the two-row form passes, it keeps it."""
    from lrgym.tasks import householder

    monkeypatch.setattr(householder, "_QR_KERNEL", None)
    monkeypatch.setattr(householder, "_reproduces_canonical_qr",
                        lambda block, panel=0, fuse=False: block == 1 and fuse in (False, householder.FUSE_ROWS))
    kernel = householder.qr_kernel()
    assert kernel.func is householder.householder_qr_fast
    assert kernel.keywords == {"block": 1, "panel": householder.QR_PANEL, "fuse": householder.FUSE_ROWS}
    monkeypatch.setattr(householder, "_QR_KERNEL", None)
    monkeypatch.setattr(householder, "_reproduces_canonical_qr", lambda block, panel=0, fuse=False: block == 1)
    assert householder.qr_kernel().keywords["fuse"] is True


def _blocked_block():
    """The block length of the running CPU's blocked kernel; skips the test when the self-check
    rejected every block length here."""
    from lrgym.tasks.householder import qr_kernel

    keywords = getattr(qr_kernel(), "keywords", {})
    if "block" not in keywords:
        pytest.skip("this CPU's compiled loops did not pass the blocked kernel's self-check")
    return keywords["block"]


@pytest.mark.parametrize("zero_rows", [(), (0,), (7,), (100, 101), (199,), tuple(range(150, 170))])
@pytest.mark.parametrize("rows", [201, 202])
def test_blocked_qr_gives_the_canonical_bits_on_every_sum_length(rows, zero_rows):
    """The running CPU's blocked kernel (whichever block length passed here, 1 included) equals
    the canonical kernel bit for bit on every sum length 1..200 of ‖a‖², the two-column and the
    one-column sums (the odd column of a pass falls on every length with one or the other row
    count), beyond the self-check's 1..160, with columns that are zero below the diagonal (no
    reflector: the canonical kernel's ``continue``)."""
    from lrgym.tasks.householder import householder_qr_blocked

    block = _blocked_block()
    A, B = _canonical_and(lambda M, k: householder_qr_blocked(M, k, block), rows, 200, seed=rows,
                          zero_rows=zero_rows)
    assert np.array_equal(A, B)


def _canonical_and(kernel, rows, cols, seed=0, zero_rows=()):
    """(canonical result, ``kernel``'s result) on one random matrix of rows with scales over
    eight decades; ``zero_rows`` are set to 0 (a column without a reflector)."""
    from lrgym.tasks.householder import householder_qr

    rng = np.random.default_rng(seed + rows * 7919 + cols)
    A = rng.standard_normal((rows, cols)) * np.exp(rng.uniform(-4.0, 4.0, size=(rows, 1)))
    A[list(zero_rows)] = 0.0
    B = A.copy()
    k = min(cols, rows - 1)
    householder_qr(A, k)
    kernel(B, k)
    return A.view(np.int64), B.view(np.int64)


@pytest.mark.parametrize("fuse", [False, True])
@pytest.mark.parametrize("panel", [1, 2, 3, 5, 16, 40])
@pytest.mark.parametrize("rows, cols", [
    (161, 160), (162, 160), (33, 2048), (98, 2048), (257, 512), (5, 300), (70, 64), (40, 41), (41, 41),
    (3, 1), (2, 5), (2, 1), (17, 16), (18, 16), (100, 30), (31, 30), (60, 20), (9, 8),
])
def test_panel_qr_gives_the_canonical_bits(rows, cols, panel, fuse):
    """The panel kernel, fused or not, equals the canonical kernel bit for bit: every panel width
    (1: nothing to fuse, a width that does not divide k, wider than k), an odd and an even number
    of rows below each panel (the one-column last row, the self-paired last row), fewer columns
    than rows (k = cols < rows − 1: rows below k only receive reflectors) and k = rows − 1."""
    from lrgym.tasks.householder import householder_qr_panel

    block = _panel_block(fuse)
    fuse = _fuse_mode(fuse)
    A, B = _canonical_and(lambda M, k: householder_qr_panel(M, k, block, panel, fuse), rows, cols)
    assert np.array_equal(A, B)


def _panel_block(fuse=False):
    """The block length of the running CPU's panel kernel (fused: of its fused form); skips the
    test when the self-check rejected that kernel here."""
    from lrgym.tasks.householder import qr_kernel

    keywords = getattr(qr_kernel(), "keywords", {})
    if "panel" not in keywords:
        pytest.skip("this CPU's compiled loops did not pass the panel kernel's self-check")
    if fuse and not keywords["fuse"]:
        pytest.skip("this CPU's compiled loops did not pass the fused panel kernel's self-check")
    return keywords["block"]


def _fuse_mode(fuse):
    """``fuse`` for :func:`householder_qr_panel`: the running CPU's fused form (True: both rows
    in one loop, ``FUSE_ROWS``: one row at a time) when ``fuse``, else False."""
    from lrgym.tasks.householder import qr_kernel

    return qr_kernel().keywords["fuse"] if fuse else False


@pytest.mark.parametrize("fuse", [False, True])
@pytest.mark.parametrize("zero_rows", [(0,), (5,), (15, 16), (17,), (39,), (1, 2, 3), (14, 15), tuple(range(16, 32))])
def test_panel_qr_skips_zero_columns_as_the_canonical_kernel(zero_rows, fuse):
    """A column that is zero below the diagonal gets no reflector (the canonical kernel's
    ``continue``: the row is left as it is, no later row is touched by it), in any position of a
    panel, including the first and last rows of a panel, several in a row (the fused form then
    fuses an update with the sums of a reflector further on) and a whole panel."""
    from lrgym.tasks.householder import householder_qr_panel

    block = _panel_block(fuse)
    fuse = _fuse_mode(fuse)
    A, B = _canonical_and(lambda M, k: householder_qr_panel(M, k, block, 16, fuse), 41, 200,
                          zero_rows=zero_rows)
    assert np.array_equal(A, B)


@pytest.mark.parametrize("seed", range(6))
def test_fused_update_and_sums_equal_the_unfused_ones(seed):
    """``_axpy_dot_pair`` (update by one reflector fused with the next one's sums) against
    ``_axpy_pair`` then ``_dot_pair`` / ``_dot_single``, bit for bit, on many random cases: every
    sum length around 0..5 main blocks, both rows' values and the factors over many decades, the
    next reflector one or several columns further on, the one-column case for the second row."""
    from lrgym.tasks.householder import FUSE_ROWS, _axpy_dot_pair, _axpy_pair, _dot_pair, _dot_single

    block = _panel_block(fuse=True)
    rows = _fuse_mode(True) == FUSE_ROWS
    rng = np.random.default_rng(seed)
    for _ in range(300):
        n = int(rng.integers(2, 5 * block + 40))
        col = int(rng.integers(0, n - 1))
        colw = int(rng.integers(col + 1, min(n, col + 4)))
        midw = colw + ((n - colw) // block) * block
        one1 = bool(rng.integers(2))
        v, w, t0, t1 = (rng.standard_normal(n) * np.exp(rng.uniform(-8, 8)) for _ in range(4))
        f0, f1 = rng.standard_normal(2) * np.exp(rng.uniform(-8, 8, size=2))
        a0, a1 = t0.copy(), t1.copy()
        _axpy_pair(v, a0, a1, col, n, f0, f1)
        want = _dot_pair(w, a0, a1, colw, midw, n)
        if one1:
            want = (want[0], _dot_single(w, a1, colw, midw, n))
        got = _axpy_dot_pair(v, w, t0, t1, col, colw, midw, n, f0, f1, one1, rows)
        assert np.array_equal(t0.view(np.int64), a0.view(np.int64))
        assert np.array_equal(t1.view(np.int64), a1.view(np.int64))
        assert np.array_equal(np.array(got).view(np.int64), np.array(want).view(np.int64))


def test_fast_qr_runs_the_panel_kernel_on_large_matrices_only():
    """``householder_qr_fast`` picks the panel kernel above the size threshold and the blocked one
    below it; on the running CPU both give the canonical bits on both sides of it."""
    from lrgym.tasks import householder

    _panel_block()
    kernel = householder.qr_kernel()
    cols = householder.QR_PANEL_MIN_COLS
    for rows in (householder.QR_PANEL_MIN_ROWS, householder.QR_FUSED_MIN_ROWS):
        for shape in [(rows, cols), (rows + 1, cols), (rows + 1, cols - 1), (rows + 2, cols + 7), (258, 2048)]:
            A, B = _canonical_and(kernel, *shape)
            assert np.array_equal(A, B), shape



def test_blocked_qr_with_a_wrong_block_is_caught_by_the_self_check():
    """The self-check can fail: a block length that is not a multiple of the compiler's main
    block (here 3) changes the summation order, and the check rejects it (for the blocked and
    for the panel kernel, fused or not)."""
    from lrgym.tasks.householder import FUSE_ROWS, QR_PANEL, _reproduces_canonical_qr

    assert not _reproduces_canonical_qr(3)
    assert not _reproduces_canonical_qr(3, QR_PANEL)
    assert not _reproduces_canonical_qr(3, QR_PANEL, fuse=True)
    assert not _reproduces_canonical_qr(3, QR_PANEL, fuse=FUSE_ROWS)


def test_qr_stats_against_numpy_least_squares():
    """R, c, ρ of ``qr_stats`` against LAPACK's QR and least squares (equal up to rounding):
    RᵀR = XᵀX, Rᵀc = Xᵀy, ρ = the least-squares residual."""
    from lrgym.tasks.linreg import qr_stats

    rng = np.random.default_rng(3)
    X = rng.standard_normal((700, 45))
    y = X @ rng.standard_normal(45) + 0.1 * rng.standard_normal(700)
    R, c, rho = qr_stats(X, y, 600)
    Xe, ye = X[:600], y[:600]
    np.testing.assert_allclose(R.T @ R, Xe.T @ Xe, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(R.T @ c, Xe.T @ ye, rtol=1e-10, atol=1e-9)
    resid = np.linalg.lstsq(Xe, ye, rcond=None)[1][0]
    assert rho == pytest.approx(resid, rel=1e-9)
