"""The on-disk kernel cache is invalidated by a change in any module, not only the defining one."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import lrgym
from lrgym import kernel_cache, rng

# a kernel in another module of the package (written into the copy: lrgym/tasks/probe_kernel.py)
# compiles SplitMix64's constants from lrgym/rng.py into itself: the case where Numba's per-file
# check alone would load stale machine code.
PROBE_KERNEL = textwrap.dedent(
    """
    import numba

    from lrgym.rng import draw_indices


    @numba.njit(cache=True)
    def draw(state, n, out):
        draw_indices(state, n, out)
    """
)
PROBE = textwrap.dedent(
    """
    import json, numpy as np
    import lrgym
    from lrgym.tasks.probe_kernel import draw
    state, out = np.zeros(1, dtype=np.uint64), np.zeros(6, dtype=np.int64)
    draw(state, 1000, out)
    loaded = bool(draw.stats.cache_hits)
    print(json.dumps({"out": out.tolist(), "file": lrgym.__file__, "cache_hit": loaded}))
    """
)


def _copy_package(dst: Path, probe: bool = False) -> Path:
    shutil.copytree(Path(lrgym.__file__).parent, dst / "lrgym", ignore=shutil.ignore_patterns("__pycache__"))
    if probe:
        (dst / "lrgym" / "tasks" / "probe_kernel.py").write_text(PROBE_KERNEL)
    return dst / "lrgym"


def _probe(pythonpath: Path, numba_cache: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(pythonpath)
    if numba_cache is not None:
        env["NUMBA_CACHE_DIR"] = str(numba_cache)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=pythonpath, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_fingerprint_covers_every_module_and_only_python_files(tmp_path):
    pkg = _copy_package(tmp_path)
    before = kernel_cache.package_fingerprint(pkg)
    assert before == kernel_cache.package_fingerprint(Path(lrgym.__file__).parent)
    (pkg / "tasks" / "notes.txt").write_text("not source")
    assert kernel_cache.package_fingerprint.__wrapped__(pkg) == before
    rng_py = pkg / "rng.py"
    rng_py.write_text(rng_py.read_text() + "\n# an edit\n")
    assert kernel_cache.package_fingerprint.__wrapped__(pkg) != before


def test_an_install_layout_has_the_checkouts_fingerprint(tmp_path):
    """``pip install .`` puts lrgym.baselines and lrgym.leaderboard inside lrgym's folder (a
    checkout has them beside it): left out, so an install of the same sources takes the kernels
    a checkout compiled; lrgym's own modules still count, and the locators serve no file of theirs."""
    pkg = _copy_package(tmp_path)
    for name in kernel_cache.OTHER_PACKAGES:
        shutil.copytree(Path(lrgym.__file__).parent.parent / name, pkg / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    assert kernel_cache.package_fingerprint.__wrapped__(pkg) == kernel_cache.package_fingerprint()
    (pkg / "leaderboard" / "policy_host.py").write_text("# an edit outside lrgym's own modules\n")
    assert kernel_cache.package_fingerprint.__wrapped__(pkg) == kernel_cache.package_fingerprint()
    (pkg / "rng.py").write_text((pkg / "rng.py").read_text() + "\n# an edit\n")
    assert kernel_cache.package_fingerprint.__wrapped__(pkg) != kernel_cache.package_fingerprint()
    assert kernel_cache._inside(str(pkg / "rng.py"), pkg)
    assert not kernel_cache._inside(str(pkg / "leaderboard" / "policy_host.py"), pkg)


def test_package_kernels_use_the_package_stamp():
    state, out = np.zeros(1, dtype=np.uint64), np.zeros(3, dtype=np.int64)
    rng.fill_randint(state, 10, out)
    locator = rng.fill_randint._cache._impl.locator
    assert type(locator).__name__.startswith("PackageStamped")
    assert locator.get_source_stamp() == kernel_cache.package_fingerprint()


def test_editing_a_dependency_recompiles_the_kernels_that_use_it(tmp_path):
    pkg = _copy_package(tmp_path, probe=True)
    first = _probe(tmp_path)
    assert Path(first["file"]).parent == pkg and not first["cache_hit"]
    again = _probe(tmp_path)
    assert again == {**first, "cache_hit": True}  # served from the cache

    # change a SplitMix64 constant in rng.py; tasks/probe_kernel.py, which defines the kernel, is untouched
    rng_py = pkg / "rng.py"
    text = rng_py.read_text()
    assert "_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)" in text
    rng_py.write_text(text.replace("_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)", "_MIX_1 = np.uint64(0xBF58476D1CE4E5B7)"))
    edited = _probe(tmp_path)
    fresh = _probe(tmp_path, numba_cache=tmp_path / "fresh-cache")  # compiled from scratch
    assert not edited["cache_hit"]
    assert edited["out"] == fresh["out"] != first["out"]


#: run in a fresh interpreter: what ``import lrgym`` and a policy's process import, then a kernel
LIGHT_IMPORT = textwrap.dedent("""
    import sys
    import lrgym, lrgym.policy, lrgym.actions, lrgym.baselines.policy, lrgym.leaderboard.policy_host
    light = sorted(m for m in ("numba", "lrgym.env") if m in sys.modules)
    from lrgym import kernel_cache, rng
    locator = rng.fill_randint._cache._impl.locator
    print(light, type(locator).__name__, locator.get_source_stamp() == kernel_cache.package_fingerprint())
""")


def test_import_lrgym_loads_no_numba_and_its_kernels_still_get_the_package_stamp():
    """``import lrgym`` and what a sandboxed policy host imports leave Numba and the env out (≈ 0.5 s
    of CPU less per policy process); the locators are installed when Numba's import finishes,
    before the first kernel is decorated (lrgym.kernel_cache.install_with_numba)."""
    out = subprocess.run([sys.executable, "-c", LIGHT_IMPORT], capture_output=True, text=True, timeout=120,
                         cwd=Path(lrgym.__file__).parents[1])
    assert out.returncode == 0, out.stderr
    light, locator, stamped = out.stdout.split(maxsplit=2)
    assert (light, stamped.strip()) == ("[]", "True")
    assert locator.startswith("PackageStamped")
