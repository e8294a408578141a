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


def why_no_copy(live: torch.Tensor, saved: torch.Tensor) -> str | None:
    """Why torch's ``copy_`` of ``saved`` (a tensor of the live one's shape and dtype) into ``live``
    would be refused or would not leave ``live`` holding ``saved``'s elements, known before any
    write (None: the copy loads it).

    * elements that share memory along an axis (an expanded view,
      ``torch.zeros(1, 3).expand(2, 3)``: a stride of 0 along an axis of more than one element,
      torch's own test of internal overlap): torch refuses the copy;
    * an inference tensor written outside ``torch.inference_mode()``: torch refuses it;
    * another layout than the saved tensor's (a sparse one into a strided one or back): torch
      refuses the copy ("copy_() between dense and sparse Tensors is not implemented"), and one
      between compressed sparse tensors (CSR, CSC, BSR, BSC) of other numbers of specified elements;
    * elements that share memory otherwise (``torch.as_strided`` with overlapping strides,
      ``torch.arange(3.).as_strided((2, 2), (1, 1))``), whose saved values differ where the
      live elements share a place: torch's overlap test cannot tell such a view ("too hard") and
      copies, each shared place keeping one of its elements' values, so the live tensor would not
      hold the saved one (saved from a view of the same layout, the values agree and it loads)."""
    if live.layout == torch.strided and any(n > 1 and step == 0 for n, step in zip(live.shape, live.stride())):
        return "an expanded view, whose elements share memory"
    if live.is_inference() and not torch.is_inference_mode_enabled():
        return "an inference tensor (made under torch.inference_mode())"
    if live.layout != saved.layout:
        return f"a {_layout(live)} tensor, the saved one {_layout(saved)}"
    if live.layout in _COMPRESSED and live.values().shape[0] != saved.values().shape[0]:
        return (f"a {_layout(live)} tensor of {live.values().shape[0]} specified elements, the saved one of "
                f"{saved.values().shape[0]} (torch copies between compressed sparse tensors of as many only)")
    if live.layout == torch.strided and _may_overlap(live) and not _copy_keeps(live, saved):
        return ("a view whose elements share memory (as_strided), where the saved values differ: a copy would "
                "keep one value of each shared place")
    return None


#: the compressed sparse layouts, whose ``copy_`` needs as many specified elements on both sides
_COMPRESSED = (torch.sparse_csr, torch.sparse_csc, torch.sparse_bsr, torch.sparse_bsc)


def _layout(tensor: torch.Tensor) -> str:
    return str(tensor.layout).removeprefix("torch.")


def _may_overlap(tensor: torch.Tensor) -> bool:
    """False when no two elements of the strided ``tensor`` can share memory: its axes sorted by
    stride, each stride passes the farthest offset the smaller axes reach (the test every dense
    and every sliced tensor passes); True may still be a tensor without overlap."""
    reach = 0
    for step, n in sorted((abs(step), n) for n, step in zip(tensor.shape, tensor.stride()) if n > 1):
        if step <= reach:
            return True
        reach += step * (n - 1)
    return False


def _copy_keeps(live: torch.Tensor, saved: torch.Tensor) -> bool:
    """Whether ``copy_`` of ``saved`` into a tensor laid out as ``live`` (same sizes, strides and
    dtype, on the CPU, in new memory) reads back as ``saved`` (in the live dtype, as
    ``load_state_dict`` casts it), bit for bit: true unless two saved elements that land on one
    place differ (whichever torch writes last, the other reads back otherwise). The live tensor is
    not touched."""
    expected = saved.detach().to(device="cpu", dtype=live.dtype)
    probe = torch.empty_strided(live.shape, live.stride(), dtype=live.dtype)
    probe.copy_(expected)
    return same_bits(probe, expected)


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether two strided tensors of one shape and dtype hold the same elements, bit for bit (a NaN too)."""
    return torch.equal(a.detach().reshape(-1).view(torch.uint8), b.detach().reshape(-1).view(torch.uint8))


def same_data(a, b) -> bool:
    """Whether two stored or restored values are the same data: containers item by item, tensors
    and arrays of one kind, shape and dtype, floats, complex numbers and NumPy scalars of one type
    (strided tensors, arrays and numbers bit for bit: a NaN is its own value, as the same state
    saved twice holds it; ``-0.0`` is not ``0.0``), other values of one type and equal. (A NaN
    compared by ``==`` made a state stored at each place it is met, a shared LR scheduler's with
    a ``best = math.nan`` of its own, two different records: refused as if the saved policy had
    had two schedulers.)"""
    if type(a) is not type(b):
        return False
    if isinstance(a, (float, complex, np.generic)):  # (of one type: one dtype)
        return np.asarray(a).tobytes() == np.asarray(b).tobytes()
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_data(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_data(x, y) for x, y in zip(a, b))
    if isinstance(a, torch.Tensor):
        if (a.layout, a.shape, a.dtype, a.device) != (b.layout, b.shape, b.dtype, b.device):
            return False
        return same_bits(a, b) if a.layout == torch.strided else torch.equal(a.to_dense(), b.to_dense())
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - a value without a plain ==: not known to be the same
        return False


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
        refused = why_no_copy(tensor, stored) if isinstance(tensor, torch.Tensor) else None
        if refused is not None:
            raise RestoreError(f"cannot restore {where}: its live state_dict()[{brief(key)}] is {refused}, which "
                               "load_state_dict cannot copy the saved values into; valid: a parameter or buffer of "
                               "its own memory, of the saved tensor's layout, e.g. "
                               "register_buffer(name, tensor.clone())")


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


def check_shared_memory(loads: list) -> None:
    """The tensors a plan copies into, ``(live, saved, where)`` in the order loaded, leave each live
    one holding its saved values: two live tensors whose memory overlaps (views of one storage,
    ``b = a[1:3]``) each take a copy, the later write winning where they share elements, so when
    their saved values differ there (the saved policy had them apart) one of them would read back
    otherwise than saved, in silence, as torch's own ``load_state_dict`` into two overlapping
    buffers does. A ``RestoreError`` naming both places instead; saved from views of one storage
    as well (values agreeing where they share), they load. Memory is compared by its addresses on
    each device, not by storage: two storages may hold the same memory (``torch.from_numpy`` of
    two overlapping NumPy views, ``torch.frombuffer``), whose tensors load the same way. The
    writes are made on a probe of the shared bytes (on the CPU, in new memory): the live tensors
    are not touched."""
    by_device: dict = {}
    for live, saved, where in loads:
        span = _byte_span(live)
        if span is not None:
            by_device.setdefault(live.device, []).append((span, live, saved, where))
    for group in by_device.values():
        for cluster in _overlapping(group):
            _check_cluster(cluster)


def _byte_span(tensor: torch.Tensor) -> tuple[int, int] | None:
    """The addresses ``[start, end)`` of the bytes a strided tensor's elements lie in, on its
    device (None: no elements, or no memory of its own to compare: another layout, a meta
    tensor)."""
    if tensor.layout != torch.strided or tensor.numel() == 0 or tensor.device.type == "meta":
        return None
    size = tensor.element_size()
    start = tensor.untyped_storage().data_ptr() + tensor.storage_offset() * size
    return start, start + (1 + sum((n - 1) * abs(step) for n, step in zip(tensor.shape, tensor.stride()))) * size


def _overlapping(group: list) -> list[list]:
    """The entries of one storage in clusters of overlapping byte spans (of two entries or more),
    each in the order loaded."""
    clusters, end = [], -1
    for entry in sorted(group, key=lambda e: e[0][0]):
        if entry[0][0] < end:
            clusters[-1].append(entry)
        else:
            clusters.append([entry])
        end = max(end, entry[0][1])
    order = {id(e): i for i, e in enumerate(group)}
    return [sorted(c, key=lambda e: order[id(e)]) for c in clusters if len(c) > 1]


def _check_cluster(cluster: list) -> None:
    """:func:`check_shared_memory` of the live tensors of one device whose bytes overlap."""
    base = min(span[0] for span, *_ in cluster) // 64 * 64  # (a multiple of every element size)
    probe = torch.empty(max(span[1] for span, *_ in cluster) - base, dtype=torch.uint8)
    written = []
    for (start, end), live, saved, where in cluster:
        if (start - base) % live.element_size():  # memory not aligned to its elements (a NumPy array's
            continue  # view of bytes at an odd address): no typed view of the probe lies there; not judged
        view = torch.empty(0, dtype=live.dtype).set_(probe.untyped_storage(), (start - base) // live.element_size(),
                                                     live.shape, live.stride())
        expected = saved.detach().to(device="cpu", dtype=live.dtype)
        view.copy_(expected)
        for (first_start, first_end), first_view, first_expected, first_where in written:
            if first_start < end and start < first_end and not same_bits(first_view, first_expected):
                raise RestoreError(
                    f"cannot restore {where}: its live tensor shares memory with the one at {first_where} (views of "
                    "one storage), where the saved values differ (the saved policy had them apart): loading both "
                    f"would leave {first_where} holding {where}'s values there; valid: build the policy the same "
                    "way as the one that was saved, a tensor of its own memory at each place (e.g. tensor.clone())")
        written.append(((start, end), view, expected, where))
