"""The main-job benchmark's split of CPU time into per-instance costs per family (hand-checked)."""

import pytest

from lrgym.leaderboard.bench import per_family_costs


def test_per_family_costs_by_hand():
    # fixed cost 10, linreg 2 CPU-s per instance × 8, mlp 5 × 4: all = 10 + 16 + 20 = 46,
    # alone: linreg 10 + 16 = 26, mlp 10 + 20 = 30
    text = per_family_costs({"all": 46.0, "linreg": 26.0, "mlp": 30.0}, {"linreg": 8, "mlp": 4})
    assert text == "CPU-s per instance: linreg 2.00, mlp 5.00; fixed cost of a run 10.0 CPU-s"


def test_per_family_costs_needs_every_family():
    with pytest.raises(KeyError):
        per_family_costs({"all": 46.0, "linreg": 26.0}, {"linreg": 8, "mlp": 4})


@pytest.mark.parametrize("argv, message", [(["--only", "cosin"], "unknown baseline(s) ['cosin']; valid choices: fixed"),
                                           (["--suite", "qiuck"], "unknown suite 'qiuck'; valid choices: v2"),
                                           (["--isolation", "--only", "cosin"], "unknown baseline(s) ['cosin']; valid choices: fixed"),
                                           (["--isolation", "--suite", "qiuck"], "unknown suite 'qiuck'; valid choices: v2")])
def test_a_misspelt_baseline_or_suite_stops_before_the_references(argv, message, monkeypatch, capsys):
    """Both were tracebacks, the baseline's only after the suite's references had been loaded
    (computed, if not cached: minutes)."""
    import lrgym.leaderboard.references as references
    from lrgym.leaderboard.bench import main

    monkeypatch.setattr(references, "load_references", lambda *a, **k: pytest.fail("references loaded first"))
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("repeat", ["0", "-1"])
def test_a_repeat_that_measures_nothing_is_refused(repeat, monkeypatch, capsys):
    """``--repeat 0`` (or -1) ran no measurement and exited 0."""
    import lrgym.leaderboard.references as references
    from lrgym.leaderboard.bench import main

    monkeypatch.setattr(references, "load_references", lambda *a, **k: pytest.fail("references loaded"))
    with pytest.raises(SystemExit) as stop:
        main(["--repeat", repeat])
    assert stop.value.code == 2 and f"--repeat={repeat} out of range; valid: a positive integer" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--suite", "quick"], ["--suite", "quick", "--isolation"]])
def test_the_references_progress_goes_to_stderr_and_the_timings_to_stdout(argv, monkeypatch, capsys):
    """``bench > timings.txt``: stdout is the measurements (the header and one line per run); the
    references' progress (computing, cached in) is on stderr. It was printed on stdout among the
    timing lines. The references and the grading are stood in for."""
    from types import SimpleNamespace

    import lrgym.leaderboard.references as references
    import lrgym.leaderboard.runner as runner
    from lrgym.leaderboard.bench import main

    def load_references(suite, n_workers=None, log=None, **kw):
        log("computing references for suite quick ...")
        log("references cached in /somewhere (1.0 s)")

    summary = {"iqm": [0.5], "episode_seconds": 2.0, "policy_seconds": 1.0, "policy_steps": 10}
    monkeypatch.setattr(references, "load_references", load_references)
    monkeypatch.setattr(runner, "run_suite", lambda specs, part, **kw: [
        SimpleNamespace(ok=True, spec=s, entry=SimpleNamespace(summary=summary)) for s in specs])
    main(argv)
    out, err = capsys.readouterr()
    assert "computing references for suite quick" in err and "references cached in /somewhere" in err
    assert "references" not in out
    header, *runs = out.splitlines()
    assert "baselines x" in header, out
    expected = ["in worker:", "sandboxed:"] if "--isolation" in argv else ["all ("]
    assert [r[:len(e)] for r, e in zip(runs, expected)] == expected and len(runs) == len(expected), out


@pytest.mark.parametrize("argv, version, names", [(["--isolation"], "v2/", ["fixed", "hypergradient"]),
                                                  (["--isolation", "--suite", "v1", "--only", "cosine"], "v1/", ["cosine"]),
                                                  ([], "v2/", None)])
def test_isolation_without_a_suite_runs_on_the_default_one(argv, version, names, monkeypatch, capsys):
    """``--isolation`` without ``--suite`` (the README's command) stopped with a traceback, "unknown
    suite None": it read ``--suite``'s default, None, where the timing run reads the leaderboard's
    default suite. Both now grade on that suite; ``--isolation`` the two baselines it names unless
    ``--only``. The references and the grading are stood in for."""
    from types import SimpleNamespace

    import lrgym.leaderboard.references as references
    import lrgym.leaderboard.runner as runner
    from lrgym.leaderboard.bench import main
    from lrgym.leaderboard.suite import DEFAULT_SUITE, get_suite

    graded = []
    summary = {"iqm": [0.5], "episode_seconds": 2.0, "policy_seconds": 1.0, "policy_steps": 10}

    def run_suite(specs, suite, **kw):
        graded.append((suite.version, [s.name for s in specs]))
        return [SimpleNamespace(ok=True, spec=s, entry=SimpleNamespace(summary=summary)) for s in specs]

    monkeypatch.setattr(references, "load_references", lambda suite, **kw: {})
    monkeypatch.setattr(runner, "run_suite", run_suite)
    main(argv)
    assert get_suite(DEFAULT_SUITE).version.startswith("v2/")
    assert graded and all(v.startswith(version) for v, _ in graded), graded
    if names is not None:
        assert all(n == names for _, n in graded), graded
    assert f"episodes on {graded[0][0]}" in capsys.readouterr().out


def _stores(folder) -> list[str]:
    """The folders of ``folder`` holding a bench's throwaway store."""
    import os

    return sorted(e.path for e in os.scandir(folder) if e.is_dir() and os.path.exists(os.path.join(e.path, "bench.sqlite")))


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="/proc")
def test_the_store_folder_of_a_bench_killed_with_sigkill_is_removed_by_the_next_bench(tmp_path):
    """A bench keeps its measurements' store in a temp folder removed when the run ends; a bench
    killed with ``kill -9`` mid-run left it (``tmpXXXXXXXX``: nothing said whose it was, and
    nothing removed it, ever). The folder is now named after its owner (``lrgym-bench-<pid>.<start
    time>.<namespaces>-...``) and the next bench removes those whose owner has ended, never a
    live bench's. Real benches, the first killed with SIGKILL once its store is made."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "TMPDIR": str(tmp_path)}
    live_bench = ("import sys, tempfile; from lrgym.baselines.owner_names import owner_tag; "
                  "folder = tempfile.mkdtemp(prefix='lrgym-bench-' + owner_tag() + '-'); "
                  "open(folder + '/bench.sqlite', 'w').close(); print(folder, flush=True); sys.stdin.read()")
    live = subprocess.Popen([sys.executable, "-c", live_bench], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        live_folder = live.stdout.readline().strip()
        killed = subprocess.Popen([sys.executable, "-m", "lrgym.leaderboard.bench", "--suite", "v1", "--workers", "1"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 600
        while len(_stores(tmp_path)) < 2 and killed.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        [left] = [f for f in _stores(tmp_path) if f != live_folder]  # the killed bench's, left behind
        run = subprocess.run([sys.executable, "-m", "lrgym.leaderboard.bench", "--suite", "quick", "--only", "fixed",
                              "--workers", "1"], env=env, capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, run.stderr[-2000:]
        assert not os.path.exists(left), f"the killed bench's store folder {os.path.basename(left)} is left"
        assert os.path.basename(left).startswith(f"lrgym-bench-{killed.pid}.")
        assert os.listdir(tmp_path) == [os.path.basename(live_folder)]  # the live one's alone (workers' too gone)
    finally:
        live.stdin.close()
        live.wait(timeout=60)
