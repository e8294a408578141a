"""One list of the "one thread" environment variables (``lrgym.tasks.blas.SINGLE_THREAD_ENV``),
used by every place that starts a process to run environments in parallel; and the BLAS pinning
of the kernels warns instead of silently doing nothing when threadpoolctl cannot drive BLAS."""

from __future__ import annotations

import os
import re
import sys
import warnings
from pathlib import Path

import pytest

from lrgym.tasks import blas
from lrgym.tasks.blas import SINGLE_THREAD_ENV

ROOT = Path(__file__).resolve().parents[2]
VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def test_the_constant_names_the_blas_and_openmp_libraries_and_is_read_only():
    assert dict(SINGLE_THREAD_ENV) == dict.fromkeys(VARS, "1")
    with pytest.raises(TypeError):
        SINGLE_THREAD_ENV["X"] = "1"  # type: ignore[index]


def test_the_tuning_pool_sets_every_variable(monkeypatch):
    from lrgym.baselines.parallel import single_threaded_blas

    for var in VARS:
        monkeypatch.delenv(var, raising=False)
    single_threaded_blas()
    assert {var: os.environ.get(var) for var in VARS} == dict(SINGLE_THREAD_ENV)  # MKL was missing


def test_ray_workers_get_the_constant():
    from lrgym.baselines.backend import RAY_WORKER_ENV

    assert RAY_WORKER_ENV == dict(SINGLE_THREAD_ENV) and type(RAY_WORKER_ENV) is dict


def test_grader_workers_default_to_one_thread_and_keep_the_graders_choice(monkeypatch):
    from lrgym.leaderboard.pool import _child_env

    for var in VARS:
        monkeypatch.delenv(var, raising=False)
    assert {var: _child_env()[var] for var in VARS} == dict(SINGLE_THREAD_ENV)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")  # setdefault: the grader's own setting wins
    assert _child_env()["OPENBLAS_NUM_THREADS"] == "2"
    # Numba's pool is left alone: a worker's vector env may use prange threads (opt-in, documented)
    assert _child_env().get("NUMBA_NUM_THREADS") == os.environ.get("NUMBA_NUM_THREADS")


def test_the_sandboxed_policy_process_also_gets_one_numba_thread(monkeypatch):
    from lrgym.leaderboard.host_start import sandbox_env

    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")  # not inherited: the sandbox's env is built from scratch
    env = sandbox_env("/work", "/work/.numba")
    assert {var: env[var] for var in VARS} == dict(SINGLE_THREAD_ENV)
    assert env["NUMBA_NUM_THREADS"] == "1"


def test_no_other_source_file_spells_the_variables_out():
    """The list lives in lrgym/tasks/blas.py only (it had drifted across five copies)."""
    literal = re.compile(r"""["'](OMP|OPENBLAS|MKL)_NUM_THREADS["']""")
    found = []
    for folder in ("lrgym", "baselines", "leaderboard"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "lrgym" / "tasks" / "blas.py":
                continue
            for i, line in enumerate(path.read_text().splitlines(), 1):
                if literal.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not found, "use lrgym.tasks.blas.SINGLE_THREAD_ENV:\n" + "\n".join(found)


@pytest.fixture
def fresh_controllers(monkeypatch):
    """blas._blas_controllers looks the libraries up again (the module's cache restored after)."""
    assert blas._inside == 0
    monkeypatch.setattr(blas, "_controllers", None)


def test_a_library_threadpoolctl_cannot_drive_is_reported_not_swallowed(fresh_controllers, monkeypatch):
    import threadpoolctl

    class Broken:
        def __init__(self):
            raise OSError("cannot read the BLAS library's symbols")

    monkeypatch.setattr(threadpoolctl, "ThreadpoolController", Broken)
    with pytest.warns(RuntimeWarning, match="cannot limit BLAS to one thread.*OPENBLAS_NUM_THREADS=1"):
        assert blas._blas_controllers() == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert blas._blas_controllers() == []  # warned once: the answer is kept
        with blas.blas_single_thread():  # and the context still works (does nothing)
            pass


def test_a_missing_threadpoolctl_does_nothing_quietly(fresh_controllers, monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import raises ImportError
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert blas._blas_controllers() == []
