"""Which machine a result comes from: the node check of a Ray cluster.

A score depends on more than its job and seed: on lrgym's code and shipped files (and the code of
the task families registered from outside lrgym), on the versions
of the numerics packages, on the CPU instructions NumPy and Numba use, and on two settings an
interpreter reads at its start. :func:`node_fingerprint` reads all of them on one machine; the
driver of a Ray run compares every node's with its own (:func:`node_differences`, a
:class:`NodeMismatch` naming what differs) before any of that node's results counts, and
compares the CPU kinds of the nodes with each other (:class:`CPUKinds`), not with the driver's,
which runs no job. Used by the tuner's tasks (:func:`lrgym.baselines.backend.ray_imap`) and the
leaderboard's grader actors (:mod:`lrgym.leaderboard.ray_pool`).
"""

from __future__ import annotations

import os

__all__ = ["COMMON_KIND_ADVICE", "CPU_KEYS", "CPUKinds", "DRIVER_ONLY", "INTERPRETER_SETTINGS", "NodeMismatch", "code_hash",
           "family_code", "node_differences", "node_fingerprint", "shipped_files_hash"]

#: environment variables an interpreter reads once, at its start, that change results: NumPy picks
#: its SIMD kernels at import (``NPY_DISABLE_CPU_FEATURES``), OpenBLAS its kernels when it loads
#: (``OPENBLAS_CORETYPE``: the MLP family's and linreg's matrix products), Python its string-hash
#: seed, hence set iteration orders (``PYTHONHASHSEED``). The driver's values reach every Ray
#: worker lrgym starts from its first instruction (``runtime_env`` env_vars,
#: :func:`lrgym.baselines.backend.worker_env`); setting them later, inside the worker, would change
#: nothing in it
INTERPRETER_SETTINGS = ("NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE", "PYTHONHASHSEED")


class NodeMismatch(RuntimeError):
    """A node of the cluster differs from the driver in what results depend on (:func:`node_fingerprint`)."""


#: lrgym modules no node runs (paths inside their package, glob patterns): the driver's CLI,
#: runner, scoring, store and reports, and the offline training scripts (whose products, the
#: weights, are hashed as data). :func:`node_fingerprint` leaves them out, so editing a report
#: while a run goes on does not stop it. tests/baselines/test_node_fingerprint.py checks that a
#: grader worker's jobs and the tuner's tasks import none of them
DRIVER_ONLY = {
    "lrgym.leaderboard": ("ablation_table.py", "bench.py", "cli*.py", "entry.py", "export.py", "limits.py",
                          "private.py", "provenance.py", "ranking.py", "report*.py", "runner*.py", "scoring.py",
                          "selection.py", "store*.py", "trained_apart.py", "val_table.py", "transfer/*.py"),
    "lrgym.baselines": ("controller_ablation.py", "rllib_export.py", "rllib_logdir.py", "train_*.py"),
}


def _package_dir(name: str):
    """Where package ``name`` lives, without importing it (floor 2 reads floor 3's files only)."""
    import importlib.util
    from pathlib import Path

    return Path(importlib.util.find_spec(name).submodule_search_locations[0])


def code_hash(roots: dict | None = None) -> str:
    """SHA-256 (16 hex digits) over the path and content of every ``.py`` file of lrgym,
    lrgym.baselines and lrgym.leaderboard that a node may run (all but :data:`DRIVER_ONLY`);
    read at each call (≈ 10 ms), never cached, so an edit since the driver started is seen.
    ``roots``: package name → folder (default: where each is installed)."""
    import hashlib

    digest = hashlib.sha256()
    for package in ("lrgym", "lrgym.baselines", "lrgym.leaderboard"):
        root = roots[package] if roots else _package_dir(package)
        skip = DRIVER_ONLY.get(package, ())
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root)
            if package == "lrgym" and rel.parts[0] in ("baselines", "leaderboard"):
                continue  # an installed layout nests them: hashed as their own packages
            if any(rel.match(pattern) and len(rel.parts) == len(pattern.split("/")) for pattern in skip):
                continue
            digest.update(f"{package}/{rel.as_posix()}".encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def shipped_files_hash(baselines_dir) -> str:
    """A hash of the files the baselines are made from besides code: the tuned values and
    settings (``*.json``) and the trained weights (``weights/``), which training and tuning with
    ``--ship`` rewrite in place; a node with other ones ranks other baselines under the same names."""
    import hashlib
    from pathlib import Path

    baselines_dir = Path(baselines_dir)
    digest = hashlib.sha256()
    for path in sorted([*baselines_dir.glob("*.json"), *(baselines_dir / "weights").glob("*")]):
        if path.is_file():
            digest.update(path.relative_to(baselines_dir).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _module_code_hash(module: str) -> str:
    """A hash (16 hex digits) of the code of ``module``'s top-level package (every ``.py`` file
    below it: a family's module imports its package's helpers) or of its file, found on this
    interpreter's ``sys.path`` without importing it; ``"not importable (...)"`` where it is
    not found, so a node that lacks a family's module differs from the driver, saying so."""
    import hashlib
    import importlib.util
    from pathlib import Path

    top = module.split(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError) as exc:
        spec, why = None, f"{type(exc).__name__}: {exc}"
    else:
        why = f"no module named {top!r} on sys.path"
    if spec is None:
        return f"not importable ({why})"
    if spec.submodule_search_locations:
        files = [(Path(loc), f) for loc in spec.submodule_search_locations for f in sorted(Path(loc).rglob("*.py"))]
    elif spec.origin and Path(spec.origin).is_file():
        files = [(Path(spec.origin).parent, Path(spec.origin))]
    else:  # a built-in or frozen module: its code is the interpreter's (the Python version is compared)
        return f"{spec.origin or 'built-in'}"
    digest = hashlib.sha256()
    for root, path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def family_code() -> str | None:
    """The code of every task family registered from outside lrgym (:func:`lrgym.tasks.register_family`,
    on a node through ``$LRGYM_FAMILIES``), which :func:`code_hash` does not cover: one
    ``"name=module:Class hash"`` item per family (:func:`_module_code_hash`; a family inside
    lrgym is covered by :func:`code_hash`), or None when there is none. A node whose copy of a
    family's module differs runs other episodes under the same seeds, and one without it fails
    every job of that family."""
    from lrgym.tasks import BUILT_IN, FAMILIES

    items = []
    for name in sorted(FAMILIES):
        if name in BUILT_IN:
            continue
        target = FAMILIES[name].target
        module = target.partition(":")[0]
        code = "in lrgym" if module.split(".")[0] == "lrgym" else _module_code_hash(module)
        items.append(f"{name}={target} {code}")
    return ", ".join(items) or None


def _numpy_simd() -> str:
    """The CPU features NumPy's kernels run with here: its build's baseline and the dispatch
    targets this CPU has and ``NPY_DISABLE_CPU_FEATURES`` left on (what ``numpy.show_runtime()``
    lists as found). Two machines with the same set run the same NumPy kernels."""
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # pragma: no cover - NumPy 1.x
        from numpy.core import _multiarray_umath as umath
    features = umath.__cpu_features__
    return " ".join([*umath.__cpu_baseline__, *(f for f in umath.__cpu_dispatch__ if features.get(f))])


def _numba_cpu() -> str:
    """The CPU Numba compiles lrgym's kernels for (``NUMBA_CPU_NAME``, else this machine's, as
    LLVM names it): another one may get other instructions (vector widths, FMA) and other bits."""
    import numba

    name = numba.config.CPU_NAME
    if not name:
        import llvmlite.binding

        name = llvmlite.binding.get_host_cpu_name()
    features = numba.config.CPU_FEATURES
    return f"{name} ({features})" if features else name


def _blas_core() -> str:
    """The kernels of the BLAS libraries NumPy and Numba's ``np.dot`` call here, as threadpoolctl
    reports them (OpenBLAS's core type: ``openblas SkylakeX`` on an AVX-512 Intel CPU, ``openblas
    Haswell`` on an AVX2 one, or what ``OPENBLAS_CORETYPE`` chose): another core type computes
    the same products with other roundings, so instances and MLP steps differ in the last bits."""
    try:
        import numpy  # noqa: F401  (loads NumPy's BLAS)
        import scipy.linalg.cython_blas  # noqa: F401  (the BLAS numba's np.dot calls)
        from threadpoolctl import threadpool_info

        kinds = {f"{lib.get('internal_api')} {lib.get('architecture') or '?'}"
                 for lib in threadpool_info() if lib.get("user_api") == "blas"}
    except Exception as exc:  # a library threadpoolctl cannot inspect (lrgym.tasks.blas runs on then too):
        return f"unknown ({type(exc).__name__})"  # a kind of its own, which CPUKinds warns about
    return ", ".join(sorted(kinds)) or "none found"


def node_fingerprint() -> dict:
    """What this machine's results depend on besides the job, read now:

    * versions: Python (major.minor, as Ray itself requires), lrgym, and NumPy, Numba, SciPy,
      gymnasium, torch, stable-baselines3 (None where not installed: the SB3 submissions and
      baselines act through torch);
    * ``code``: lrgym's code a node runs (:func:`code_hash`), ``baseline files``: the shipped
      weights and tuned values (:func:`shipped_files_hash`), ``family code``: the code of the
      families registered from outside lrgym (:func:`family_code`);
    * ``numpy simd``: the CPU features NumPy's kernels use here (:func:`_numpy_simd`),
      ``numba cpu``: the CPU Numba compiles for (:func:`_numba_cpu`), ``blas core``: the kernels
      OpenBLAS picked (:func:`_blas_core`);
    * the :data:`INTERPRETER_SETTINGS` this process was started with (None where unset).

    The driver compares every node's software with its own (:func:`node_differences`): a node
    that differs would give other scores under the same seeds, averaged silently into an entry.
    The CPU kind (:data:`CPU_KEYS`) is compared between the nodes only (:class:`CPUKinds`): the
    driver's own need not be theirs (a laptop driving a cloud cluster)."""
    import platform
    from importlib import metadata

    import lrgym

    out = {"python": ".".join(platform.python_version_tuple()[:2]), "lrgym": lrgym.__version__}
    for pkg in ("numpy", "numba", "scipy", "gymnasium", "torch", "stable_baselines3"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    out["code"] = code_hash()
    out["baseline files"] = shipped_files_hash(_package_dir("lrgym.baselines"))
    out["family code"] = family_code()
    out["numpy simd"] = _numpy_simd()
    out["numba cpu"] = _numba_cpu()
    out["blas core"] = _blas_core()
    for name in INTERPRETER_SETTINGS:
        out[name] = os.environ.get(name) or None
    return out


#: the fingerprint's entries that name the CPU kind: NumPy's dispatched features, Numba's target
#: CPU and OpenBLAS's core type. Two kinds give results equal up to rounding, not to the bit, so
#: they are compared between the nodes that run jobs (:class:`CPUKinds`: a warning), not with the
#: driver, which runs none
CPU_KEYS = ("numpy simd", "numba cpu", "blas core")

#: what makes the CPU kinds of all nodes one (said by :class:`CPUKinds`' warning and the README)
COMMON_KIND_ADVICE = ("set NPY_DISABLE_CPU_FEATURES and OPENBLAS_CORETYPE on the driver (they reach every worker: "
                      "e.g. \"X86_V3 X86_V4 AVX512_ICL AVX512_SPR\" and Haswell on x86-64) and NUMBA_CPU_NAME on "
                      "every node (e.g. haswell) to a common level")


def node_differences(mine: dict, theirs: dict, where: str) -> str | None:
    """None if node ``where``'s fingerprint ``theirs`` equals the driver's ``mine`` in everything
    but the CPU kind (:data:`CPU_KEYS`), else the :class:`NodeMismatch` message naming the node,
    each value that differs (theirs and ours) and what to do."""
    differ = {k: (v, theirs.get(k)) for k, v in mine.items() if k not in CPU_KEYS and theirs.get(k) != v}
    if not differ:
        return None
    families = ("; and the same modules of the families of your own, importable on every node (installed, or their "
                "folder on the PYTHONPATH each node's `ray start` had)" if "family code" in differ else "")
    return (f"the Ray node {where} differs from the driver in what results depend on: "
            + ", ".join(f"{k} {t} there, {m} here" for k, (m, t) in differ.items())
            + f"; install the same Python environment and lrgym (the same code) on every node{families}")



class CPUKinds:
    """The CPU kinds (:data:`CPU_KEYS`) of the nodes that ran a run's jobs. The first node's
    kind is the run's; a node of another kind makes :meth:`see` warn once (``RuntimeWarning``,
    naming both nodes and what differs): its results equal the others' up to rounding, not to
    the bit, so the run is not reproducible to the bit (the same job may land on either kind).
    :data:`COMMON_KIND_ADVICE` makes the kinds one."""

    def __init__(self):
        self.first: tuple[dict, str] | None = None  # (kind, node) of the first node seen
        self.warned = False

    def see(self, fingerprint: dict, where: str) -> None:
        kind = {k: fingerprint.get(k) for k in CPU_KEYS}
        if self.first is None:
            self.first = (kind, where)
            return
        first, first_where = self.first
        if kind != first and not self.warned:
            import warnings

            self.warned = True
            differ = ", ".join(f"{k} {kind[k]} on {where}, {first[k]} on {first_where}"
                               for k in CPU_KEYS if kind[k] != first[k])
            warnings.warn(f"the Ray cluster mixes CPU kinds ({differ}): results are equal up to rounding "
                          f"across them, not to the bit; {COMMON_KIND_ADVICE} for results identical to the bit",
                          RuntimeWarning, stacklevel=3)
