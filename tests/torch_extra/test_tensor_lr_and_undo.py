"""Three contracts of the PyTorch bridge that a plain float LR and a model without buffers hide.

* A tensor LR (``torch.optim`` takes ``lr=torch.tensor(...)``, e.g. for capturable or fused Adam,
  whose captured graphs read that very tensor) stays the user's tensor — the same object — in
  :class:`TorchTrainingEnv` and in :class:`PolicyScheduler`, also across the bold driver's undo,
  and holds the LR the policy chose (reference: the LR product written out, rounded to float32).
* The bold driver's undo puts the model back as it was at the restored point, buffers included
  (BatchNorm's running statistics and batch counter), and a ``GradScaler``'s scale and growth
  tracker (reference: ``state_dict()`` copies taken at that point, compared with ``torch.equal``).
* ``state_dict()`` / ``load_state_dict()`` into a fresh scheduler at any point of the loop, also
  between ``opt.step()`` and ``sched.step()``, continues the run to the bit (reference: the same
  loop without the round trip).
"""

from __future__ import annotations

import copy
import io
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lrgym.baselines.registry import make_baseline  # noqa: E402
from lrgym.settings import DEFAULT_FACTORS  # noqa: E402
from lrgym.torch import PolicyScheduler, TorchTrainingEnv  # noqa: E402

torch.set_num_threads(1)


def _blobs(n=120, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    X = torch.randn(n, d, generator=g) + 2.0 * y[:, None]
    return X, y


# ---- tensor LR ------------------------------------------------------------------------------------

def test_the_env_keeps_a_tensor_lr_and_fills_it_with_the_policys_lr():
    X, y = _blobs()
    made = []

    def tensor_sgd(params, lr):
        made.append(torch.tensor(lr))
        return torch.optim.SGD(params, lr=made[-1], foreach=False)

    env = TorchTrainingEnv(model=lambda: torch.nn.Linear(4, 2), train_data=(X, y), batch_size=16,
                           loss_fn=torch.nn.CrossEntropyLoss(reduction="none"), optimizer=tensor_sgd,
                           horizon=4, inner_steps=2, lr_init=0.01)
    env.reset(seed=0)
    lr_tensor = made[-1]
    expected = 0.01
    for action in (3, 4, 0, 1):
        env.step(action)
        expected *= DEFAULT_FACTORS[action]  # the discrete contract written out (inside [lr_min, lr_max])
        group_lr = env.optimizer.param_groups[0]["lr"]
        assert group_lr is lr_tensor and lr_tensor.dtype == torch.float32
        assert float(lr_tensor) == float(np.float32(expected))
    assert len(made) == 1


def test_the_env_keeps_a_number_lr_a_python_float_so_its_checkpoint_loads_weights_only():
    X, y = _blobs()
    env = TorchTrainingEnv(model=lambda: torch.nn.Linear(4, 2), train_data=(X, y), batch_size=16,
                           loss_fn=torch.nn.CrossEntropyLoss(reduction="none"), horizon=3, inner_steps=2,
                           lr_init=0.01)
    env.reset(seed=0)
    env.step(np.int64(4))
    lr = env.optimizer.param_groups[0]["lr"]
    assert type(lr) is float and lr == 0.02
    buf = io.BytesIO()  # a NumPy scalar in param_groups made this weights-only load fail
    torch.save(env.optimizer.state_dict(), buf)
    buf.seek(0)
    assert torch.load(buf, weights_only=True)["param_groups"][0]["lr"] == 0.02
