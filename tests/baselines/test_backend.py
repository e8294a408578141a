"""Backends of the jobs that fan out (lrgym.baselines.backend): choices, errors, the local path.

The Ray path itself runs on a real two-node cluster in tests/leaderboard/test_ray_cluster.py.
"""

from __future__ import annotations

import sys

import pytest

from lrgym.baselines.backend import BACKENDS, Backend, get_backend


def _square(x):
    return x * x


def test_bad_backend_and_address_name_the_valid_choices():
    with pytest.raises(ValueError, match="unknown backend 'spark'; valid choices: local, ray"):
        Backend("spark")
    with pytest.raises(ValueError, match="--address 'auto' is for the ray backend"):
        Backend("local", "auto")
    assert BACKENDS == ("local", "ray")
    assert get_backend(None) == Backend("local") and get_backend("ray", "auto") == Backend("ray", "auto")


def test_local_backend_runs_every_job_once():
    out = sorted(Backend("local").imap(_square, range(7), workers=2))
    assert out == [x * x for x in range(7)]


def test_ray_backend_without_ray_fails_with_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the [ray] extra were not installed
    with pytest.raises(ImportError, match=r'pip install "lrgym\[ray\]"'):
        list(Backend("ray").imap(_square, range(3)))


def test_cli_refuses_ray_without_ray_before_running_anything(monkeypatch):
    from typer.testing import CliRunner

    from lrgym.leaderboard.cli import app

    monkeypatch.setitem(sys.modules, "ray", None)
    result = CliRunner().invoke(app, ["leaderboard", "references", "--suite", "quick", "--backend", "ray"])
    assert result.exit_code == 2
    assert 'pipinstall"lrgym[ray]"' in _text(result.output)
    result = CliRunner().invoke(app, ["leaderboard", "references", "--suite", "quick", "--backend", "dask"])
    assert result.exit_code == 2 and "validchoices:local,ray" in _text(result.output)


def _text(output: str) -> str:
    """The CLI's message without rich's box and line wrapping."""
    return "".join(" ".join(output.replace("│", " ").split()).split(" "))  # wrapped words re-joined
