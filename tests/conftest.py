"""Shared test fixtures."""

import os

# Keep BLAS single-threaded in tests so timings and numerics do not depend on the core count.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import sys

# Slow, obvious reference implementations (tests/references.py) importable from every test dir.
sys.path.insert(0, os.path.dirname(__file__))

# ---- parallel runs: `make test` runs pytest -n auto --maxprocesses 4 --dist loadfile
# --no-loadscope-reorder (pytest-xdist; PARALLEL in the Makefile) ----
# Each test module is one unit of work (its module fixtures are set up once, on one worker).
# Tests that look at other processes only count their own: by a token in the environment
# (lb_helpers.processes_with) or by descent from the test process (test_ray_cluster), and a
# sandboxed policy sees only its own PID namespace.

IN_XDIST_WORKER = "PYTEST_XDIST_WORKER" in os.environ

if IN_XDIST_WORKER:  # xdist gives its workers COLUMNS=80, which the CLI's consoles read when
    os.environ.pop("COLUMNS", None)  # imported: give them the environment of a one-process run
    os.environ.pop("LINES", None)

#: The slowest modules (≈ 2 – 4 min each on a slow 2-core VM, 2026-12-02), handed out first so
#: that no worker starts one of them last while the other idles (longest first balances best).
#: Only the order of work depends on this list: a stale name costs balance, never a test.
SLOWEST_FIRST = (
    "tests/leaderboard/test_ray_cluster.py",
    "tests/test_core_install.py",
    "tests/leaderboard/test_submissions.py",
    "tests/leaderboard/test_suite_v2.py",
    "tests/leaderboard/test_cheats.py",
)


def pytest_collection_modifyitems(config, items):
    """In an xdist worker, move the slowest modules to the front (a stable sort: every worker
    collects the same order, as xdist requires)."""
    if not IN_XDIST_WORKER:
        return
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
