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

The fingerprint covers lrgym's own modules wherever they lie: an installed lrgym also holds
:data:`OTHER_PACKAGES` (``lrgym.baselines`` and ``lrgym.leaderboard``: ``pyproject.toml``'s
``package-dir`` puts them inside it; in a checkout they are folders beside it). They define no
kernel, so they are left out of the fingerprint and their files are not served by the locators
(a kernel there would keep Numba's own per-file stamp, as in a checkout): a checkout and an
install of the same sources stamp alike, and an install can load the kernels a checkout
compiled (the core-install test copies them: ``tests/test_core_install.py``).

The fingerprint is taken once per process, when its kernels are decorated (at ``import lrgym``),
and stamps everything that process compiles. A process that was running while a file changed
(even a comment) has filled the cache under the old fingerprint, so the next process recompiles
every kernel, and only the one after it loads them: seen in a benchmark on 2026-12-06
(``benchmarks/vector_warm_up.py`` now refuses such a run). On an unchanging installation the
first process fills the cache and the next ones load everything.

It must run before the first ``@numba.njit(cache=True, nogil=True)`` of the package is decorated (the
locator is chosen at decoration time). ``import lrgym`` does not import Numba (a process that only
hosts a policy or reads a store never compiles anything: the sandboxed policy host of the grader
saves ≈ 0.7 s of CPU per start), so ``lrgym/__init__.py`` calls :func:`install_with_numba`
first: it installs the locators at once if Numba is loaded, else right after Numba's own import
finishes, whoever imports it. A kernel module imports ``numba`` before it decorates anything, so
no kernel of the package can be decorated before the locators are in place. It relies on
Numba's cache-locator classes (``numba.core.caching``, stable since Numba 0.4x); if they are
missing it does nothing and Numba's default applies.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from lrgym.after_import import call_after_import

PACKAGE_DIR = Path(__file__).resolve().parent
#: the packages an install puts inside lrgym's folder and a checkout beside it (no kernels):
#: neither fingerprinted nor served (module docstring)
OTHER_PACKAGES = ("baselines", "leaderboard")


def _own(relative: Path) -> bool:
    """Whether a path relative to the package root is lrgym's own (not in :data:`OTHER_PACKAGES`)."""
    return not (len(relative.parts) > 1 and relative.parts[0] in OTHER_PACKAGES)


@functools.lru_cache(maxsize=None)
def package_fingerprint(root: str | Path = PACKAGE_DIR) -> bytes:
    """SHA-256 over the relative path and content of every ``.py`` file below ``root``, but those
    in :data:`OTHER_PACKAGES` (the same in a checkout and an install of the same sources)."""
    root = Path(root)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*.py") if _own(p.relative_to(root))):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.digest()


def _inside(py_file: str, root: Path) -> bool:
    """Whether ``py_file`` is one of lrgym's own modules below ``root`` (fingerprinted)."""
    try:
        relative = Path(py_file).resolve().relative_to(root)
    except (ValueError, OSError):
        return False
    return _own(relative)


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


def install_with_numba(root: Path = PACKAGE_DIR) -> None:
    """:func:`install` now if Numba is imported, else as soon as its import finishes (idempotent),
    without importing Numba here (:func:`lrgym.after_import.call_after_import`)."""
    call_after_import("numba", lambda numba: install(root), key=("lrgym.kernel_cache", str(root)))
