"""The optional extras' one refusal: what to install when an extra's library is missing.

``import lrgym`` needs only the core (numpy, numba, gymnasium, scipy, threadpoolctl,
scikit-learn); Stable-Baselines3, PyTorch, Ray, ... are extras, imported where they are used.
When such an import fails because the library itself is missing, :func:`import_extra` raises an
``ImportError`` that names the extra to install (and, for the ones that bring torch, the CPU
build to install first: an unpinned torch resolves to a multi-GB CUDA build); any other import
error (a broken install of the library) is raised as it is.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["TORCH_FIRST", "import_extra"]

#: what to run before an extra that brings torch (pyproject's comment on the ``rl`` extra)
TORCH_FIRST = "pip install torch==2.13.0 (the CPU build) first, then "


def import_extra(module: str, extra: str, needed_by: str, torch_first: bool = False) -> ModuleType:
    """``importlib.import_module(module)``; if ``module``'s top-level package is not installed, an
    ``ImportError`` saying that ``needed_by`` needs it and how to install ``lrgym[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.partition(".")[0]
        if exc.name is None or exc.name.partition(".")[0] != top:
            raise  # the library is there but something it imports is not: its own error says what
        install = (TORCH_FIRST if torch_first else "") + f'pip install "lrgym[{extra}]"'
        raise ImportError(f"{needed_by} needs {top}, from the optional extra {extra!r}: {install}",
                          name=exc.name) from exc
