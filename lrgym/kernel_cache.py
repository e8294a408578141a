"""Numba's on-disk kernel cache, invalidated by a change anywhere in the package.

Every kernel is compiled with ``cache=True``: the first process compiles it (seconds for the
MLP) and later ones load the machine code (a fraction of a second). Numba decides whether a
cached kernel is still valid from the *one* source file that defines it. But a kernel inlines
and calls functions from other modules — the linear-regression kernel compiles
:func:`lrgym.rng.fill_standard_normal` into itself — so after an edit of ``rng.py`` (or an
upgrade that changes it) Numba would keep loading the stale machine code of every kernel that
uses it, and the environment would silently run the old dynamics.

:func:`install` puts a locator in front of Numba's own for the functions defined inside this
package: it keeps Numba's choice of cache directory (``NUMBA_CACHE_DIR`` if set, else the
``__pycache__`` next to the source, else the user-wide cache) but stamps each cache entry with
:func:`package_fingerprint`, a hash of every ``.py`` file of the package, instead of the
defining file alone. Any change to any module then recompiles every kernel once. Functions of
other libraries keep Numba's default behaviour.

The fingerprint is taken once per process, when its kernels are decorated (at ``import lrgym``),
and stamps everything that process compiles. A process that was running while a file changed
(even a comment) has filled the cache under the old fingerprint, so the next process recompiles
every kernel, and only the one after it loads them: seen in a benchmark on 2026-12-06
(``benchmarks/vector_warm_up.py`` now refuses such a run). On an unchanging installation the
first process fills the cache and the next ones load everything.

It must run before the first ``@numba.njit(cache=True, nogil=True)`` of the package is decorated (the
locator is chosen at decoration time), so ``lrgym/__init__.py`` calls it first. It relies on
Numba's cache-locator classes (``numba.core.caching``, stable since Numba 0.4x); if they are
missing it does nothing and Numba's default applies.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=None)
def package_fingerprint(root: str | Path = PACKAGE_DIR) -> bytes:
    """SHA-256 over the relative path and content of every ``.py`` file below ``root``."""
    root = Path(root)
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.digest()


def _inside(py_file: str, root: Path) -> bool:
    try:
        Path(py_file).resolve().relative_to(root)
    except (ValueError, OSError):
        return False
    return True


def _package_stamped(base: type, root: Path) -> type:
    """A subclass of Numba locator ``base`` that only serves files below ``root`` and stamps
    their cache entries with the package fingerprint."""

    class PackageStampedLocator(base):
        @classmethod
        def from_function(cls, py_func, py_file):
            if not _inside(py_file, root):
                return None
            return super().from_function(py_func, py_file)

        def get_source_stamp(self):
            return package_fingerprint(root)

    PackageStampedLocator.__name__ = PackageStampedLocator.__qualname__ = f"PackageStamped{base.__name__}"
    return PackageStampedLocator


def install(root: Path = PACKAGE_DIR) -> bool:
    """Register the package-stamped locators with Numba (idempotent). True if installed."""
    try:
        from numba.core import caching
    except ImportError:  # pragma: no cover - numba is a core dependency
        return False
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    bases = [
        getattr(caching, name, None)
        for name in ("UserProvidedCacheLocator", "_UserProvidedCacheLocator", "InTreeCacheLocator",
                     "_InTreeCacheLocator", "UserWideCacheLocator", "_UserWideCacheLocator")
    ]
    bases = list(dict.fromkeys(b for b in bases if isinstance(b, type)))  # aliases once
    if impl is None or not isinstance(getattr(impl, "_locator_classes", None), list) or not bases:
        return False
    if any(getattr(c, "_lrgym_root", None) == root for c in impl._locator_classes):
        return True
    ours = []
    for base in bases:
        locator = _package_stamped(base, root)
        locator._lrgym_root = root
        ours.append(locator)
    impl._locator_classes[:0] = ours
    return True
