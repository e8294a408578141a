"""A submission folder's file count and file names (a red team's probes, 2026-12-06).

* count: the 64 MB budget bounds a submission's bytes, not its files. 200,000 empty ``.py`` files
  with 250-character names beside an honest policy cost the budget nothing, yet each was listed,
  read, sent into the sandbox and written there by the grader's processes, outside the sandbox's
  limits (a one-worker grading of two 6-step episodes took 97 s instead of 10 s, 310 MB); it was
  graded. Now more than ``MAX_SUBMISSION_FILES`` files are refused, by ``submit`` before anything
  runs and by the worker.
* names: a file named with bytes that are not UTF-8 (``b"pol\\xfe.py"``, which Python lists as a
  lone surrogate) beside the policy, or as the policy, failed the entry with the grader's own
  ``UnicodeEncodeError`` and traceback (its source hash encodes the names), after ``submit``'s
  check had let it through. Now both refuse it, naming the file.

The reference of each refusal is the folder as the test made it (how many files, which name).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from lb_helpers import tiny_suite

from lrgym.leaderboard.failures import PolicyError
from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import checked_submission, run_suite, submission_spec
from lrgym.leaderboard.submission_files import MAX_SUBMISSION_FILES, read_policy_files, read_sb3_files

KEEP = "class Keep:\n    name = 'keep'\n    def reset(self, info):\n        pass\n    def act(self, obs, info):\n        return 1\n"
BAD_NAME = b"pol\xfe.py"  # not UTF-8


def _folder(where: Path, siblings: int, bad_name: bool = False) -> Path:
    """A policy file and ``siblings`` empty ``.py`` files beside it (and a file named with non-UTF-8
    bytes, if ``bad_name``); returns the policy file."""
    where.mkdir()
    (where / "policy.py").write_text(KEEP)
    for i in range(siblings):
        (where / f"m{i:05d}.py").touch()
    if bad_name:
        with open(os.path.join(os.fsencode(where), BAD_NAME), "wb") as f:
            f.write(b"X = 1\n")
    return where / "policy.py"


def test_the_policy_file_and_the_py_files_beside_it_are_read_up_to_the_limit_and_refused_beyond(tmp_path):
    at_limit = _folder(tmp_path / "at", MAX_SUBMISSION_FILES - 1)
    files = read_policy_files(at_limit)
    assert len(files) == MAX_SUBMISSION_FILES and next(iter(files)) == "policy.py"
    over = _folder(tmp_path / "over", MAX_SUBMISSION_FILES)
    with pytest.raises(PolicyError, match=rf"too many files: .*over holds more than {MAX_SUBMISSION_FILES} \.py files"
                                          rf".*valid: at most {MAX_SUBMISSION_FILES}"):
        read_policy_files(over)
    # submit's check (before anything runs) says the same, as a ValueError (exit 2)
    with pytest.raises(ValueError, match=r"too many files.*refused before anything ran"):
        checked_submission(submission_spec(f"{over}:Keep", "many"))
    assert checked_submission(submission_spec(f"{at_limit}:Keep", "at-limit"))[0].name == "at-limit"


def test_a_file_name_that_is_not_utf8_is_refused_by_name_beside_the_policy_as_the_policy_and_as_a_zip(tmp_path):
    path = _folder(tmp_path / "sub", 0, bad_name=True)
    shown = r"submission file b'pol\\xfe\.py' in .*sub has a name that is not valid UTF-8; valid: file names in UTF-8"
    with pytest.raises(PolicyError, match=shown):
        read_policy_files(path)  # a sibling
    as_policy = os.fsdecode(os.path.join(os.fsencode(tmp_path / "sub"), BAD_NAME))
    with pytest.raises(PolicyError, match=shown):
        read_policy_files(Path(as_policy))  # the policy file itself
    with pytest.raises(ValueError, match=shown):
        checked_submission(submission_spec(f"{path}:Keep", "bad-sibling"))
    zipped = os.path.join(os.fsencode(tmp_path), b"m\xff.zip")
    with open(zipped, "wb") as f:
        f.write(b"PK\x05\x06" + bytes(18))  # (never opened as a zip: its name is refused first)
    with pytest.raises(PolicyError, match=r"b'm\\xff\.zip' .*not valid UTF-8"):
        read_sb3_files(Path(os.fsdecode(zipped)))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")
def test_the_grader_records_both_as_failed_entries_with_the_reason_not_a_grader_error(tmp_path):
    """The probes themselves, through run_suite (the worker reads the folder as submit's check does):
    before, the first was graded and the second failed with the grader's traceback."""
    suite = tiny_suite("folders", families=("quadratic",), n_instances=1, seeds=(0,), horizon=4, inner_steps=2)
    many = _folder(tmp_path / "many", MAX_SUBMISSION_FILES)
    bad = _folder(tmp_path / "bad", 0, bad_name=True)
    honest = _folder(tmp_path / "honest", 3)
    outcomes = run_suite([submission_spec(f"{p}:Keep", name) for p, name in ((many, "many"), (bad, "bad"),
                                                                               (honest, "honest"))],
                         suite, references=load_references(suite, n_workers=1), n_workers=1, time_limit=300)
    reasons = {o.spec.name: (o.ok, o.entry.failure_reason) for o in outcomes}
    assert reasons["honest"] == (True, None)
    ok, reason = reasons["many"]
    assert not ok and f"holds more than {MAX_SUBMISSION_FILES} .py files" in reason
    ok, reason = reasons["bad"]
    assert not ok and "has a name that is not valid UTF-8" in reason and "b'pol\\xfe.py'" in reason
    assert "grader error" not in reason and "Traceback" not in reason
