"""The checks a stored record passes against the live policy before anything is loaded: a
module's keys and shapes and live tensors that take a copy, an optimizer's parameter groups, the live object's class, a scalar's
dtype, a generator's device. Each failure is a :class:`RestoreError` naming where and what is
valid, so :func:`~lrgym.torch._checkpoint_restore.restore_plan` can refuse a checkpoint whole."""

from __future__ import annotations

import numpy as np
import torch

from lrgym.brief import brief
from lrgym.torch._checkpoint_format import SCALAR_KINDS, RestoreError, class_name, named, too_wide


def scalar_dtype(name, where: str) -> np.dtype:
    """The dtype of a stored NumPy scalar: one :func:`to_checkpoint` stores (:data:`SCALAR_KINDS`),
    else a ``ValueError`` naming it. A forged one was made whatever it was: ``np.dtype("V1").type``
    is ``np.void``, which makes a scalar of as many zero bytes as the stored value says (2 GiB)."""
    try:
        dtype = np.dtype(name) if type(name) is str else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in SCALAR_KINDS or too_wide(dtype) or dtype.fields is not None \
            or dtype.subdtype is not None:
        raise RestoreError(f"cannot restore {where}: a NumPy scalar of dtype {brief(name)}; valid: a bool, integer, "
                         "float, complex, str or bytes dtype such as '<f8'")
    return dtype


def torch_generator(device: str, where: str) -> torch.Generator:
    """A new ``torch.Generator`` on the stored ``device``; ``ValueError`` naming it and what to do
    if this machine's torch has no such device (a CUDA generator saved on a GPU machine, resumed on
    one without: torch's bare ``RuntimeError`` about its ATen_cuda library). A generator's state
    is its device's own (a CUDA one's is not a CPU one's): it cannot move to another device."""
    try:
        return torch.Generator(device=device)
    except RuntimeError as exc:
        here = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        raise RestoreError(
            f"cannot restore {where}: the checkpoint holds a torch.Generator on device {brief(device)}, which this "
            f"machine's torch cannot make ({str(exc).splitlines()[0][:160]}); devices here: {', '.join(here)}. "
            f"Resume it on a machine with {brief(device)}: a generator's state is its device's own and cannot move to "
            "another. To go on here, give the policy state_dict() and load_state_dict(state) methods that rebuild "
            "its generator on a device of this machine") from None


def why_no_copy(live: torch.Tensor) -> str | None:
    """Why torch's ``copy_`` refuses to write into ``live``, known before any write (None: it
    takes one): elements that share memory (an expanded view, ``torch.zeros(1, 3).expand(2, 3)``:
    a stride of 0 along an axis of more than one element, torch's own test of internal overlap),
    or an inference tensor written outside ``torch.inference_mode()``."""
    if live.layout == torch.strided and any(n > 1 and step == 0 for n, step in zip(live.shape, live.stride())):
        return "an expanded view, whose elements share memory"
    if live.is_inference() and not torch.is_inference_mode_enabled():
        return "an inference tensor (made under torch.inference_mode())"
    return None


def check_module_state(state, live: torch.nn.Module, where: str) -> None:
    """The stored ``state_dict()`` has the live module's keys and tensor shapes (torch's strict
    ``load_state_dict`` copies what matches before it raises about the rest), and each live
    parameter and buffer takes a copy (:func:`why_no_copy`: ``load_state_dict`` copies into them)."""
    mine = live.state_dict()
    if not isinstance(state, dict) or set(state) != set(mine):
        got = list(state) if isinstance(state, dict) else type(state).__name__
        raise RestoreError(f"cannot restore {where}: its state_dict() holds {brief(got)}, this policy's "
                           f"{list(mine)}; valid: build the policy the same way as the one that was saved")
    for key, tensor in mine.items():
        stored = state[key]
        if isinstance(tensor, torch.nn.parameter.UninitializedTensorMixin):
            continue  # a lazy module's parameter takes the stored shape (torch materializes it)
        if isinstance(tensor, torch.Tensor) and (not isinstance(stored, torch.Tensor) or stored.shape != tensor.shape):
            shape = tuple(stored.shape) if isinstance(stored, torch.Tensor) else type(stored).__name__
            raise RestoreError(f"cannot restore {where}: its state_dict()[{brief(key)}] is {shape}, this policy's "
                               f"{tuple(tensor.shape)}; valid: build the policy the same way as the one that was "
                               "saved")
        refused = why_no_copy(tensor) if isinstance(tensor, torch.Tensor) else None
        if refused is not None:
            raise RestoreError(f"cannot restore {where}: its live state_dict()[{brief(key)}] is {refused}, which "
                               "load_state_dict cannot copy the saved values into; valid: a parameter or buffer of "
                               "its own memory, e.g. register_buffer(name, tensor.clone())")


def check_optimizer_state(state, live: torch.optim.Optimizer, where: str) -> None:
    """The stored optimizer state has the live optimizer's parameter groups, of the same sizes
    (what ``Optimizer.load_state_dict`` checks), before anything is loaded."""
    groups = state.get("param_groups") if isinstance(state, dict) else None
    ok = isinstance(groups, list) and isinstance(state.get("state"), dict) and all(
        isinstance(g, dict) and isinstance(g.get("params"), list) for g in groups)
    sizes = [len(g["params"]) for g in groups] if ok else None
    mine = [len(g["params"]) for g in live.param_groups]
    if sizes != mine:
        raise RestoreError(f"cannot restore {where}: its state_dict() has parameter groups of sizes {sizes}, this "
                           f"policy's optimizer {mine}; valid: build the policy the same way as the one that was "
                           "saved")


def check_live_class(value: dict, live, where: str) -> None:
    """The live value at ``where`` is of the stored object's class (it is loaded into, never built)."""
    if live is None or class_name(type(live)) != value["class"]:
        now = "nothing" if live is None else f"a {class_name(type(live))}"
        raise RestoreError(
            f"cannot restore {where}: the checkpoint holds a {named(value['class'])} there, this policy has {now}. "
            "Objects are loaded into the policy's own (as nn.Module.load_state_dict loads parameters): "
            "build the policy the same way as the one that was saved")
