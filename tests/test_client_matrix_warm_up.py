"""``make clients`` fills Numba's disk cache in a process of its own before it times any client.

On a fresh clone the cache is cold (Numba keys it on the source files' times), and the first
client's timed loop held the compilation of every kernel its instances met: SB3 read 28 env
steps/s on 2026-12-07 where the rows after it read 57 – 169. The matrix now runs
``--warm-up`` first, untimed, and says so in the header; a warm-up that fails stops the run
before any row or file is written."""

import json
import subprocess

import pytest

from benchmarks.clients import matrix


class Recorder:
    """Stands in for ``subprocess.run`` in the matrix: records each command, answers a client
    with a working row and the warm-up with ``warm_up_exit``."""

    def __init__(self, warm_up_exit=0):
        self.commands, self.warm_up_exit = [], warm_up_exit

    def __call__(self, cmd, **kwargs):
        self.commands.append(cmd)
        if "--warm-up" in cmd:
            return subprocess.CompletedProcess(cmd, self.warm_up_exit, "", "numba.core.errors.TypingError: boom\n")
        name = cmd[cmd.index("--client") + 1]
        row = {"client": name, "package": "p", "version": "1", "works": True, "steps": 8, "seconds": 1.0, "steps_per_s": 8.0}
        return subprocess.CompletedProcess(cmd, 0, json.dumps(row) + "\n", "")


def test_the_kernels_are_warmed_up_before_the_first_client_and_the_header_says_so(monkeypatch, tmp_path, capsys):
    run = Recorder()
    monkeypatch.setattr(matrix.subprocess, "run", run)
    out = tmp_path / "RESULTS.md"
    assert matrix.main(["--only", "sb3", "--only", "cleanrl", "--steps", "8", "--out", str(out)]) == 0
    assert [c[3:] for c in run.commands] == [["--warm-up"], ["--client", "sb3", "--steps", "8"], ["--client", "cleanrl", "--steps", "8"]]
    assert run.commands[0][:3] == [matrix.sys.executable, "-m", "benchmarks.clients.matrix"]
    assert "every kernel in Numba's cache before the first client (`--warm-up`, untimed)" in out.read_text()
    assert "kernels warmed up in" in capsys.readouterr().err


def test_a_failing_warm_up_stops_the_matrix_before_any_client_or_file(monkeypatch, tmp_path):
    run = Recorder(warm_up_exit=1)
    monkeypatch.setattr(matrix.subprocess, "run", run)
    out = tmp_path / "RESULTS.md"
    with pytest.raises(RuntimeError, match=r"warm-up failed \(exit 1\): numba.core.errors.TypingError: boom"):
        matrix.main(["--only", "sb3", "--out", str(out)])
    assert len(run.commands) == 1 and not out.exists()
