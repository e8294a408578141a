"""``benchmarks/vector_warm_up.py`` refuses a run in which lrgym's source changed between its
processes.

Every kernel's cache entry carries a hash of the whole package's source
(:mod:`lrgym.kernel_cache`), so after any edit of a ``.py`` file of lrgym the next process
recompiles everything. On 2026-12-06 a comment edited in ``lrgym/settings.py`` while the
benchmark's cold process ran made its first "warm" process compile every kernel again (60 CPU-s
recorded as a warm row). Here real processes of the benchmark (its ``_run``) on a copy of the
package and an empty Numba cache: the process after an edit compiles (Numba's own counts, the
reference) and the script's check refuses the pair; the process after it, with no edit, loads
every item operation and the check lets the pair pass.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import lrgym
from benchmarks import vector_warm_up

ENV_ID = "LRControl-Quadratic-v1"  # the cheapest family to compile (≈ 10 CPU-s from an empty cache)


def test_a_source_change_between_processes_is_refused(tmp_path, monkeypatch):
    pkg = tmp_path / "lrgym"
    shutil.copytree(Path(lrgym.__file__).parent, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(tmp_path)  # the child (python -c) imports lrgym from its working folder: the copy
    cache = tmp_path / "numba"

    first = vector_warm_up._run(ENV_ID, cache)
    settings_py = pkg / "settings.py"
    settings_py.write_text(settings_py.read_text() + "\n# a comment, as the edit of 2026-12-06\n")
    edited = vector_warm_up._run(ENV_ID, cache)
    again = vector_warm_up._run(ENV_ID, cache)

    assert first["compiled"] > 0 and first["loaded"] == 0  # an empty cache
    assert edited["compiled"] == first["compiled"] and edited["loaded"] == 0  # the edit: everything again
    assert again["compiled"] == 0 and again["loaded"] == first["compiled"]  # no edit: everything loaded
    with pytest.raises(SystemExit, match=r"source changed during the run .*process 2 of 2"):
        vector_warm_up.check_one_source([first, edited])
    vector_warm_up.check_one_source([edited, again])  # the same source: no error
