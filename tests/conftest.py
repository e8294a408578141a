"""Shared test fixtures."""

import os
import tempfile

# Keep BLAS single-threaded in tests so timings and numerics do not depend on the core count.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Every Ray node a test starts (the two-node cluster fixture, lrgym's own local instance, the
# drivers the tests start) binds and names the loopback address, 127.0.0.1, not the machine's.
# Ray 2.60 has no setting for a node's address but this one: a node resolves its address through
# get_node_ip_address(), which gives the loopback when Ray clusters are "disabled"
# (ray_constants.ENABLE_RAY_CLUSTER, read when ray is imported, so set here before any test
# imports it; the nodes and drivers the tests start inherit it). The nodes still form a cluster:
# two raylets on one machine join one head by its address (cluster_utils.Cluster.add_node; the
# `ray start --address` command refuses to add a node with this setting: a test needing it sets
# RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=1 for that command, and its node then binds the machine's address).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import sys

import pytest

# Slow, obvious reference implementations (tests/references.py) importable from every test dir.
sys.path.insert(0, os.path.dirname(__file__))

from deep_tier import DEEP  # noqa: E402  (the tier list, importable once the test dir is on the path)

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
    "tests/leaderboard/test_cheats.py",
    "tests/leaderboard/test_transfer.py",
)


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(config, items):
    """Mark the deep tier's tests ``deep`` (tests/deep_tier.py: what ``make test`` leaves out and
    ``make test-deep`` runs); in an xdist worker, move the slowest modules to the front (a stable
    sort: every worker collects the same order, as xdist requires)."""
    deep = set(DEEP)
    for item in items:
        if item.nodeid.split("[", 1)[0] in deep:
            item.add_marker(pytest.mark.deep)
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


# ---- nothing a test leaves in the home folder: Ray's ~/ray_results ----

#: the module that holds Ray's default results folder (``~/ray_results``, from ``$HOME`` at its import)
RAY_CONSTANTS = "ray.train.constants"
#: where this test process's Ray puts what it would put in ``~/ray_results`` (made by Ray on its
#: first use: only if a test builds an RLlib algorithm outside ``logdirs_in_temp``); removed when
#: the session ends
RAY_RESULTS = os.path.join(tempfile.gettempdir(), f"lrgym-test-ray-results-{os.getpid()}-{os.urandom(4).hex()}")


def _ray_results_here(constants) -> None:
    """Point ``constants.DEFAULT_STORAGE_PATH`` at :data:`RAY_RESULTS`, and every copy of it that
    Ray's modules already imported made (``from ray.train.constants import DEFAULT_STORAGE_PATH``:
    Tune's ``trainable`` module, which makes an algorithm's ``logdir`` there). Right after the
    constants' first execution there is no copy yet; when Ray was imported before the session
    was configured (a plugin importing ``ray.tune``), the copies are what Tune reads."""
    default = constants.DEFAULT_STORAGE_PATH
    constants.DEFAULT_STORAGE_PATH = RAY_RESULTS
    for name, module in list(sys.modules.items()):
        if name != "ray" and not name.startswith("ray."):
            continue
        if getattr(module, "__dict__", {}).get("DEFAULT_STORAGE_PATH") == default:  # (no module __getattr__ runs)
            module.DEFAULT_STORAGE_PATH = RAY_RESULTS


def pytest_configure(config):
    """Ray's default results folder, ``~/ray_results`` (Ray 2.60's
    ``ray.train.constants.DEFAULT_STORAGE_PATH``), is :data:`RAY_RESULTS` in this process: set
    before anything imports it, so every module that copies it (Tune's ``Trainable``, which
    makes an RLlib algorithm's ``logdir`` there) gets this one. A test that builds an algorithm
    outside :func:`lrgym.baselines.rllib_logdir.logdirs_in_temp` then litters no home folder,
    and :func:`no_ray_results_left` fails it by name. Each process of a run (each xdist worker)
    has its own folder, so another process on the machine making ``~/ray_results/*`` is never
    blamed on a test. Processes a test starts are not covered (lrgym's commands build their
    algorithms inside ``logdirs_in_temp``: tests/baselines/test_rllib_logdir.py)."""
    from lrgym.after_import import call_after_import

    # (imported before pytest configured, by a plugin: set now, with its copies)
    call_after_import(RAY_CONSTANTS, _ray_results_here)


def pytest_unconfigure(config):
    import shutil

    shutil.rmtree(RAY_RESULTS, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def templates_kept_by_the_module(request):
    """A test module's grading runs fork their workers from templates kept for the module
    (:func:`lrgym.leaderboard.pool.kept_templates`), as a grader running several runs does: each
    kind of worker's template is started and warmed once per module, not once per run. The
    templates end at the module's end. A module that watches the grader's processes or the
    templates themselves is marked ``fresh_templates``: its runs start and end their own, as
    one command's run does."""
    if request.node.get_closest_marker("fresh_templates") is not None:
        yield
        return
    from lrgym.leaderboard.pool import kept_templates

    with kept_templates():
        yield


#: what this process's tests made in :data:`RAY_RESULTS` and were failed for
_RAY_RESULTS_SEEN: set = set()


@pytest.fixture(autouse=True)
def no_ray_results_left(request):
    """Fails the test (at its teardown) during which something was made in Ray's default results
    folder (this process's :data:`RAY_RESULTS`, ``~/ray_results`` outside tests): an RLlib
    algorithm built outside ``logdirs_in_temp`` by the test or a fixture set up for it (a module
    fixture is set up before this one: what it made is the first teardown's after it)."""
    yield
    try:
        made = sorted(set(os.listdir(RAY_RESULTS)) - _RAY_RESULTS_SEEN)
    except FileNotFoundError:
        return
    _RAY_RESULTS_SEEN.update(made)
    if made:
        pytest.fail(f"{request.node.nodeid} (or a fixture set up for it) made {made} in Ray's default results "
                    f"folder, ~/ray_results (here {RAY_RESULTS}): build, train and stop an RLlib algorithm inside "
                    "`with lrgym.baselines.rllib_logdir.logdirs_in_temp():`", pytrace=False)
