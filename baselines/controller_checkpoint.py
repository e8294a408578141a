"""The checkpoint of a ``train_controller`` run: its whole ES state after a generation, so that an
interrupted run goes on (``--resume``) to the weights the uninterrupted run trains, to the bit.

What a generation changes, and what the file therefore holds (:class:`ESState`): θ, Adam's two
moment vectors, the random generator's state (the next generation's noise and batch draws), the
best holdout generation so far (its θ, score and number) and the holdout history; besides them
the run's config, seed and code (:func:`lrgym.baselines.train_controller.references_version`),
which a resume must match (:func:`resume_problem`): another config, seed or code trains other
weights from the same generation on, so the checkpoint would not be that run going on. The one
exception is the run's length, ``generations``, which changes nothing a generation does.

Written after every generation over the previous one (:func:`~lrgym.baselines.outputs.replace_file`:
a run stopped while writing leaves the previous checkpoint whole); the run that completes keeps
it, marked ``finished`` once its weights are written, and a resume with more ``generations`` than
its run had extends the run (:data:`EXTENDABLE`). The file is an ``.npz`` (no pickle): the
arrays, and a JSON header first in the archive whose opening is :data:`MARK` (what :func:`~lrgym.baselines.outputs.companion_problem` recognises as a
file the trainer wrote). Its members are stored, not compressed (``np.savez``), so none is larger
than the file: :func:`read_checkpoint` refuses one that would inflate past it, or an array whose
header claims more bytes than its member holds, before reading anything (NumPy allocates what
the header says first: a damaged or forged file was a bare ``MemoryError``).
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lrgym.baselines.outputs import json_copy, replace_file

__all__ = ["ARRAYS", "EXTENDABLE", "MARK", "ESState", "read_checkpoint", "resume_problem", "write_checkpoint"]

FORMAT = "lrgym train_controller checkpoint 1"
#: the bytes every checkpoint holds at its start (its header's first key, uncompressed)
MARK = b'{"format": "lrgym train_controller checkpoint'
#: the state's vectors, stored as arrays (the rest is the JSON header)
ARRAYS = ("theta", "adam_m", "adam_v", "best_theta")


@dataclass
class ESState:
    """The training state after ``generation`` (0: the start, before the first update)."""

    generation: int
    theta: np.ndarray
    adam_m: np.ndarray
    adam_v: np.ndarray
    #: ``np.random.Generator.bit_generator.state`` (plain ints: JSON keeps them exactly)
    rng: dict
    best_theta: np.ndarray
    best_score: float
    best_generation: int
    history: list
    #: wall-clock seconds of training so far (the history's clock goes on from it)
    seconds: float
    #: the run wrote its weights from this state (the checkpoint of a finished run, which a new run
    #: may replace as it replaces the weights); False while it trains, and when it was stopped
    #: between its last generation and its weights
    finished: bool = False


def write_checkpoint(path: str | Path, state: ESState, run: dict) -> Path:
    """Replace ``path`` with ``state`` and ``run`` (the config, seed and code: what a resume must match)."""
    header = {"format": FORMAT, "run": json_copy(run), "generation": state.generation, "rng": state.rng,
              "best_score": state.best_score, "best_generation": state.best_generation,
              "history": json_copy(state.history), "seconds": state.seconds, "finished": bool(state.finished)}
    buf = io.BytesIO()
    # the header first, as bytes (a str array would be UTF-32, without MARK's bytes)
    np.savez(buf, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
             **{k: np.asarray(getattr(state, k), dtype=np.float64) for k in ARRAYS})
    return replace_file(path, buf.getvalue())


def read_checkpoint(path: str | Path) -> tuple[ESState, dict]:
    """The state and the run record (config, seed, code) of a checkpoint; ``ValueError`` naming the
    file if it is no checkpoint of this format or is damaged."""
    try:
        _check_zip(path)  # before np.load, which reads a bare .npy as its header says
        with np.load(path, allow_pickle=False) as data:
            _check_sizes(path, data.zip)
            header = json.loads(bytes(data["header"]).decode())
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise ValueError(f"its format is {header.get('format') if isinstance(header, dict) else None!r}, "
                                 f"not {FORMAT!r}")
            arrays = {k: np.array(data[k], dtype=np.float64) for k in ARRAYS}
        state = ESState(generation=int(header["generation"]), rng=header["rng"], best_score=float(header["best_score"]),
                        best_generation=int(header["best_generation"]), history=list(header["history"]),
                        seconds=float(header["seconds"]), finished=header.get("finished") is True, **arrays)
        run = dict(header["run"])
        np.random.PCG64().state = state.rng  # the generator's state is one (a damaged one fails here, not hours on)
        if state.generation < 0 or not 0 <= state.best_generation <= state.generation:
            raise ValueError(f"generation {state.generation}, best generation {state.best_generation}")
    except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is no readable train_controller checkpoint ({type(exc).__name__}: {exc})") from None
    if len({a.shape for a in arrays.values()}) != 1:
        raise ValueError(f"{path} is no readable train_controller checkpoint (its vectors differ in length)")
    return state, run


#: how every zip archive, so every checkpoint (``np.savez``), begins: a local file header
_ZIP_MAGIC = b"PK\x03\x04"


def _check_zip(path: str | Path) -> None:
    """``ValueError`` unless the file at ``path`` begins as a zip archive (:data:`_ZIP_MAGIC`), the
    one form :func:`write_checkpoint` writes. ``np.load`` decides by those first bytes: a bare
    ``.npy`` file (``\\x93NUMPY``) it reads as one array, allocating the shape its header claims
    before reading anything, so a damaged or forged one there (its data may hold :data:`MARK`, which
    is all ``train_controller``'s check of the file beside its output asks) was a bare
    ``MemoryError`` that :func:`_check_sizes`, which judges a zip's members, never saw."""
    with open(path, "rb") as f:
        head = f.read(len(_ZIP_MAGIC))
    if head != _ZIP_MAGIC:
        raise ValueError(f"it begins with {head!r}, not a zip archive's {_ZIP_MAGIC!r} (np.savez's .npz)")


def _check_sizes(path: str | Path, archive: zipfile.ZipFile) -> None:
    """``ValueError`` naming the member unless every member of the checkpoint's zip ``archive``
    inflates to no more than the whole file's size (:func:`write_checkpoint`'s members are stored
    uncompressed: one larger than the file is compressed, a zip bomb or no file of the trainer), and
    every array read holds, by its ``.npy`` header, no more bytes than its member: both judged from
    the zip's directory and the headers, before any array is allocated or read."""
    size = os.path.getsize(path)
    for info in archive.infolist():
        if info.file_size > size:
            raise ValueError(f"its member {info.filename} inflates to {info.file_size} bytes, more than the whole "
                             f"file's {size} (a checkpoint's members are stored uncompressed)")
    for name in ("header", *ARRAYS):
        info = archive.getinfo(name + ".npy")  # (KeyError: said as a missing member)
        with archive.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"its member {info.filename} is .npy format version {version}; valid: 1.0, 2.0")
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(f)
        claimed = math.prod(shape) * dtype.itemsize
        if claimed > info.file_size:
            raise ValueError(f"its member {info.filename} claims an array of shape {shape} ({claimed} bytes) in "
                             f"{info.file_size} bytes")


#: the config field a resume may change: the run's length (``--generations M --resume`` extends a
#: run, a completed one too; nothing of a generation depends on it:
#: :func:`lrgym.baselines.train_controller.train`)
EXTENDABLE = "generations"


def resume_problem(saved: dict, run: dict, generation: int) -> str | None:
    """What differs between a checkpoint's run record ``saved`` and this run's ``run`` (``config``
    field by field, then ``seed``, then ``code``), said with both values; None if nothing does.
    ``generations`` may differ (:data:`EXTENDABLE`), but not end before the checkpoint's
    ``generation``: the θ of earlier generations are not kept."""
    saved, run = json_copy(saved), json_copy(run)
    old_cfg, new_cfg = saved.get("config") or {}, run.get("config") or {}
    for key in [*new_cfg, *(k for k in old_cfg if k not in new_cfg)]:
        if key == EXTENDABLE and key in new_cfg:
            if new_cfg[key] < generation:
                return (f"the config's {key} is {new_cfg[key]!r}, fewer than the {generation} the checkpoint has "
                        f"trained (the run had {old_cfg.get(key)!r}; a resume goes on from its last generation, "
                        "the earlier ones' parameters are not kept)")
        elif old_cfg.get(key) != new_cfg.get(key):
            return f"the config's {key} is {new_cfg.get(key)!r}, the checkpoint's run had {old_cfg.get(key)!r}"
    if saved.get("seed") != run.get("seed"):
        return f"--seed is {run.get('seed')!r}, the checkpoint's run had {saved.get('seed')!r}"
    if saved.get("code") != run.get("code"):
        return (f"lrgym's code is {run.get('code')!r}, the checkpoint's run had {saved.get('code')!r} (other code "
                "trains other bits)")
    return None
