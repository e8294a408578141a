"""What the published outputs say: no folder of a submitter's.

A review (2026-12-06): the HTML report's "Entries" section showed each submission's source as the
path the grader read it from (``/home/alice/...``), and failure reasons named it too ("importing
/home/alice/.../pol.py:X raised ...") in the page, ``LEADERBOARD.md``, the terminal table and the
export.
"""

from __future__ import annotations

import io
import json

import pytest
from lb_helpers import synthetic_entry, synthetic_runs, tiny_suite

from lrgym.leaderboard import report
from lrgym.leaderboard.export import tables
from lrgym.leaderboard.public_source import public_source, without_folders
from lrgym.leaderboard.ranking import build_leaderboard
from lrgym.leaderboard.runner import summarize
from lrgym.leaderboard.store import ResultStore

HOME = "/home/alice"
FOLDER = f"{HOME}/secret-project"
SUITE = tiny_suite("public", families=("quadratic",), n_instances=1, seeds=(0, 1))


def submitted(target: str, kind: str = "object") -> dict:
    """The env_spec the grader stores for a submission (runner._finish)."""
    policy = {"kind": "sb3", "path": target} if kind == "sb3" else {"kind": "object", "target": target}
    return {"suite": SUITE.to_dict(), "policy": policy, "source": target}


@pytest.fixture()
def board(tmp_path):
    runs = synthetic_runs(SUITE, [[0.5], [0.6]])
    summary = summarize(runs, SUITE, reps=50)
    with ResultStore(tmp_path / "r.sqlite") as store:
        for name, spec in (("mine", submitted(f"{FOLDER}/pol.py:Mine")),
                           ("zipped", submitted(f"{FOLDER}/models/agent.zip", "sb3")),
                           ("installed", submitted("mypkg.pol:Policy"))):
            store.add_entry(synthetic_entry(SUITE, name, "submission", env_spec=spec, summary=summary,
                                            policy_source_hash="ab" * 32), runs)
        store.record_failure("broken", "submission", f"importing {FOLDER}/bad.py:X raised RuntimeError: boom\n"
                             "Traceback ...", suite_version=SUITE.version, env_spec=submitted(f"{FOLDER}/bad.py:X"))
        store.record_failure("linked", "submission", f"submission directory {HOME} is a symbolic link; give the real "
                             "path", suite_version=SUITE.version, env_spec=submitted(f"{FOLDER}/p.py:P"))
        yield store, build_leaderboard(store, SUITE, reps=50)


def outputs(store, lb) -> dict[str, str]:
    from rich.console import Console

    buf = io.StringIO()
    report.print_table(lb, Console(file=buf, width=400, color_system=None))
    return {"html": report.html_page(lb, with_plots=False), "markdown": report.markdown(lb),
            "terminal": buf.getvalue(), "export": json.dumps(tables(store, SUITE.version, every_entry=True))}


def test_no_output_names_a_folder_of_the_submitter(board):
    store, lb = board
    for kind, text in outputs(store, lb).items():
        assert HOME not in text and "secret-project" not in text, kind
    page = outputs(store, lb)["html"]
    # what identifies each entry instead: its name, its file's name (or module) and its files' hash
    for source in ("pol.py:Mine", "agent.zip", "mypkg.pol:Policy"):
        assert f"<li>source: <code>{source}</code></li>" in page
    assert page.count("ab" * 32) == 3
    assert "importing bad.py:X raised RuntimeError: boom" in page
    assert "submission directory … is a symbolic link" in page
    exported = {e["name"]: e["failure_reason"] for e in json.loads(outputs(store, lb)["export"])["entries"]}
    assert exported["broken"].startswith("importing bad.py:X raised RuntimeError: boom")
    # the store keeps the grader's own record
    kept = {e.name: e for e in store.entries()}
    assert kept["mine"].env_spec["source"] == f"{FOLDER}/pol.py:Mine"
    assert kept["broken"].failure_reason.startswith(f"importing {FOLDER}/bad.py:X")


@pytest.mark.parametrize("text, expected", [
    (f"{FOLDER}/pol.py:Mine", "pol.py:Mine"),
    (f"cannot read submission file {FOLDER}/sub/x.py: Permission denied", "cannot read submission file sub/x.py: "
                                                                           "Permission denied"),
    (f"submission too large: {FOLDER} holds more than 64 MB", "submission too large: … holds more than 64 MB"),
    (f"see {HOME}/other/notes.txt and {HOME}", "see …/other/notes.txt and …"),
    (f"{FOLDER}-old/x.py and /home/alicette/y.py", "…/secret-project-old/x.py and /home/alicette/y.py"),
    ("no path here", "no path here"),
])
def test_the_submitters_folders_are_taken_out_of_a_text(text, expected):
    assert without_folders(text, submitted(f"{FOLDER}/pol.py:Mine")) == expected
    assert without_folders(text, submitted("mypkg.pol:Policy")) == text  # no file: nothing to take out
    assert without_folders(text, {"policy": {"kind": "baseline", "name": "fixed"}}) == text
    assert public_source({"source": "lrgym.baselines.registry:fixed", "policy": {"kind": "baseline"}}) == \
        "lrgym.baselines.registry:fixed"
