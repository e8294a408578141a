"""Backends of the jobs that fan out (lrgym.baselines.backend): choices, errors, the local path.

The Ray path itself runs on a real two-node cluster in tests/leaderboard/test_ray_cluster.py.
"""

from __future__ import annotations

import sys

import pytest

import contextlib
import socketserver
import threading

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


def test_ray_connections_start_their_own_instance_or_fail_fast(monkeypatch, tmp_path):
    """(a Ray user's audit, 2026-12-03) No address joined whatever cluster ``$RAY_ADDRESS`` or
    ``/tmp/ray`` named and then crashed on the local-only options; a dead ``HOST:PORT`` retried
    for minutes instead of failing; the CLI printed a traceback and had made the store."""
    import time

    ray = pytest.importorskip("ray")
    from typer.testing import CliRunner

    from lrgym.baselines import backend, ray_connect
    from lrgym.leaderboard.cli import app

    calls = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: calls.append(kw))
    monkeypatch.setattr(ray_connect, "_check_auto", lambda: None)  # not the cluster auto finds on this machine
    backend.connect(None)
    assert calls[-1]["address"] == "local" and "object_store_memory" in calls[-1]  # a new instance, always
    backend.connect("auto")
    assert calls[-1]["address"] == "auto" and "object_store_memory" not in calls[-1]

    t0 = time.monotonic()
    with pytest.raises(ConnectionError, match=r"could not connect to the Ray cluster at '127.0.0.1:1'.*ray start --head"):
        backend.connect("127.0.0.1:1")
    assert len(calls) == 2 and time.monotonic() - t0 < 30  # refused before ray.init, at once
    db = tmp_path / "r.sqlite"
    result = CliRunner().invoke(app, ["leaderboard", "run-baselines", "--suite", "quick", "--backend", "ray",
                                      "--address", "127.0.0.1:1", "--db", str(db)], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "could not connect to the Ray cluster at '127.0.0.1:1'" in result.output
    assert not db.exists()


def test_a_cluster_that_refuses_the_driver_names_ray_token_authentication(monkeypatch):
    """Ray 2.60 runs a ``ray start`` cluster with token authentication where ~/.ray/auth_token
    exists (lrgym's own local instances write it), and sends the token to an address given only
    with RAY_AUTH_MODE=token: ``--address HOST:PORT`` of such a head failed with "could not
    connect ... start one with `ray start --head`" while it ran (a Ray user's audit,
    2026-12-04; seen on a real head). The error now names the setting; ``auto`` (Ray sends the
    token itself) and an explicit RAY_AUTH_MODE keep the plain hint."""
    ray = pytest.importorskip("ray")
    from lrgym.baselines import backend, ray_connect

    def refused(**kw):  # what ray.init raises when the cluster rejects the driver's (missing) token
        raise ConnectionError(f"Failed to connect to Ray cluster at {kw['address']}")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refused)
    monkeypatch.setattr(ray_connect, "_check_auto", lambda: None)  # not the cluster auto finds on this machine
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    with _serving(_Http2Settings) as address:  # a port that answers as a running head's does
        with pytest.raises(ConnectionError, match=r"RAY_AUTH_MODE=token .*~/.ray/auth_token.*ray start --head"):
            backend.connect(address)
        # a gRPC port of the head that is not its GCS (the Ray Client server's, an audit 2026-12-05)
        with pytest.raises(ConnectionError, match=r"check that the port is the head's GCS port \(6379 unless "
                                                  r"`ray start --head --port` said otherwise.*not its Ray Client port"):
            backend.connect(address)
        for auto_or_set in (("auto", None), (address, "token")):
            if auto_or_set[1]:
                monkeypatch.setenv("RAY_AUTH_MODE", auto_or_set[1])
            with pytest.raises(ConnectionError) as info:
                backend.connect(auto_or_set[0])
            assert "RAY_AUTH_MODE" not in str(info.value) and "ray start --head" in str(info.value)


def test_no_address_with_ray_address_set_says_that_it_starts_its_own_instance(monkeypatch):
    """Inside ``ray job submit`` (RAY_ADDRESS set to the cluster) a command without --address
    started a Ray instance of its own on the head and ran there alone, saying nothing (a Ray
    user's audit, 2026-12-04). It still starts its own (the README's rule) but warns, naming the
    variable and --address auto; with --address auto Ray joins RAY_ADDRESS's cluster."""
    import warnings

    ray = pytest.importorskip("ray")
    from lrgym.baselines import backend, ray_connect

    calls = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: calls.append(kw))
    monkeypatch.setattr(ray_connect, "_check_auto", lambda: None)  # not the cluster auto finds on this machine
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.5:6379")
    with pytest.warns(UserWarning, match=r"RAY_ADDRESS='10.0.0.5:6379' is not used.*--address auto"):
        backend.connect(None)
    assert calls[-1]["address"] == "local"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        backend.connect("auto")
        monkeypatch.delenv("RAY_ADDRESS")
        backend.connect(None)
    assert [c["address"] for c in calls] == ["local", "auto", "local"]


def test_an_address_asked_for_while_this_processs_own_local_instance_runs_is_refused(monkeypatch):
    """(a Ray / RLlib user's audit, 2026-12-07) ``connect(None)`` leaves the Ray instance it
    starts running for the process's next run, and every later ``connect`` used whatever Ray was
    initialised: in one notebook, ``train_rllib.train`` of a first config without an address and a
    second with ``address="auto"`` trained the second on this machine's instance, not the cluster
    (with more env runners than its CPUs, after a note that "training starts when it has them":
    for ever). Now an address asked for while lrgym's own local instance runs is refused, naming
    it and the fix; the same instance asked for again, and a Ray the caller initialised, are used
    as they are."""
    ray = pytest.importorskip("ray")
    from lrgym.baselines import backend, ray_connect, train_rllib

    monkeypatch.setattr(ray_connect, "_check_auto", lambda: None)  # not the cluster auto finds on this machine
    started = backend.connect(None)
    try:
        here = ray.get_runtime_context().gcs_address
        assert backend.connect(None) is started and ray.get_runtime_context().gcs_address == here
        for address in ("auto", "127.0.0.1:6379"):
            with pytest.raises(ValueError, match=r"already running in this process .*ray\.shutdown\(\) first"):
                backend.connect(address)
        # what a notebook's second train_rllib run with an address says, before anything is built
        with pytest.raises(train_rllib.ConfigError, match="already running in this process"):
            train_rllib.train(train_rllib.RLlibConfig(address="auto", env_runners=4, total_timesteps=64,
                                                      progress=False),
                              log=lambda *_: pytest.fail("nothing is said before the refusal"))
    finally:
        ray.shutdown()
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)  # the caller's own
    try:
        assert backend.connect("auto") is ray  # used as it is (its address is the caller's business)
    finally:
        ray.shutdown()


class _Http2Settings(socketserver.BaseRequestHandler):
    """What a gRPC server (Ray's GCS) sends first on a new connection: an HTTP/2 SETTINGS frame."""

    def handle(self):
        self.request.sendall(bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
        self.request.recv(64)


class _Http1(socketserver.StreamRequestHandler):
    """A web server (``python -m http.server``): answers the HTTP/2 preface with HTTP/1 text."""

    def handle(self):
        self.rfile.readline()
        self.wfile.write(b"HTTP/1.0 505 HTTP Version Not Supported\r\n\r\n")


class _Silent(socketserver.BaseRequestHandler):
    """A service that accepts and never says anything."""

    def handle(self):
        self.request.recv(64)
        threading.Event().wait(8)


@contextlib.contextmanager
def _serving(handler, host="127.0.0.1"):
    """``HOST:PORT`` of a TCP server on ``host`` answering with ``handler``, for the block."""
    server = socketserver.ThreadingTCPServer((host, 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _no_init(monkeypatch):
    """``ray`` with ``init`` recording its calls (no cluster is joined)."""
    ray = pytest.importorskip("ray")
    calls = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: calls.append(kw))
    return calls


@pytest.mark.parametrize("handler", [_Http1, _Silent])
def test_a_port_where_no_ray_head_answers_is_refused_in_seconds(handler, monkeypatch):
    """``--address`` of a TCP service that is no Ray head (``python -m http.server 6399``) passed
    the TCP check and ``ray.init`` then retried for minutes (a Ray user's audit, 2026-12-05).
    The peer must now answer the HTTP/2 preface with a SETTINGS frame, as Ray's GCS (gRPC) does;
    a real head passes the same check in tests/leaderboard/test_ray_cluster.py."""
    import time

    from lrgym.baselines import backend

    calls = _no_init(monkeypatch)
    monkeypatch.delenv("RAY_USE_TLS", raising=False)
    with _serving(handler) as address:
        t0 = time.monotonic()
        with pytest.raises(ConnectionError, match=rf"'{address}' answers but is no Ray head: .* does not speak gRPC"
                                                  r".*valid: --address auto, or HOST:PORT of a Ray head's GCS port"):
            backend.connect(address)
        assert time.monotonic() - t0 < 6 and calls == []
    with _serving(_Http2Settings) as address:  # what a head answers: on to ray.init
        backend.connect(address)
    assert [c["address"] for c in calls] == [address]


def test_an_address_of_another_form_names_the_valid_forms(monkeypatch, capsys):
    """``--address foo`` got Ray's "Invalid address format: foo", listing no valid form."""
    from lrgym.baselines import backend, tune

    calls = _no_init(monkeypatch)
    for bad in ("foo", "foo:", ":6379", "10.0.0.5:http", "10.0.0.5:70000"):
        with pytest.raises(ValueError, match=rf"--address '{bad}' is not a Ray cluster address; valid: auto, or "
                                             r"HOST:PORT of a Ray head's GCS port \(6379"):
            Backend("ray", bad)
        with pytest.raises(ValueError, match="is not a Ray cluster address"):
            backend.connect(bad)
    assert calls == []
    with pytest.raises(SystemExit) as stop:
        tune.main(["--backend", "ray", "--address", "foo"])
    assert stop.value.code == 2 and "error: --address 'foo' is not a Ray cluster address; valid: auto, or HOST:PORT" \
        in capsys.readouterr().err


def test_auto_naming_a_dead_recorded_cluster_fails_fast(monkeypatch, tmp_path):
    """A head killed without ``ray stop`` stays recorded in /tmp/ray/ray_current_cluster, which
    ``--address auto`` resolves to: ``ray.init`` retried the dead address for minutes. The
    address Ray's own lookup finds is now checked like a given one, and the error says the
    recorded cluster is gone (``ray stop``)."""
    calls = _no_init(monkeypatch)
    from ray._private import services

    from lrgym.baselines import backend

    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))  # Ray's temp folder: tmp_path/ray/
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(services, "find_gcs_addresses", lambda: frozenset())  # other users' clusters here
    record = tmp_path / "ray" / "ray_current_cluster"
    record.parent.mkdir()
    here = services.resolve_ip_for_localhost("127.0.0.1")  # what Ray makes of a recorded 127.0.0.1
    dead = f"{here}:{_closed_port()}"
    record.write_text(dead)
    with pytest.raises(ConnectionError, match=rf"--address auto resolves to the cluster recorded in {record} "
                                              rf"\({dead}\), where no Ray head runs: .*cluster is gone: run `ray stop`"):
        backend.connect("auto")
    with _serving(_Http1, here) as other:  # the recorded port now taken by something else
        record.write_text(other)
        with pytest.raises(ConnectionError, match=r"where no Ray head runs: .* no Ray head"):
            backend.connect("auto")
    assert calls == []
    with _serving(_Http2Settings, here) as head:  # a live head recorded: joined as before
        record.write_text(head)
        backend.connect("auto")
    record.unlink()  # nothing recorded: left to ray.init, which says so at once
    backend.connect("auto")
    assert [c["address"] for c in calls] == ["auto", "auto"]


def test_auto_naming_an_unanswering_head_found_running_says_so(monkeypatch, tmp_path):
    """With nothing recorded in ray_current_cluster, ``--address auto`` resolves (Ray's fallback)
    to a GCS process Ray finds running on this machine (another user's, on a shared machine).
    One that does not answer was worded as "the cluster recorded in .../ray_current_cluster",
    a file that does not exist, with ``ray stop`` as the fix: the error now says where the
    address came from."""
    calls = _no_init(monkeypatch)
    from ray._private import services

    from lrgym.baselines import backend

    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))  # Ray's temp folder: tmp_path/ray/, nothing recorded
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    record = tmp_path / "ray" / "ray_current_cluster"
    here = services.resolve_ip_for_localhost("127.0.0.1")
    dead = f"{here}:{_closed_port()}"
    monkeypatch.setattr(services, "find_gcs_addresses", lambda: frozenset({dead}))  # Ray's scan of processes
    with pytest.raises(ConnectionError) as failed:
        backend.connect("auto")
    said = str(failed.value)
    assert said.startswith(f"--address auto resolves to a Ray head process found running on this machine ({dead}; "
                           f"nothing recorded in {record}), where no Ray head runs: "), said
    assert "recorded in" not in said.replace(f"nothing recorded in {record}", "") and "ray stop" not in said, said
    record.parent.mkdir()
    record.write_text(dead)  # the same address recorded: the record's words, as before
    with pytest.raises(ConnectionError, match=rf"--address auto resolves to the cluster recorded in {record} "
                                              rf"\({dead}\), where no Ray head runs: .*cluster is gone: run `ray stop`"):
        backend.connect("auto")
    assert calls == []


def test_workers_must_be_a_positive_integer(monkeypatch, capsys):
    """``tune --backend ray --workers -2`` crashed in ray_imap (``not enough values to unpack``);
    the local backend took -2 and 0 silently (as all cores)."""
    from lrgym.baselines import backend, tune

    monkeypatch.setattr(backend, "connect", lambda address=None: pytest.fail("Ray started for a bad --workers"))
    for bad in (0, -2, 1.5, True):
        why = "out of range" if bad in (0, -2) and bad is not True else "is not an integer"  # not "out of range"
        for name in BACKENDS:
            with pytest.raises(ValueError, match=rf"workers={bad!r} {why}; valid: a positive integer"):
                list(Backend(name).imap(_square, range(3), workers=bad))
        with pytest.raises(ValueError, match=rf"workers={bad!r} {why}"):
            list(backend.ray_imap(_square, range(3), workers=bad))
    for bad in ("-2", "0", "two"):
        with pytest.raises(SystemExit) as stop:
            tune.main(["--backend", "ray", "--workers", bad])
        assert stop.value.code == 2
        assert f"error: argument --workers: {bad} is not a positive integer; valid: 1, 2, 3" in capsys.readouterr().err


def test_tune_reports_a_ray_backend_it_cannot_join_as_the_parsers_error(monkeypatch, capsys):
    """``tune --backend ray --address`` of a dead cluster (or without Ray) was a traceback from
    deep in the tuning; it is joined first, as the lrgym CLI does (exit 2, one message)."""
    from lrgym.baselines import tune

    pytest.importorskip("ray")
    address = f"127.0.0.1:{_closed_port()}"
    with pytest.raises(SystemExit) as stop:
        tune.main(["--backend", "ray", "--address", address, "--families", "quadratic"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and f"error: could not connect to the Ray cluster at '{address}'" in err
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the [ray] extra were not installed
    with pytest.raises(SystemExit) as stop:
        tune.main(["--backend", "ray", "--families", "quadratic"])
    assert stop.value.code == 2 and capsys.readouterr().err.count('pip install "lrgym[ray]"') == 1


_DRIVER = ("import os, signal, sys\n"
           "from lrgym.baselines import ray_connect\n"
           "with ray_connect._neutral_working_directory():\n"  # what connect() starts Ray inside
           "    print(os.getcwd(), flush=True)\n"
           "if sys.argv[1] == 'killed':\n"
           "    os.kill(os.getpid(), signal.SIGKILL)\n"  # kill -9: no atexit
           "sys.stdin.readline()\n")


def _start_driver(how: str, tmp):
    """A process that makes its Ray driver folder in ``tmp`` (as ``connect`` does before
    ``ray.init``), then is killed with SIGKILL (``killed``), or waits on its stdin (``alive``)."""
    import os
    import subprocess

    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-c", _DRIVER, how], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    folder = proc.stdout.readline().strip()
    return proc, folder


def test_a_killed_drivers_folder_is_swept_by_the_next_driver_and_a_live_ones_kept(tmp_path):
    """``connect`` starts Ray from an empty ``lrgym-ray-driver-*`` folder that ``atexit`` removes;
    a driver killed with ``kill -9`` left its folder in the temp folder for ever, as no later run
    removed it (an audit of the Ray backend, 2026-12-06). The next driver now removes those whose
    driver has ended, never a live driver's (on its Ray workers' ``sys.path``), nor one whose name
    does not say its owner (an older lrgym's)."""
    import os

    killed, killed_folder = _start_driver("killed", tmp_path)
    killed.wait(60)
    alive, alive_folder = _start_driver("alive", tmp_path)
    try:
        assert os.path.dirname(killed_folder) == os.path.dirname(alive_folder) == str(tmp_path)
        assert os.path.basename(killed_folder).startswith("lrgym-ray-driver-")
        assert not os.path.exists(killed_folder)  # the second driver swept it before making its own
        assert os.path.isdir(alive_folder)
        from lrgym.baselines.backend import DRIVER_DIR_PREFIX, sweep_driver_folders

        older = [tmp_path / f"{DRIVER_DIR_PREFIX}{rest}" for rest in ("abc12345", "99999999", "99999999-x1")]
        for folder in older:  # an lrgym before the sweep (mkdtemp's 8 random characters), or a pid alone
            folder.mkdir()
        assert sweep_driver_folders(str(tmp_path)) == 0  # the live driver's and the unjudged ones stay
        assert os.path.isdir(alive_folder) and all(f.is_dir() for f in older)
    finally:
        alive.communicate("\n", timeout=60)  # ends normally: atexit removes its folder
    assert not os.path.exists(alive_folder)
    os.mkdir(alive_folder)  # the name of a driver that has ended now (as if kill -9 had left it)
    assert sweep_driver_folders(str(tmp_path)) == 1 and not os.path.exists(alive_folder)


class _NodeTable:
    """Ray's node table as ``ray.nodes()`` gives it, stood in for (what RunNodes reads)."""

    def __init__(self, *nodes):
        self.table = [dict(n) for n in nodes]

    def nodes(self):
        return [dict(n) for n in self.table]

    def lose(self, node_id):
        for n in self.table:
            if n["NodeID"] == node_id:
                n["Alive"] = False


def _node(node_id, ip="127.0.0.1", host="box"):
    return {"NodeID": node_id, "NodeManagerAddress": ip, "NodeManagerHostname": host, "Alive": True}


def test_run_nodes_name_where_a_job_was_lost_and_say_each_lost_node_once():
    """The warnings of a lost Ray worker (Backend.imap's tasks, the grader's actors) name its
    node by Ray's id, address and host name: two nodes on 127.0.0.1 apart. A node Ray counts
    dead by the end of the run and no warning called gone is said then, once."""
    import warnings

    from lrgym.baselines.backend import RunNodes, node_name

    a, b, c = ("3f2a9c1e" + "0" * 48), ("77d0aa12" + "1" * 48), ("c0ffee00" + "2" * 48)
    ray = _NodeTable(_node(a), _node(b), _node(c, "10.0.0.7", "gpu-07"))
    nodes = RunNodes(ray)
    assert nodes.names == {a: "3f2a9c1e at 127.0.0.1 (box)", b: "77d0aa12 at 127.0.0.1 (box)",
                           c: "c0ffee00 at 10.0.0.7 (gpu-07)"}
    assert node_name(a, "127.0.0.1", "box") == nodes.names[a]
    died = type("NodeDiedError", (Exception,), {})  # Ray's, by name: its message names the node
    assert nodes.lost_on(died(f"Task failed because the node it was running on is dead. node ID: {b}.")) == \
        " on the Ray node 77d0aa12 at 127.0.0.1 (box), now gone"
    assert nodes.lost_on(RuntimeError("The worker died unexpectedly"), node_id=a) == " on the Ray node 3f2a9c1e at 127.0.0.1 (box)"
    assert nodes.lost_on(RuntimeError("The worker died unexpectedly")) == ""  # a live node, none named
    ray.lose(a)  # Ray's table now says what the loss of the grader actor on it did not yet
    ray.lose(c)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nodes.say_gone()
        nodes.say_gone()  # once each
    assert [str(w.message) for w in caught] == [
        "the Ray node 3f2a9c1e at 127.0.0.1 (box) was lost during the run (1 job lost on it, named above)",
        "the Ray node c0ffee00 at 10.0.0.7 (gpu-07) was lost during the run (no job was lost on it)"]
    assert nodes.lost_on(RuntimeError("lost")) == ""  # both said gone already


def test_run_nodes_name_the_nodes_dead_since_when_ray_names_none():
    """A loss whose error names no node (a worker killed; Ray's table already says a node died)
    names the nodes dead since the last warning, once."""
    from lrgym.baselines.backend import RunNodes

    a, b = ("3f2a9c1e" + "0" * 48), ("77d0aa12" + "1" * 48)
    ray = _NodeTable(_node(a), _node(b))
    nodes = RunNodes(ray)
    ray.lose(a)
    ray.lose(b)
    assert nodes.lost_on(RuntimeError("The worker died unexpectedly")) == \
        " (the Ray nodes 3f2a9c1e at 127.0.0.1 (box), 77d0aa12 at 127.0.0.1 (box) are gone)"
    assert nodes.lost_on(RuntimeError("The worker died unexpectedly")) == ""


_QUIET_DRIVER = ("import os, sys\n"
                 "from lrgym.baselines import backend\n"
                 "ray = backend.connect(None)\n"
                 "print(list(backend.Backend('ray').imap(abs, [-1, -2], workers=1)), file=sys.stderr)\n"
                 "print('auth', os.environ.get('RAY_AUTH_MODE'), file=sys.stderr)\n"
                 "ray.shutdown()\n")


def test_a_ray_run_on_this_machine_says_nothing_of_rays_own_on_the_terminal():
    """A run on the Ray instance lrgym starts (``--backend ray`` without ``--address``) printed Ray's
    ``WARNING authentication_token_setup.py:85 -- Token authentication is enabled for this Ray
    cluster. Set RAY_AUTH_MODE=disabled to opt out ...`` on every terminal, at each ``ray.init``
    (the Ray audit's loose end). It is dropped; token authentication stays on (Ray's own
    ``RAY_AUTH_MODE=token`` in the driver), the jobs' results and lrgym's lines are on stderr,
    and stdout is empty. A real instance, in a temp folder of its own."""
    import os
    import shutil
    import subprocess
    import tempfile

    pytest.importorskip("ray")
    temp = tempfile.mkdtemp(prefix="lrgym-rt-")  # short: Ray's socket paths live below it
    os.makedirs(os.path.join(temp, "ray"))
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_MODE", "RAY_ADDRESS")}
    try:
        done = subprocess.run([sys.executable, "-c", _QUIET_DRIVER], env={**env, "RAY_TMPDIR": temp},
                              capture_output=True, text=True, timeout=240)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "[1, 2]" in done.stderr and "auth token" in done.stderr  # the jobs ran, token authentication on
    assert "Token authentication" not in done.stderr, done.stderr
