"""Training and tuning write to ``runs/`` by default; the shipped files change only with ``--ship``.

Every command runs with a tiny budget in a temporary working directory, with the shipped paths
pointed at temporary copies: the tests never write into the package, and they also check that
the real shipped files are byte-for-byte unchanged afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from lrgym.baselines import outputs
from lrgym.baselines.outputs import output_path, runs_dir

REAL_WEIGHTS, REAL_TUNED = outputs.SHIPPED_WEIGHTS, outputs.SHIPPED_TUNED


def digest_of_shipped() -> dict:
    files = [REAL_TUNED, *sorted(REAL_WEIGHTS.iterdir())]
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files if f.is_file()}


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """cwd = tmp_path/work; shipped weights and tuned.json = copies under tmp_path/ship."""
    before = digest_of_shipped()
    ship = tmp_path / "ship"
    (ship / "weights").mkdir(parents=True)
    shutil.copy(REAL_TUNED, ship / "tuned.json")
    monkeypatch.setattr(outputs, "SHIPPED_WEIGHTS", ship / "weights")
    monkeypatch.setattr(outputs, "SHIPPED_TUNED", ship / "tuned.json")
    monkeypatch.delenv(outputs.RUNS_ENV, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield work, ship
    assert digest_of_shipped() == before, "a test wrote into the package"


def test_output_path_precedence(tmp_path, monkeypatch):
    shipped = tmp_path / "pkg" / "weights" / "dqn_mixed"
    monkeypatch.delenv(outputs.RUNS_ENV, raising=False)
    assert output_path(shipped) == runs_dir() / "dqn_mixed" and runs_dir().as_posix() == "runs"
    assert output_path(shipped, ship=True) == shipped
    assert output_path(shipped, out="x/y") == tmp_path.__class__("x/y")
    monkeypatch.setenv(outputs.RUNS_ENV, str(tmp_path / "elsewhere"))
    assert output_path(shipped) == tmp_path / "elsewhere" / "dqn_mixed"
    with pytest.raises(ValueError, match="--out .* and --ship both given"):
        output_path(shipped, ship=True, out="x")


def test_an_out_naming_the_shipped_file_is_refused_in_any_spelling(tmp_path, monkeypatch):
    """``--out DIR`` writes DIR/<default name> (9d23a1d), so ``--out baselines/weights`` wrote over
    the shipped weights without ``--ship``; so did ``--out baselines/weights/dqn_mixed.zip``. Any
    path that is the shipped file (a folder holding it, relative, with ``..``, through a symbolic
    link, with the suffix the command adds) is refused; its neighbours are not."""
    weights = tmp_path / "pkg" / "weights"
    weights.mkdir(parents=True)
    shipped = weights / "dqn_mixed"
    (tmp_path / "link").symlink_to(weights)
    monkeypatch.chdir(tmp_path)
    for out in (weights, "pkg/weights", "pkg/weights/dqn_mixed", "pkg/weights/dqn_mixed.zip",
                "pkg/weights/dqn_mixed.json", "pkg/../pkg/weights/dqn_mixed", "link", "link/dqn_mixed.zip"):
        with pytest.raises(ValueError, match=r"is the shipped dqn_mixed \(.*valid: --ship to overwrite it on purpose"):
            output_path(shipped, out=out)
    for out in ("pkg/weights/dqn_mixed2", "pkg/weights/dqn_mixed.5", "pkg/dqn_mixed", "runs"):
        assert output_path(shipped, out=out) is not None
    board = tmp_path / "LEADERBOARD.md"  # a shipped file with its suffix: the folder holding it is refused too
    with pytest.raises(ValueError, match="is the shipped LEADERBOARD.md"):
        output_path(board, out=".")


def test_an_out_naming_another_shipped_file_is_refused_too(sandbox):
    """The DQN trainer's ``--out baselines/weights/ppo_mixed`` wrote over the shipped PPO weights
    (only the command's own shipped file was checked), the tuner's ``--out weights/qlearning_mixed.npz``
    over the Q-table. Every shipped file is refused; ``--ship`` is offered only for the command's own."""
    work, ship = sandbox
    weights = ship / "weights"
    for name in ("ppo_mixed.zip", "ppo_mixed.json", "qlearning_mixed.npz"):
        (weights / name).write_bytes(b"shipped")
    dqn = weights / "dqn_mixed"
    for shipped, out, hit in ((dqn, weights / "ppo_mixed", "ppo_mixed"), (dqn, ship / "tuned.json", "tuned.json"),
                              (ship / "tuned.json", weights / "qlearning_mixed.npz", "qlearning_mixed.npz"),
                              (ship / "tuned.json", weights / "qlearning_mixed", "qlearning_mixed.npz")):
        with pytest.raises(ValueError, match=rf"--out {out} is the shipped {hit}[.a-z]* \(") as refused:
            output_path(shipped, out=out)
        assert "--ship" not in str(refused.value)  # --ship would write the command's own file, not this one
    assert output_path(dqn, out=weights / "ppo_new") == weights / "ppo_new"  # a new name beside them is no shipped file


def test_runs_dir_inside_the_package_is_refused(sandbox, monkeypatch, capsys):
    """``$LRGYM_RUNS`` naming the shipped folder put the default output on the shipped file (no
    ``--out``, no ``--ship``: unchecked)."""
    from lrgym.baselines import qlearning

    work, ship = sandbox
    (ship / "weights" / "qlearning_mixed.npz").write_bytes(b"shipped")
    monkeypatch.setenv(outputs.RUNS_ENV, str(ship / "weights"))
    with pytest.raises(ValueError, match=rf"^\${outputs.RUNS_ENV}={ship / 'weights'} puts .* on the shipped dqn_mixed .*"
                                         rf"valid: --ship to overwrite it on purpose, or another folder as \$LRGYM_RUNS"):
        output_path(ship / "weights" / "dqn_mixed")
    monkeypatch.setenv(outputs.RUNS_ENV, str(ship))
    with pytest.raises(ValueError, match="on the shipped tuned.json"):
        output_path(ship / "tuned.json")
    monkeypatch.setenv(outputs.RUNS_ENV, str(ship / "weights"))
    with pytest.raises(SystemExit) as exit_:
        qlearning.main(["--episodes", "1"])
    assert exit_.value.code == 2 and "on the shipped qlearning_mixed.npz" in capsys.readouterr().err
    assert (ship / "weights" / "qlearning_mixed.npz").read_bytes() == b"shipped"


def test_an_output_nothing_ships_is_never_called_shipped(tmp_path, monkeypatch):
    """``export``'s ``results.json`` and ``report``'s ``leaderboard.html`` are bare names (nothing
    ships them): ``--out results.json`` or ``--out .`` was refused as "the shipped results.json",
    offering a ``--ship`` those commands do not have."""
    monkeypatch.chdir(tmp_path)
    from pathlib import Path

    assert output_path(Path("results.json"), out=".") == Path("results.json")
    assert output_path(Path("leaderboard.html"), out="leaderboard.html") == Path("leaderboard.html")


def test_a_symbolic_link_loop_is_refused_by_name(tmp_path):
    """An ``--out`` through a symbolic link loop was a RuntimeError traceback (``Path.resolve``)."""
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    for out in (tmp_path / "loop", tmp_path / "loop" / "x.zip"):
        with pytest.raises(ValueError, match=rf"--out {out}: {tmp_path / 'loop'} is a symbolic link loop; valid: "):
            output_path(tmp_path / "weights" / "dqn_mixed", out=out)


def test_the_commands_refuse_an_out_naming_the_shipped_weights_before_training(sandbox, capsys):
    from lrgym.baselines import qlearning, train_sb3

    work, ship = sandbox
    for main, argv in ((train_sb3.main, ["--algo", "dqn", "--steps", "10", "--out", str(ship / "weights")]),
                       (qlearning.main, ["--episodes", "1", "--out", str(ship / "weights" / "qlearning_mixed")])):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2 and "is the shipped" in capsys.readouterr().err
    assert not any((ship / "weights").iterdir()) and not (work / "runs").exists()


def test_qlearning_default_and_ship(sandbox):
    from lrgym.baselines.qlearning import QLearningPolicy, main

    work, ship = sandbox
    main(["--family", "linreg", "--episodes", "2"])
    written = work / "runs" / "qlearning_linreg.npz"
    assert written.is_file() and not list((ship / "weights").iterdir())
    assert QLearningPolicy.load(written).q.shape[1] == 5
    main(["--family", "linreg", "--episodes", "2", "--ship"])
    assert [p.name for p in (ship / "weights").iterdir()] == ["qlearning_linreg.npz"]
    with pytest.raises(SystemExit):  # argparse: not allowed with each other
        main(["--family", "linreg", "--episodes", "2", "--ship", "--out", "x.npz"])


def test_train_sb3_default_ship_and_tensorboard(sandbox):
    from lrgym.baselines.sb3_agents import SB3Policy
    from lrgym.baselines.train_sb3 import main, parse_config

    work, ship = sandbox
    tiny = ["--algo", "ppo", "--family", "linreg", "--steps", "64", "--no-progress"]
    assert parse_config(tiny).ship is False and parse_config([*tiny, "--ship"]).ship is True
    main([*tiny, "--tensorboard", str(work / "tb")])
    assert sorted(p.name for p in (work / "runs").iterdir()) == ["ppo_linreg.json", "ppo_linreg.zip"]
    assert not list((ship / "weights").iterdir())
    assert list((work / "tb").rglob("events.out.tfevents.*")), "SB3 wrote no TensorBoard events"
    assert json.loads((work / "runs" / "ppo_linreg.json").read_text())["algo"] == "ppo"
    assert SB3Policy(work / "runs" / "ppo_linreg.zip").action_mode == "log_lr"
    main([*tiny, "--ship"])
    assert sorted(p.name for p in (ship / "weights").iterdir()) == ["ppo_linreg.json", "ppo_linreg.zip"]


def test_tune_default_keeps_the_shipped_values_and_ship_replaces_them(sandbox, monkeypatch, capsys):
    from lrgym.baselines import tune
    from lrgym.baselines.tune import main

    work, ship = sandbox
    shipped_before = json.loads((ship / "tuned.json").read_text())
    tiny = ["--families", "linreg", "--baselines", "fixed", "--instances", "1", "--workers", "1"]
    main(tiny)
    out = json.loads((work / "runs" / "tuned.json").read_text())
    assert json.loads((ship / "tuned.json").read_text()) == shipped_before  # untouched without --ship
    assert out["settings"]["linreg"]["instances"] == [0]  # the re-tuned family: this run's settings
    # every other family keeps its shipped values (runs/tuned.json is a complete file)
    for name, per_family in shipped_before["values"].items():
        for family, values in per_family.items():
            if (name, family) != ("fixed", "linreg"):
                assert out["values"][name][family] == values
    # a shortened tuning is never shipped as the baselines' values (it was, with the shipped settings replaced)
    for flags, said in ((["--ship"], "--ship with --instances 1: the shipped values are tuned on 32 train instances"),
                        (["--ship", "--instances", "32", "--seeds", "0", "1"], "--ship with --seeds 0 1: the shipped values are tuned with "
                                                          "env seeds 0; valid: --ship without --seeds")):
        with pytest.raises(SystemExit) as stop:
            main([*tiny, *flags])
        assert stop.value.code == 2 and said in capsys.readouterr().err
        assert json.loads((ship / "tuned.json").read_text()) == shipped_before
    monkeypatch.setattr(tune, "INSTANCES", 1)  # a protocol of one instance: this run is all of it
    main([*tiny, "--ship"])
    shipped_after = json.loads((ship / "tuned.json").read_text())
    assert shipped_after["values"]["fixed"]["linreg"] == out["values"]["fixed"]["linreg"]
    assert np.isfinite(shipped_after["train_scores"]["fixed"]["linreg"])


# ---- replace_file: the one way a kept file is written ----------------------------------------------


def test_replace_file_writes_text_and_bytes_with_its_mode_and_never_looser_than_before(tmp_path):
    old = os.umask(0o022)
    try:
        text = outputs.replace_file(tmp_path / "a.json", "é\n")
        assert text.read_bytes() == "é\n".encode() and text.stat().st_mode & 0o777 == 0o644
        blob = outputs.replace_file(tmp_path / "b.npz", b"\x00\xff", 0o666)
        assert blob.read_bytes() == b"\x00\xff" and blob.stat().st_mode & 0o777 == 0o644  # less the umask
        os.chmod(text, 0o600)
        outputs.replace_file(text, "new", 0o644)
        assert text.read_text() == "new" and text.stat().st_mode & 0o777 == 0o600  # owner-only stays so
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.npz"]  # no temporary file left


def test_replace_file_stopped_half_way_leaves_the_old_file_whole_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "tuned.json"
    path.write_text("the old values")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        outputs.replace_file(path, "x" * 100_000)
    assert path.read_text() == "the old values" and os.listdir(tmp_path) == ["tuned.json"]


def test_replace_file_syncs_only_when_asked_and_never_writes_a_kept_file_in_place(tmp_path, monkeypatch):
    import tempfile

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    outputs.replace_file(tmp_path / "plain", "x")
    assert synced == []
    outputs.replace_file(tmp_path / "result", "x", sync=True)
    assert len(synced) == 1

    def no_new_files(*args, **kwargs):  # a folder that takes no new file (as another account's)
        raise PermissionError(13, "Permission denied", str(kwargs.get("dir")))

    monkeypatch.setattr(tempfile, "mkstemp", no_new_files)
    with pytest.raises(PermissionError):  # write_output would write this user-named output in place
        outputs.replace_file(tmp_path / "plain", "written in place?")
    assert (tmp_path / "plain").read_text() == "x"


def _saved_policies(path):
    """Each command's own file writer, asked to write ``path``."""
    from lrgym.baselines.controller import ControllerNet
    from lrgym.baselines.mlp_policy import MLPPolicy
    from lrgym.baselines.qlearning import Discretiser, QLearningPolicy

    rng = np.random.default_rng(0)
    net = ControllerNet(hidden=(2,), max_step=0.5)
    net.theta = rng.normal(size=net.n_params)
    yield "controller", lambda: net.save(path)
    mlp = MLPPolicy([(rng.normal(size=(3, 2)), rng.normal(size=2), "linear")], name="m")
    yield "mlp", lambda: mlp.save(path)
    table = QLearningPolicy(np.zeros((Discretiser().n_states, 5)))
    yield "qlearning", lambda: table.save(path)


@pytest.mark.parametrize("kind", ["controller", "mlp", "qlearning"])
def test_saving_weights_replaces_a_link_at_their_path_and_never_writes_through_it(tmp_path, kind):
    """Weights were written with ``open(path, "wb")`` (or NumPy's and pathlib's): through a
    symbolic link at their path, and half a file when the run was stopped while writing."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    path = tmp_path / "weights.npz"
    path.symlink_to(victim)
    save = dict(_saved_policies(path))[kind]
    written = save()
    assert victim.read_bytes() == b"keep me"
    assert written == path and not path.is_symlink() and path.read_bytes()[:2] == b"PK"  # an .npz (a zip)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_an_out_in_a_folder_that_takes_no_file_is_refused_before_training(tmp_path, monkeypatch, capsys):
    """``--out /proc/x`` passed the check as root (``os.access`` says yes to root there) and the
    command lost its result to the write after the whole run; a file is now made and removed to
    try the folder (as another user, ``os.access`` already refuses it)."""
    from lrgym.baselines import qlearning

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        qlearning.main(["--episodes", "1", "--out", "/proc/lrgym-x"])
    err = " ".join(capsys.readouterr().err.split())
    assert exit_.value.code == 2, err
    assert "/proc is not a folder you can write to" in err or "/proc takes no new file" in err, err
    assert not (tmp_path / "runs").exists()
    outputs.check_can_write(tmp_path / "x.json", "--out")  # a folder that takes one: fine, and left as it was
    assert list(tmp_path.iterdir()) == []


def test_part_run_problem_refuses_only_a_part_of_the_whole():
    """--ship/--write over a shipped file with an option narrowing the run is refused by name; the
    option left out, or given as the whole (in any order), is not."""
    from lrgym.baselines.outputs import part_run_problem

    whole = ["linreg", "quadratic", "mlp"]
    assert part_run_problem("--ship", "--families", None, whole, "all") is None
    assert part_run_problem("--ship", "--families", ["mlp", "linreg", "quadratic"], whole, "all") is None
    msg = part_run_problem("--ship", "--families", ["mlp"], whole, "the file holds all", " (writes runs/x/)")
    assert msg == ("--ship with --families mlp: the file holds all; valid: --ship without --families, "
                   "or --families without --ship (writes runs/x/)")
    assert part_run_problem("--ship", "--seeds", 5, 5, "five") is None
    assert part_run_problem("--ship", "--seeds", 2, 5, "five").startswith("--ship with --seeds 2: five;")
    assert part_run_problem("--ship", "--quick", False, False, "full") is None
    assert part_run_problem("--ship", "--quick", True, False, "full").startswith("--ship with --quick: full;")


def test_replace_files_writes_every_new_file_before_renaming_any(tmp_path):
    """A model zip and its sidecar are replaced together: when the second file cannot be made,
    the first keeps its old content (it was renamed first, leaving a new zip beside an old
    sidecar), and no new file is left behind."""
    from lrgym.baselines.outputs import replace_files

    zip_path, json_path = tmp_path / "m.zip", tmp_path / "m.json"
    zip_path.write_bytes(b"old zip")
    json_path.write_text("old json")
    with pytest.raises(TypeError):
        replace_files({zip_path: b"new zip", json_path: 12345})  # no str or bytes: fails before any rename
    assert (zip_path.read_bytes(), json_path.read_text()) == (b"old zip", "old json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.zip"]
    assert replace_files({zip_path: b"new zip", json_path: "new json"}) == [zip_path, json_path]
    assert (zip_path.read_bytes(), json_path.read_text()) == (b"new zip", "new json")


def test_replace_files_is_not_cut_between_its_renames_by_a_stop_signal(tmp_path):
    """SIGTERM arriving between the renames (here: sent by the first one) is raised after the
    last: both files are new (in a fresh interpreter: the signal is sent to it)."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from lrgym.baselines import outputs
        from lrgym.baselines.interrupts import Interrupted, stop_signals_interrupt

        real = os.replace
        def replace(src, dst):
            real(src, dst)
            os.kill(os.getpid(), signal.SIGTERM)  # between the first rename and the second
        outputs.os.replace = replace
        a, b = Path({str(tmp_path / "a")!r}), Path({str(tmp_path / "b")!r})
        try:
            with stop_signals_interrupt():
                outputs.replace_files({{a: "new a", b: "new b"}})
        except Interrupted:
            print("interrupted", a.read_text(), b.read_text())
    """)
    (tmp_path / "a").write_text("old a")
    (tmp_path / "b").write_text("old b")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "interrupted new a new b", out.stderr


def test_an_out_naming_an_existing_file_in_a_folder_that_takes_no_file_is_refused_before_tuning(
        tmp_path, monkeypatch, capsys):
    """tune and the trainers write by replace_file only (a new file renamed over the old), so an
    existing file the user may write is no way around a folder that takes no new file; it passed
    the check (write_output's exception: it writes such a file in place) and the whole run was
    lost to the write (``tune --out /proc/cpuinfo`` as root: FileNotFoundError; one's own file in
    another account's folder: PermissionError). The leaderboard's outputs, written in place there,
    still pass."""
    from lrgym.baselines import tune

    existing = tmp_path / "tuned.json"
    existing.write_text("{}")
    monkeypatch.setattr(outputs, "_takes_a_new_file", lambda folder: False)  # (as another account's folder)
    monkeypatch.setattr(tune, "tune", lambda *a, **k: pytest.fail("tuned before refusing its --out"))
    with pytest.raises(SystemExit) as exit_:
        tune.main(["--families", "quadratic", "--out", str(existing)])
    err = " ".join(capsys.readouterr().err.split())
    assert exit_.value.code == 2, err
    assert f"--out {existing}: {tmp_path} takes no new file" in err and "existing file" not in err, err
    outputs.check_can_write(existing, "--markdown", in_place=True)  # write_output writes it in place: fine
    assert existing.read_text() == "{}"


@pytest.mark.skipif(not os.path.isfile("/proc/cpuinfo") or os.geteuid() != 0, reason="root on Linux's /proc")
def test_an_existing_proc_file_is_no_out_of_a_trainer():
    """Root may write /proc/cpuinfo by ``os.access``, and /proc takes no new file: replace_file's
    FileNotFoundError after the run. Refused before it."""
    with pytest.raises(ValueError, match="/proc takes no new file"):
        outputs.output_path(outputs.SHIPPED_TUNED, out="/proc/cpuinfo")


def test_a_stream_or_device_is_no_out_of_a_trainer(tmp_path, monkeypatch, capsys):
    """A trainer or tune writes by replace_file, a new file renamed over the path: a stream or a
    device passed the check (written in place by write_output, which they do not use), and as
    root ``train_controller --out /dev/null`` replaced the machine's /dev/null with its weights.
    A FIFO stands for the device here (the real /dev is never at risk); refused before the run,
    and left as it was. The leaderboard's outputs still write streams in place."""
    import stat

    import lrgym.baselines.train_controller as tc

    fifo = tmp_path / "stream"
    os.mkfifo(fifo)
    monkeypatch.setattr(tc, "train", lambda *a, **k: pytest.fail("trained before refusing its --out"))
    with pytest.raises(SystemExit) as exit_:
        tc.main(["--out", str(fifo)])
    err = " ".join(capsys.readouterr().err.split())
    assert exit_.value.code == 2, err
    assert f"--out {fifo}: {fifo} is a stream or a device (not a regular file)" in err, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.listdir(tmp_path) == ["stream"]
    with pytest.raises(ValueError, match="is a stream or a device"):
        outputs.output_path(outputs.SHIPPED_TUNED, out="/dev/null")
    assert outputs.output_path(Path("board.md"), out=fifo, option="--markdown", in_place=True) == fifo


def test_a_file_of_the_users_beside_an_out_is_not_replaced(tmp_path, monkeypatch, capsys):
    """The trainers write files beside --out that the user never named (a sidecar, a submission
    file): ``train_controller --out policy.npz`` replaced the user's own ``policy.py`` with its
    submission file, ``train_sb3 --out notes`` their ``notes.json``, ``train_rllib --out agent``
    their ``agent.py``. Such a file is refused before the run, left as it was; a file an earlier
    run of the command wrote there is replaced as before."""
    from lrgym.baselines import train_controller, train_rllib, train_sb3
    from lrgym.baselines.config_checks import ConfigError
    from lrgym.baselines.outputs import companion_problem

    monkeypatch.chdir(tmp_path)
    own = tmp_path / "policy.py"
    own.write_text("class MyPolicy: ...\n")
    monkeypatch.setattr(train_controller, "train", lambda *a: pytest.fail("trained"))
    with pytest.raises(SystemExit) as stop:
        train_controller.main(["--out", "policy.npz"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "policy.py is a file this command did not write: it would be replaced" in err, err
    notes = tmp_path / "notes.json"
    notes.write_text('{"my": "notes"}')
    with pytest.raises(SystemExit):
        train_sb3.parse_config(["--algo", "dqn", "--out", "notes"])
    assert "notes.json is a file this command did not write" in capsys.readouterr().err
    (tmp_path / "agent.py").write_text("x = 1\n")
    with pytest.raises(ConfigError, match="agent.py is a file this command did not write"):
        train_rllib.train(train_rllib.parse_config(["--out", "agent", "--steps", "10", "--no-progress"]),
                          log=lambda m: None)
    assert (own.read_text(), notes.read_text(), (tmp_path / "agent.py").read_text()) == (
        "class MyPolicy: ...\n", '{"my": "notes"}', "x = 1\n")
    # what the commands write themselves is theirs to replace (the shipped files, every one)
    from lrgym.baselines.controller import submission_source

    (tmp_path / "mine.py").write_text(submission_source(b"npz", name="c"))
    assert companion_problem(tmp_path / "mine.py", "mine.npz", (train_controller.SUBMISSION_MARK,)) is None
    assert companion_problem(outputs.SHIPPED_WEIGHTS / "controller_mixed.json", "x", (train_controller.SIDECAR_MARK,)) is None
    for algo in ("dqn", "ppo"):
        assert companion_problem(outputs.SHIPPED_WEIGHTS / f"{algo}_mixed.json", "x", (b'"trained_on"',)) is None
    assert companion_problem(tmp_path / "absent.json", "x", (b"x",)) is None
    (tmp_path / "dir.py").mkdir()
    assert "no regular file" in companion_problem(tmp_path / "dir.py", "dir.npz", (b"x",))
