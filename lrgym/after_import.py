"""Run a function right after a module's first import, whoever imports it, without importing it.

``lrgym`` stamps Numba's kernel cache (:mod:`lrgym.kernel_cache`) but does not import Numba at
``import lrgym``; the test suite points Ray's results folder elsewhere before Ray reads it. Both
need "as soon as module X has been executed, call f(X)". :func:`call_after_import` puts an
:class:`AfterImport` finder in front of ``sys.meta_path``: it answers for that one module only,
lets the other finders find it, runs the module as their loader would, leaves ``sys.meta_path``
and then calls the function. Every other module passes by untouched.
"""

from __future__ import annotations

import importlib.abc
import sys
from typing import Callable, Hashable

__all__ = ["AfterImport", "call_after_import"]


class AfterImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Runs ``then(module)`` right after module ``name`` is executed at its first import.
    ``key`` names the hook, so that the same one is not put in twice."""

    def __init__(self, name: str, then: Callable, key: Hashable = None):
        self.name, self.then, self.key, self.loader = name, then, key, None

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        for finder in sys.meta_path:
            spec = None if finder is self else getattr(finder, "find_spec", lambda *a: None)(fullname, path, target)
            if spec is not None:
                self.loader, spec.loader = spec.loader, self
                return spec
        return None

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        try:
            self.loader.exec_module(module)
        finally:
            if self in sys.meta_path:
                sys.meta_path.remove(self)
        self.then(module)

    def __getattr__(self, name):  # the module's __loader__: get_source, get_filename, ... are the real loader's
        return getattr(self.loader, name)


def call_after_import(name: str, then: Callable, key: Hashable = None) -> None:
    """``then(module)`` now if module ``name`` is imported, else right after its first import
    finishes (once per ``key``: a hook with that key already waiting is not added again)."""
    if name in sys.modules:
        then(sys.modules[name])
    elif key is None or not any(isinstance(f, AfterImport) and f.key == key for f in sys.meta_path):
        sys.meta_path.insert(0, AfterImport(name, then, key))
