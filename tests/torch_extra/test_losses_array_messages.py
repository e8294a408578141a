"""The words of losses_array's refusals, whole: each is built in one place now (one ``refused``
wording: the value, why it is no loss, what is valid), and the texts users see stay these."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lrgym.torch._tensors import losses_array  # noqa: E402

VALID = "valid: a real number or a real tensor (a scalar loss, or per-example losses)"

CASES = [
    (lambda: losses_array(torch.tensor([1 + 2j])),
     f"loss=tensor([1.+2.j]) is not real (a torch.complex64 tensor); {VALID}"),
    (lambda: losses_array(torch.tensor([True]), "val_fn()", "the validation loss"),
     "val_fn()=tensor([True]) is not real (a torch.bool tensor); valid: a real number or a real tensor "
     "(the validation loss)"),
    (lambda: losses_array([0.5, True]), f"loss=[0.5, True] is not a number (a list holding the bool True); {VALID}"),
    (lambda: losses_array(np.array([0.5, np.True_], dtype=object), "step(loss)"),
     f"step(loss)=array([0.5, np.True_], dtype=object) is not a number (a ndarray holding the bool np.True_); {VALID}"),
    (lambda: losses_array("0.5"), f"loss='0.5' is not a number (a str); {VALID}"),
    (lambda: losses_array("x" * 200),
     f"loss='{'x' * 37}...{'x' * 38}' is not a number (a str); {VALID}"),
    (lambda: losses_array([]), f"empty loss; {VALID}"),
    (lambda: losses_array([torch.tensor([0.5]), torch.tensor([1 + 2j])]),  # a list of tensors: each one judged
     f"loss=tensor([1.+2.j]) is not real (a torch.complex64 tensor); {VALID}"),
    (lambda: losses_array([torch.tensor([0.5]), "0.5"]),
     f"loss=[tensor([0.5000]), '0.5'] is not a number (a list holding the str '0.5'); {VALID}"),
]


@pytest.mark.parametrize("call, message", CASES, ids=[m[:40] for _, m in CASES])
def test_each_refusal_reads_as_before(call, message):
    with pytest.raises(ValueError) as caught:
        call()
    assert str(caught.value) == message
