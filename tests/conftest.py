"""Shared test fixtures."""

import os

# Keep BLAS single-threaded in tests so timings and numerics do not depend on the core count.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Every Ray node a test starts (the two-node cluster fixture, lrgym's own local instance, the
# drivers the tests start) binds and names the loopback address, 127.0.0.1, not the machine's.
# Ray 2.60 has no setting for a node's address but this one: a node resolves its address through
# get_node_ip_address(), which gives the loopback when Ray clusters are "disabled"
# (ray_constants.ENABLE_RAY_CLUSTER, read when ray is imported, so set here before any test
# imports it; the nodes and drivers the tests start inherit it). The nodes still form a cluster:
# two raylets on one machine join one head by its address.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import sys

import pytest

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


# ---- nothing a test leaves in the temp folder ----


@pytest.fixture(scope="session", autouse=True)
def sb3_logs_in_pytests_temp_folder(tmp_path_factory):
    """SB3's ``learn`` without a logger of the caller's (``model.set_logger``) or a
    ``tensorboard_log`` makes an empty ``<tempdir>/SB3-<date-time>`` folder at every call unless
    ``$SB3_LOGDIR`` names one: the tests that train SB3 models themselves (the adapter's, the
    README's examples, ...) left ≈ 100 of them in ``/tmp`` per run of the suite. For the
    session (and the processes its tests start) they go to one folder in pytest's own temp
    folder, which pytest prunes. ``train_sb3`` itself makes none
    (:func:`lrgym.baselines.train_sb3.logger_without_folder`; its test unsets ``SB3_LOGDIR``)."""
    with pytest.MonkeyPatch.context() as session:  # restored at the end
        session.setenv("SB3_LOGDIR", str(tmp_path_factory.mktemp("sb3-logs")))
        yield
