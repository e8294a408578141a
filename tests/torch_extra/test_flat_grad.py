"""``flat_grad`` copies each ``.grad`` into its slice of one float64 vector: the same vector, to
the bit, as the implementation it replaced (each gradient converted to float64 on its own, the
parts joined by ``torch.cat``; kept here as the reference), on every kind of gradient a model can
hold: float32, float64, float16 and bfloat16 parameters, complex ones, sparse gradients with
duplicate indices, parameters without a ``.grad`` (real and complex), non-contiguous gradients
(transposed, sliced, broadcast), 0-dim and empty parameters, and the special values (NaN, ±inf,
-0.0, subnormals). A vector passed as ``out`` is refilled, whatever it held, and one of another
size is not used. The scheduler reuses its vector across updates without its values leaking into
the statistics (the bit-identity tests against the env's kernels check the features)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lrgym.torch._tensors import flat_grad  # noqa: E402


def reference_flat_grad(params) -> np.ndarray:
    """flat_grad as it was before 2026-12-06: per-parameter float64 copies, ``torch.cat``."""
    def as_real(grad):
        if grad.layout != torch.strided:
            grad = grad.to_dense()
        if grad.is_complex():
            grad = torch.view_as_real(grad.resolve_conj())
        return grad.reshape(-1)

    parts = [as_real(p.grad.detach()) if p.grad is not None
             else torch.zeros(p.numel() * (2 if p.is_complex() else 1), dtype=torch.float64, device=p.device)
             for p in params]
    if not parts:
        return np.zeros(0)
    return torch.cat([part.to(dtype=torch.float64, device="cpu") for part in parts]).numpy()


SPECIAL = [float("nan"), float("inf"), float("-inf"), -0.0, 0.0, 1e-40, -3e-8, 65504.0, 1e30]


def _param(shape, dtype, grad: torch.Tensor | None, seed: int) -> torch.nn.Parameter:
    g = torch.Generator().manual_seed(seed)
    p = torch.nn.Parameter(torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)
                           if not dtype.is_complex else torch.randn(shape, generator=g, dtype=dtype))
    p.grad = grad
    return p


def _odd_params():
    g = torch.Generator().manual_seed(0)
    params = []
    for i, dtype in enumerate((torch.float32, torch.float64, torch.float16, torch.bfloat16)):
        values = torch.randn(7, 5, generator=g, dtype=torch.float64) * 10.0 ** (3 * i - 4)
        values.view(-1)[:len(SPECIAL)] = torch.tensor(SPECIAL, dtype=torch.float64)
        params.append(_param((7, 5), dtype, values.to(dtype), seed=i))
        # non-contiguous: a transposed gradient, a sliced one, a broadcast (stride-0) one
        params.append(_param((5, 7), dtype, values.to(dtype).t(), seed=10 + i))
        params.append(_param((4, 5), dtype, torch.randn(8, 5, generator=g).to(dtype)[::2], seed=20 + i))
        params.append(_param((3, 6), dtype, torch.randn(1, 6, generator=g).to(dtype).expand(3, 6), seed=30 + i))
        params.append(_param((6,), dtype, None, seed=40 + i))  # no .grad (frozen or unused): zeros
    params.append(_param((), torch.float32, torch.tensor(2.5), seed=50))  # 0-dim
    params.append(_param((0, 3), torch.float32, torch.zeros(0, 3), seed=51))  # empty
    for dtype in (torch.complex64, torch.complex128):
        grad = torch.randn(3, 4, generator=g, dtype=dtype)
        params.append(_param((3, 4), dtype, grad, seed=52))
        params.append(_param((4, 3), dtype, grad.t().conj(), seed=53))  # conjugate view, transposed
        params.append(_param((2, 2), dtype, None, seed=54))  # complex without .grad: 8 zeros
    # a sparse gradient (nn.Embedding(sparse=True)) with a duplicate index: summed when densified
    index = torch.tensor([[0, 3, 0, 5]])
    sparse = torch.sparse_coo_tensor(index, torch.randn(4, 3, generator=g), (6, 3), check_invariants=True)
    params.append(_param((6, 3), torch.float32, sparse, seed=55))
    return params


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype == np.float64 and a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def test_flat_grad_equals_the_concatenated_copies_to_the_bit():
    params = _odd_params()
    assert any(p.grad is not None and not p.grad.is_contiguous() for p in params)
    assert any(p.grad is not None and p.grad.is_sparse for p in params)
    expected = reference_flat_grad(params)
    assert np.isnan(expected).any() and np.isinf(expected).any() and np.signbit(expected[expected == 0]).any()
    assert _same_bits(flat_grad(params), expected)
    for p in params:  # each parameter alone too (its offset 0, its own size)
        assert _same_bits(flat_grad([p]), reference_flat_grad([p]))
    assert _same_bits(flat_grad([]), reference_flat_grad([]))


def test_out_is_refilled_and_used_only_at_its_size_when_writable():
    params = _odd_params()
    expected = reference_flat_grad(params)
    out = np.full(expected.size, 7.0)  # stale values, as a previous update's gradient
    got = flat_grad(params, out=out)
    assert got is out and _same_bits(got, expected)
    wrong = np.full(expected.size + 1, 7.0)
    got = flat_grad(params, out=wrong)
    assert got is not wrong and _same_bits(got, expected) and (wrong == 7.0).all()
    assert flat_grad(params, out=np.zeros(expected.size, dtype=np.float32)).dtype == np.float64
    frozen = np.zeros(expected.size)
    frozen.flags.writeable = False  # (np.frombuffer of bytes: torch wrote into the immutable bytes object)
    got = flat_grad(params, out=frozen)
    assert got is not frozen and _same_bits(got, expected) and (frozen == 0.0).all()


def test_scheduler_reuses_its_vectors_and_observes_what_fresh_copies_give():
    """Two runs of one model, one with the scheduler's two vectors (the gradient filled into the
    monitor's previous one, which the monitor then keeps) and one forced to fresh vectors (the
    spare dropped before each step): the same sums, observations and LRs, to the bit, and the
    monitor's previous gradient is the last update's gradient, as the copying record left it."""
    from lrgym.baselines.registry import make_baseline
    from lrgym.torch import PolicyScheduler

    def run(fresh: bool):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        sched = PolicyScheduler(opt, make_baseline("plateau"), horizon=6, updates_per_step=3, lr_init=0.01)
        g = torch.Generator().manual_seed(1)
        observed, buffers = [], set()
        for i in range(18):
            if i == 2:
                buffers.clear()  # from the third update on: the two vectors only
            x = torch.randn(32, 6, generator=g)
            opt.zero_grad()
            losses = (model(x).squeeze(1) - x[:, 0]) ** 2
            losses.mean().backward()
            opt.step()
            if fresh:
                sched._grad_buffer = None
            sched.step(losses)
            buffers.update((id(sched._grad_buffer), id(sched.monitor.prev_grad)))
            assert _same_bits(sched.monitor.prev_grad, reference_flat_grad(list(model.parameters())))
            observed.append((sched.monitor.acc.copy(), sched.last_obs.copy(), sched.get_last_lr()))
        return observed, buffers

    reused, buffers = run(fresh=False)
    fresh, _ = run(fresh=True)
    assert len(buffers) == 2  # two vectors for the whole run, in turns
    assert len(reused) == len(fresh) == 18
    for (acc_a, obs_a, lr_a), (acc_b, obs_b, lr_b) in zip(reused, fresh):  # the kernels' sums, features, LRs
        assert _same_bits(acc_a, acc_b) and obs_a.tobytes() == obs_b.tobytes() and lr_a == lr_b


def test_zero_check_answers_as_np_any():
    """The scheduler's zero-gradient check (``any_nonzero``, stopping at the first nonzero entry)
    gives ``np.any``'s answer: NaN and ±inf are nonzero, -0.0 is zero, a subnormal last is found."""
    from lrgym.torch._tensors import any_nonzero

    vectors = [np.zeros(0), np.zeros(1000), np.full(5, -0.0), np.array([0.0, np.nan]), np.array([-np.inf, 0.0]),
               np.r_[np.zeros(100_000), 5e-324], np.r_[-0.0, np.zeros(7), -1e-300], np.ones(3)]
    for v in vectors:
        assert any_nonzero(v) is bool(np.any(v)), v
