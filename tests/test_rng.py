import math

import numpy as np
import pytest

from lrgym import rng
from references import ZIG_F, ZIG_R, ZIG_V, ZIG_X, SplitMix64


def test_splitmix_matches_python_reference_bit_for_bit():
    state = np.array([123456789], dtype=np.uint64)
    ref = SplitMix64(123456789)
    out = np.zeros(50, dtype=np.int64)
    rng.fill_randint(state, 1000, out)
    assert out.tolist() == [ref.randint(1000) for _ in range(50)]
    # enough normals that the rare paths run: ~1.5 % wedges, ~0.03 % tail draws beyond r
    normals = np.zeros(200_000)
    rng.fill_standard_normal(state, normals)
    np.testing.assert_array_equal(normals, ref.normals(normals.shape[0]))
    assert int(state[0]) == ref.state
    assert ref.paths["wedge_accepted"] > 1000 and ref.paths["wedge_rejected"] > 100
    assert ref.paths["tail"] > 10 and np.sum(np.abs(normals) > rng.ZIGGURAT_R) == ref.paths["tail"]
    assert rng.standard_normal(state) == ref.normal() and int(state[0]) == ref.state


def test_known_splitmix_output():
    # First output of SplitMix64 seeded with 0 (published test vector).
    assert SplitMix64(0).next_u64() == 0xE220A8397B1DCDAF
    state = np.zeros(1, dtype=np.uint64)
    assert int(rng.next_u64(state)) == 0xE220A8397B1DCDAF


def test_fill_is_successive_scalar_draws():
    for n in (0, 1, 7, 1000):
        a, b = np.array([99], dtype=np.uint64), np.array([99], dtype=np.uint64)
        filled = np.zeros(n)
        rng.fill_standard_normal(a, filled)
        np.testing.assert_array_equal(filled, [rng.standard_normal(b) for _ in range(n)])
        assert a[0] == b[0]


def test_ziggurat_tables():
    # the reference builds its tables independently from the same definition
    assert (rng.ZIGGURAT_R, rng.ZIGGURAT_V) == (ZIG_R, ZIG_V)
    np.testing.assert_array_equal(rng.ZIGGURAT_X, ZIG_X)
    np.testing.assert_array_equal(rng.ZIGGURAT_F, ZIG_F)
    x, f, r, v, n = rng.ZIGGURAT_X, rng.ZIGGURAT_F, rng.ZIGGURAT_R, rng.ZIGGURAT_V, rng.ZIGGURAT_LAYERS
    assert x.dtype == f.dtype == np.float64 and x.shape == f.shape == (n + 1,)
    assert r == pytest.approx(3.6541528853610088, rel=1e-15)  # Marsaglia & Tsang (2000), 256 layers (published)
    assert v == pytest.approx(0.00492867323399, rel=1e-11)
    assert x[1] == r and x[n] == 0.0 and f[0] == 0.0 and f[n] == 1.0
    assert np.all(np.diff(x) < 0) and np.all(np.diff(f) > 0)
    # f = exp(−x²/2) by scalar math.exp, as the tables are built (np.exp's SIMD code may differ
    # in the last bit by CPU kind: compare with it only to rounding)
    np.testing.assert_array_equal(f[1:n], [math.exp(-0.5 * t * t) for t in x[1:n]])
    np.testing.assert_allclose(f[1:n], np.exp(-0.5 * x[1:n] ** 2), rtol=1e-15)
    # every layer [0, x_i] × [f_i, f_{i+1}] has area v (the top one up to the rounding of r) ...
    np.testing.assert_allclose(x[:-1] * np.diff(f), v, rtol=1e-12)
    # ... and the base's part beyond r is the tail's area
    tail = math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2))
    assert (x[0] - r) * f[1] == pytest.approx(tail, rel=1e-13)


@pytest.fixture(scope="module")
def normals():
    state = np.array([7], dtype=np.uint64)
    x = np.zeros(4_000_000)
    rng.fill_standard_normal(state, x)
    return x


def test_uniform_and_normal_moments(normals):
    x = normals[:200_000]
    assert abs(x.mean()) < 0.01 and abs(x.std() - 1) < 0.01
    state = np.array([7], dtype=np.uint64)
    k = np.zeros(100_000, dtype=np.int64)
    rng.fill_randint(state, 10, k)
    counts = np.bincount(k, minlength=10)
    assert k.min() == 0 and k.max() == 9
    assert np.all(np.abs(counts - 10_000) < 500)


def normal_cdf(t):
    return 0.5 * (1.0 + math.erf(t / math.sqrt(2.0)))


def test_kolmogorov_smirnov_distance(normals):
    x = np.sort(normals[:1_000_000])
    n = x.shape[0]
    cdf = np.array([normal_cdf(t) for t in x.tolist()])
    d = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    assert d < 1.5e-3  # ≈ the 2 % critical value; typical 0.9e-3
    # finer: |x| on [0, r) is the fast path + wedges; a wrong table shows here first
    a = np.sort(np.abs(x[np.abs(x) < 1.0]))
    m = a.shape[0]
    cdf = (np.array([normal_cdf(t) for t in a.tolist()]) - 0.5) / (normal_cdf(1.0) - 0.5)
    assert max(np.max(np.arange(1, m + 1) / m - cdf), np.max(cdf - np.arange(m) / m)) < 1.63 / math.sqrt(m)


def test_even_moments_and_binned_frequencies(normals):
    """Sharper than KS for the ziggurat's failure modes: tables for a wrong r, or accepting whole
    wedges, move E x² and E x⁴ by many standard errors and bend the histogram at the layer edges."""
    x = normals
    n = x.shape[0]
    assert abs(np.mean(x**2) - 1.0) < 4 * math.sqrt(2.0 / n)  # Var x² = 2
    assert abs(np.mean(x**4) - 3.0) < 4 * math.sqrt(96.0 / n)  # Var x⁴ = 105 − 9
    edges = np.concatenate([[-np.inf], np.arange(-4.5, 4.5001, 0.125), [np.inf]])
    p = np.diff([0.5 * math.erfc(-e / math.sqrt(2.0)) for e in edges])
    counts, _ = np.histogram(x, edges)
    chi2 = np.sum((counts - n * p) ** 2 / (n * p))
    k = len(p) - 1
    critical = k * (1 - 2 / (9 * k) + 3.09 * math.sqrt(2 / (9 * k))) ** 3  # 0.1 % level (Wilson–Hilferty)
    assert chi2 < critical, (chi2, critical)


@pytest.mark.parametrize("t", [1.0, 2.0, 3.0, rng.ZIGGURAT_R, 4.0, 4.5])
def test_tail_frequencies(normals, t):
    p = math.erfc(t / math.sqrt(2.0))  # P(|X| > t)
    n = normals.shape[0]
    count = np.count_nonzero(np.abs(normals) > t)
    assert abs(count - n * p) < 4 * math.sqrt(n * p * (1 - p)), (count, n * p)


def test_symmetry_and_independence(normals):
    x = normals
    n = x.shape[0]
    se = 1 / math.sqrt(n)
    positive = x > 0
    assert abs(positive.mean() - 0.5) < 4 * 0.5 * se
    for t in (0.5, 1.5, 3.0, rng.ZIGGURAT_R):  # P(X > t) = P(X < −t)
        up, down = np.count_nonzero(x > t), np.count_nonzero(x < -t)
        assert abs(up - down) < 4 * math.sqrt(up + down)
    assert np.mean(x**3) == pytest.approx(0.0, abs=4 * math.sqrt(15) * se)
    sign = np.where(positive, 1.0, -1.0)
    pairs = [
        (np.abs(x), sign),  # magnitude and sign use separate bits
        (x[:-1], x[1:]),  # consecutive draws
        (np.abs(x[:-1]), np.abs(x[1:])),
        (x[:-1] ** 2, x[1:] ** 2),
        (sign[:-1], sign[1:]),
        (np.abs(x[:-2]), np.abs(x[2:])),
    ]
    for a, b in pairs:
        assert abs(np.corrcoef(a, b)[0, 1]) < 4 * se
