"""The node check's fingerprint (lrgym.baselines.node_check.node_fingerprint): what it covers, what
it leaves out, and the environment every Ray worker gets. No cluster needed: the cluster's own
use of it is in tests/leaderboard/test_ray_cluster.py.

The audit of 2026-12-04 found the fingerprint blind to the torch and stable-baselines3 versions,
to the CPU features NumPy dispatches to and to the interpreter settings, and hashing every
``.py`` file, so an edit of a report while a run went on stopped it.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from importlib import metadata
from pathlib import Path

import pytest

from lrgym.baselines import backend, node_check

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, **env) -> str:
    """``code`` in a fresh interpreter with ``env`` added to this one's environment without the
    interpreter settings (``make test`` runs a tier with NumPy's dispatch off: the settings of a
    fresh interpreter are what a test gives it); its stdout."""
    full = {**{k: v for k, v in os.environ.items() if k not in node_check.INTERPRETER_SETTINGS}, **env}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_versions_of_every_scoring_package_are_covered():
    fp = node_check.node_fingerprint()
    for dist in ("numpy", "numba", "scipy", "gymnasium", "torch", "stable_baselines3"):
        try:
            expected = metadata.version(dist)
        except metadata.PackageNotFoundError:
            expected = None
        assert fp[dist] == expected, dist
    assert fp["torch"] is not None and fp["stable_baselines3"] is not None  # the [all] environment has both


def test_the_cpu_features_numpy_dispatches_to_are_covered_as_numpy_reports_them():
    """The reference is ``numpy.show_runtime()``'s own SIMD report (baseline + found) in a fresh
    interpreter; with the highest found feature disabled (``NPY_DISABLE_CPU_FEATURES``) the
    fingerprint loses it and records the setting."""
    code = ("import contextlib, io, json, numpy as np\n"
            "from lrgym.baselines.node_check import node_fingerprint\n"
            "shown = io.StringIO()\n"
            "with contextlib.redirect_stdout(shown): np.show_runtime()\n"
            "print(json.dumps({'shown': shown.getvalue(), 'fp': node_fingerprint()}))\n")

    def report(**env):
        out = json.loads(_run(code, **env).splitlines()[-1])
        simd = ast.literal_eval(re.search(r"\{'baseline':.*?\}", out["shown"], re.S).group(0))
        return simd["baseline"], simd["found"], out["fp"]

    baseline, found, fp = report()
    out = {"fp": fp}
    assert out["fp"]["numpy simd"].split() == baseline + found
    assert out["fp"]["NPY_DISABLE_CPU_FEATURES"] is None
    if not found:
        pytest.fail("NumPy dispatches to no feature beyond its baseline on this CPU: nothing to disable")
    disabled = found[-1]
    baseline2, found2, fp = report(NPY_DISABLE_CPU_FEATURES=disabled)
    assert disabled not in found2 and fp["numpy simd"].split() == baseline2 + found2
    assert fp["numpy simd"] != out["fp"]["numpy simd"] and fp["NPY_DISABLE_CPU_FEATURES"] == disabled


def test_the_interpreter_settings_are_covered_and_passed_to_ray_workers(monkeypatch):
    fp = json.loads(_run("import json; from lrgym.baselines.node_check import node_fingerprint; "
                         "print(json.dumps(node_fingerprint()))", PYTHONHASHSEED="123").splitlines()[-1])
    assert fp["PYTHONHASHSEED"] == "123"
    monkeypatch.setenv("PYTHONHASHSEED", "7")
    monkeypatch.delenv("NPY_DISABLE_CPU_FEATURES", raising=False)
    env = backend.worker_env()
    # the driver's value; "" where it has none, so a value of the node's `ray start` does not hold
    assert env["PYTHONHASHSEED"] == "7" and env["NPY_DISABLE_CPU_FEATURES"] == ""
    assert {k: env[k] for k in backend.RAY_WORKER_ENV} == backend.RAY_WORKER_ENV  # BLAS on one thread kept
    # an empty value is an unset one for Python and NumPy (random hashes, every feature on)
    seen = _run("import sys, numpy; print(sys.flags.hash_randomization)", PYTHONHASHSEED="", NPY_DISABLE_CPU_FEATURES="")
    assert seen.split() == ["1"]


def _copy_packages(tmp_path: Path) -> dict:
    roots = {}
    for package, folder in (("lrgym", "lrgym"), ("lrgym.baselines", "baselines"), ("lrgym.leaderboard", "leaderboard")):
        roots[package] = tmp_path / folder
        shutil.copytree(ROOT / folder, roots[package], ignore=shutil.ignore_patterns("__pycache__", "*.npz", "*.sqlite"))
    return roots


def test_the_code_hash_covers_what_nodes_run_and_not_the_drivers_reports(tmp_path):
    """An edit of lrgym's env, of the grader worker or of a new module changes the hash; an edit
    of a driver-only module (a report, the CLI, a training script) does not, so a run goes on."""
    roots = _copy_packages(tmp_path)
    before = node_check.code_hash(roots)
    assert before == node_check.code_hash()  # the copy hashes like the installed packages

    def edited(rel: str, text: str = "\n# an edit\n") -> str:
        path = tmp_path / rel
        original = path.read_text() if path.exists() else None
        path.write_text((original or "") + text)
        try:
            return node_check.code_hash(roots)
        finally:
            path.unlink() if original is None else path.write_text(original)

    for rel in ("leaderboard/report_html.py", "leaderboard/cli.py", "leaderboard/scoring.py",
                "leaderboard/transfer/study.py", "baselines/train_rllib.py",
                # the results store, in its modules of one concern each (store.py re-exports the others)
                "leaderboard/store.py", "leaderboard/store_records.py", "leaderboard/store_side_files.py",
                "leaderboard/store_errors.py",
                # the lrgym command, likewise (cli.py registers the commands of the others)
                "leaderboard/cli_options.py", "leaderboard/cli_files.py", "leaderboard/cli_reading.py",
                "leaderboard/cli_grading.py",
                # the grading run, likewise (runner.py runs the others and re-exports their names)
                "leaderboard/runner.py", "leaderboard/runner_specs.py", "leaderboard/runner_entries.py",
                "leaderboard/runner_jobs.py", "leaderboard/runner_scores.py"):
        assert edited(rel) == before, rel
    for rel in ("lrgym/env.py", "lrgym/tasks/quadratic.py", "leaderboard/worker.py", "leaderboard/sandbox.py",
                "baselines/registry.py", "baselines/tune.py", "leaderboard/new_module.py", "leaderboard/transfer/x/y.py"):
        if rel == "leaderboard/transfer/x/y.py":
            (tmp_path / "leaderboard/transfer/x").mkdir()
        assert edited(rel) != before, rel


def test_the_code_rllib_env_runners_run_is_in_the_code_hash(tmp_path):
    """train_rllib's env creator, its training view (seeds, clipping) and its cycle callback run
    in every env runner, on every node, but lived in train_rllib.py, which is driver-only: a node
    with another copy of them trained other episodes and passed the check that each env runner's
    node has the driver's code (an RLlib audit, 2026-12-06). Editing their file changes the hash."""
    import inspect

    from lrgym.baselines import train_rllib

    roots = _copy_packages(tmp_path)
    before = node_check.code_hash(roots)
    installed = node_check._package_dir("lrgym.baselines")
    for fn in (train_rllib.make_env, train_rllib.training_view, train_rllib.runner_seeds, train_rllib.spread_cycles):
        path = roots["lrgym.baselines"] / Path(inspect.getsourcefile(fn)).relative_to(installed)
        original = path.read_text()
        path.write_text(original + "\n# an edit\n")
        try:
            assert node_check.code_hash(roots) != before, (fn.__name__, path.name)
        finally:
            path.write_text(original)


def test_every_driver_only_pattern_names_files_and_no_node_job_imports_one():
    """The independent reference for :data:`DRIVER_ONLY`: a fresh interpreter runs what a node
    runs — a grader worker's episodes job of every baseline (one family) and a reference job,
    with the tuner's module loaded — and lists the lrgym modules it imported; none may be driver-only (it would then decide
    a node's results unchecked)."""
    files = {package: sorted(p.relative_to(node_check._package_dir(package)).as_posix()
                             for p in node_check._package_dir(package).rglob("*.py"))
             for package in node_check.DRIVER_ONLY}
    for package, patterns in node_check.DRIVER_ONLY.items():
        for pattern in patterns:
            assert [f for f in files[package] if fnmatch.fnmatch(f, pattern)], (package, pattern)
    code = """
import json, sys
from lrgym.baselines.registry import BASELINES
from lrgym.leaderboard.settings import allowed_optimizers
from lrgym.leaderboard.suite import get_suite
from lrgym.leaderboard.worker import run_job, _State
import lrgym.baselines.tune  # the tuner's tasks (run_config, reference_job) live there
suite = get_suite("quick")
state = _State()
for family, instance in sorted({t.family: t.instance for t in suite.tasks()}.items())[:1]:  # every baseline, one family
    kwargs = {**suite.env_kwargs(family), "horizon": 2}
    for name in BASELINES:
        reply = run_job({"op": "episodes", "policy": {"kind": "baseline", "name": name}, "family": family,
                         "env_kwargs": kwargs, "optimizers": list(allowed_optimizers(suite)), "instances": [instance], "seeds": [0],
                         "sandbox": None, "hidden": False}, state)
        assert "error" not in reply, reply
    reply = run_job({"op": "reference", "env_kwargs": kwargs, "instance": instance, "seeds": [0]}, state)
    assert "reference" in reply, reply
print(json.dumps(sorted(m for m in sys.modules if m.startswith("lrgym"))))
"""
    loaded = json.loads(_run(code).splitlines()[-1])
    assert "lrgym.leaderboard.worker" in loaded and "lrgym.baselines.registry" in loaded
    for module in loaded:
        package = next((p for p in node_check.DRIVER_ONLY if module.startswith(p + ".")), None)
        if package is None:
            continue
        rel = module[len(package) + 1:].replace(".", "/") + ".py"
        assert not any(fnmatch.fnmatch(rel, pattern) for pattern in node_check.DRIVER_ONLY[package]), module


def test_the_code_of_a_family_of_ones_own_is_covered(tmp_path, monkeypatch):
    """A family registered from outside lrgym (``$LRGYM_FAMILIES`` on the nodes) runs its own
    module, which the code hash (lrgym's files) did not see: a node with another copy of it
    graded a suite file of that family with other scores under the same seeds, mixed silently
    into the entries (a Ray operator's audit, 2026-12-06: the toy family with its gradient noise
    doubled on one of two nodes, every run differing from the local backend's). The module's
    package is hashed by content; a node without the module is named as such; a Ray worker,
    started with the driver's ``$LRGYM_FAMILIES``, computes what the driver does."""
    import lrgym.tasks
    from lrgym.tasks import BUILT_IN, FAMILIES, FamilyEntry

    pkg = tmp_path / "my_families"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "logreg.py").write_text("from my_families.helpers import SCALE\n")
    (pkg / "helpers.py").write_text("SCALE = 1.0\n")
    target = "my_families.logreg:LogRegFamily"
    monkeypatch.setattr(lrgym.tasks, "FAMILIES", {k: v for k, v in FAMILIES.items() if k in BUILT_IN})
    assert node_check.node_fingerprint()["family code"] is None  # built-in families only: lrgym's code hash
    lrgym.tasks.FAMILIES["logreg_nc"] = FamilyEntry(target)
    missing = node_check.node_fingerprint()["family code"]
    assert missing == f"logreg_nc={target} not importable (no module named 'my_families' on sys.path)"
    monkeypatch.syspath_prepend(str(tmp_path))
    first = node_check.node_fingerprint()["family code"]
    assert re.fullmatch(rf"logreg_nc={re.escape(target)} [0-9a-f]{{16}}", first)
    (pkg / "helpers.py").write_text("SCALE = 2.0\n")  # a helper of the family's package, not its module
    second = node_check.node_fingerprint()["family code"]
    assert second != first
    (pkg / "helpers.py").write_text("SCALE = 1.0\n")
    assert node_check.node_fingerprint()["family code"] == first  # by content
    mine = node_check.node_fingerprint()
    for theirs in (second, missing):
        message = node_check.node_differences(mine, {**mine, "family code": theirs}, "10.0.0.7")
        assert message.startswith("the Ray node 10.0.0.7 differs") and f"family code {theirs} there, {first} here" in message
    # a worker started with the driver's environment (worker_env: $LRGYM_FAMILIES) sees the same
    env = backend.worker_env()
    assert env["LRGYM_FAMILIES"] == f"logreg_nc={target}"
    seen = _run("import json; from lrgym.baselines.node_check import node_fingerprint; "
                "print(json.dumps(node_fingerprint()['family code']))", LRGYM_FAMILIES=env["LRGYM_FAMILIES"],
                PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    assert json.loads(seen.splitlines()[-1]) == first


def test_node_differences_names_the_node_and_each_value():
    mine = node_check.node_fingerprint()
    assert node_check.node_differences(mine, dict(mine), "10.0.0.7") is None
    theirs = {**mine, "torch": "0.0-other", "PYTHONHASHSEED": "1"}
    message = node_check.node_differences(mine, theirs, "10.0.0.7")
    assert message.startswith("the Ray node 10.0.0.7 differs from the driver")
    assert f"torch 0.0-other there, {mine['torch']} here" in message
    assert f"PYTHONHASHSEED 1 there, {mine['PYTHONHASHSEED']} here" in message


def test_the_cpu_kind_is_compared_between_nodes_not_with_the_driver():
    """A laptop driving a cloud cluster of another CPU kind runs no job itself: its CPU kind is
    not the nodes' business (the check refused every node of such a cluster). Nodes of two kinds
    give results equal up to rounding, not to the bit: one warning names them."""
    mine = node_check.node_fingerprint()
    other_kind = {**mine, "numpy simd": "X86_V1-other", "numba cpu": "other-cpu"}  # (unlike this one's, however set)
    assert node_check.node_differences(mine, other_kind, "10.0.0.7") is None
    kinds = node_check.CPUKinds()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kinds.see(other_kind, "10.0.0.7")
        kinds.see(dict(other_kind), "10.0.0.8")  # the same kind as the first node: silent
    with pytest.warns(RuntimeWarning, match=rf"mixes CPU kinds \(numpy simd {re.escape(mine['numpy simd'])} on "
                                             r"10.0.0.9, X86_V1-other on 10.0.0.7, numba cpu .* on 10.0.0.9, other-cpu "
                                             r"on 10.0.0.7\)"):
        kinds.see(mine, "10.0.0.9")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kinds.see(mine, "10.0.0.10")  # once per run


def test_openblas_core_type_is_part_of_the_cpu_kind_and_its_setting_is_recorded():
    """A determinism audit (2026-12-05): with NumPy's dispatch and Numba's CPU made common, two
    OpenBLAS core types (SkylakeX, Haswell) still built linreg instances with other bits, and the
    CPU-kind check saw one kind. The reference is threadpoolctl's own report in the same process."""
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.fail(f"this test forces OpenBLAS x86-64 core types; on {platform.machine()} pick that CPU's")
    code = ("import json, numpy, scipy.linalg.cython_blas, threadpoolctl\n"
            "from lrgym.baselines.node_check import node_fingerprint\n"
            "arch = sorted({i.get('architecture') for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas'})\n"
            "print(json.dumps({'arch': arch, 'fp': node_fingerprint()}))\n")
    default, older = (json.loads(_run(code, OPENBLAS_CORETYPE=core).splitlines()[-1]) for core in ("", "Prescott"))
    for out in (default, older):
        assert out["fp"]["blas core"] == ", ".join(f"openblas {a}" for a in out["arch"])
    assert default["arch"] != older["arch"] and default["fp"]["OPENBLAS_CORETYPE"] is None
    assert older["fp"]["OPENBLAS_CORETYPE"] == "Prescott"
    kinds = node_check.CPUKinds()
    kinds.see(default["fp"], "10.0.0.7")
    with pytest.warns(RuntimeWarning, match=r"mixes CPU kinds \(blas core openblas \w+ on 10.0.0.8, .*OPENBLAS_CORETYPE"):
        kinds.see(older["fp"], "10.0.0.8")


def test_openblas_core_type_reaches_ray_workers_only_when_the_driver_has_one(monkeypatch):
    """An empty OPENBLAS_CORETYPE is not "unset" for every OpenBLAS build (aarch64 takes its
    generic kernels): a driver without one gives workers none, not an empty one."""
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    assert backend.worker_env()["OPENBLAS_CORETYPE"] == "Haswell"
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    assert "OPENBLAS_CORETYPE" not in backend.worker_env()
    monkeypatch.setenv("OPENBLAS_CORETYPE", "")
    assert "OPENBLAS_CORETYPE" not in backend.worker_env()


def test_a_blas_threadpoolctl_cannot_inspect_is_a_kind_of_its_own_not_a_failed_fingerprint(monkeypatch):
    import threadpoolctl

    def broken():  # as a BLAS library threadpoolctl cannot inspect (lrgym.tasks.blas warns and runs on)
        raise OSError("cannot inspect /opt/odd/libblas.so")

    monkeypatch.setattr(threadpoolctl, "threadpool_info", broken)
    assert node_check.node_fingerprint()["blas core"] == "unknown (OSError)"
