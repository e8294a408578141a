"""The client matrix's TorchRL rows tell the truth: a client is ✅ only when every frame it
collected equals what ``gym.make`` envs give for the same seeds and actions (``gym_make_steps``,
an independent reference), so TorchRL 0.14.1's own ``GymEnv(id, num_envs=4)``, which the matrix
timed as ✅ until 2026-12-07 although its episode ends are wrong, is ❌ with the reason, and the
README's recipe (``GymWrapper`` over lrgym's vector env, autoreset disabled) is ✅. And
``--merge`` re-runs some rows without touching the others."""

import platform
import re

import pytest

pytest.importorskip("torchrl.envs", reason="the torchrl extra: pip install 'lrgym[torchrl]'")

from benchmarks.clients import matrix  # noqa: E402


def test_the_readmes_torchrl_recipe_is_checked_against_gym_make_and_works():
    row = matrix.run_client("torchrl", 512)  # 128 steps per sub-env: two episode ends each
    assert row["works"], row.get("error")
    assert row["steps"] == 512 and "GymWrapper" in row["note"] and "to the bit" in row["note"]


def test_torchrls_gymenv_with_num_envs_is_a_failed_row_naming_the_wrong_steps():
    row = matrix.run_client("torchrl-gymenv", 512)
    assert not row["works"]
    # the step that ends an episode: TorchRL puts zeros where gym.make's final observation is
    assert "differ from `gym.make`'s on the same actions" in row["error"], row["error"]
    assert re.search(r"next observation all zeros at sub-env \d step \d+ \(an episode.s last step\)", row["error"]), row["error"]
    # the step after it: a transition that never happened (the action ignored, reward 0)
    assert "reward 0 (gym.make" in row["error"] and "(after an episode's end)" in row["error"], row["error"]
    assert "torchrl-gymenv" in matrix.KNOWN_BROKEN  # its ❌ does not fail `make clients`


def test_the_check_finds_one_changed_value_in_a_right_rollout():
    """``torchrl_steps_wrong`` on a right rollout is None; change one reward, one observation
    or one flag and it names that step, and where it lies against an episode's end."""
    import gymnasium as gym
    import torch
    from torchrl.envs import GymWrapper

    import lrgym  # noqa: F401  (registers the ids)

    venv = gym.make_vec(matrix.ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", autoreset_mode="Disabled")
    env = GymWrapper(venv, categorical_action_encoding=True)
    torch.manual_seed(0)
    env.set_seed(0)
    td = env.rollout(60, break_when_any_done=False)  # an episode end or more per sub-env (horizon 50)
    env.close()
    assert matrix.torchrl_steps_wrong(td) is None
    i, t = (int(x) for x in td["next", "done"].squeeze(-1).nonzero()[0])  # the first episode end
    for key, at, expected in (
        (("next", "reward"), (1, 7), "reward"),
        (("next", "observation"), (i, t), f"next observation differs at sub-env {i} step {t} (an episode's last step)"),
        ("observation", (i, t + 1), f"root observation differs at sub-env {i} step {t + 1} (after an episode's end)"),
        (("next", "terminated"), (0, 5), "terminated 1 (gym.make 0) at sub-env 0 step 5"),
        ("observation", (1, 0), "root observation differs at sub-env 1 step 0 (the first step: the seeded reset, no episode end involved)"),
    ):
        bad = td.clone()
        value = bad[key]
        if value.dtype == torch.bool:
            value[at] = ~value[at]
        else:
            value[at] = value[at] + 1
        message = matrix.torchrl_steps_wrong(bad)
        assert message is not None and message.startswith("1 of 120 steps differ") and expected in message, message


def row(client: str, works: bool, rate: float) -> dict:
    out = {"client": client, "package": "pkg", "version": "1.0", "works": works}
    return {**out, "steps": 4096, "steps_per_s": rate, "note": "old"} if works else {**out, "error": "E: broke"}


def test_merge_replaces_only_the_named_rows_and_keeps_the_others_to_the_byte():
    old_rows = [row("sb3", True, 1000), row("torchrl", True, 500), row("gymnasium-utils", True, 1900)]
    report = "`make clients` on 2026-12-04 19:58 UTC: the header.\n\n" + matrix.table(old_rows) + "\n"
    new = [row("torchrl", True, 450), row("torchrl-gymenv", False, 0)]
    merged = matrix.merge_rows(report, new, "Rows re-run.")
    old_lines, lines = report.splitlines(), merged.splitlines()
    assert lines[0] == "`make clients` on 2026-12-04 19:58 UTC: the header. Rows re-run."
    assert lines[2:4] == old_lines[2:4]  # the table's head
    new_lines = matrix.table(new).splitlines()[2:]
    # CLIENTS' order: sb3 ... torchrl, torchrl-gymenv, gymnasium-utils
    assert lines[4:] == [old_lines[4], new_lines[0], new_lines[1], old_lines[6]]
    # merging again (the same rows) changes the rows no further
    assert matrix.merge_rows(merged, new, "Again.").splitlines()[4:] == lines[4:]


def test_merge_needs_only(capsys):
    with pytest.raises(SystemExit):
        matrix.main(["--merge"])
    assert "--merge replaces the rows of the clients given with --only" in capsys.readouterr().err


def test_a_second_merge_of_a_row_takes_it_out_of_the_first_merges_note():
    """Each ``--merge`` appends a note to the header naming its rows; merging TorchRL again used to
    leave the first note naming it too, so the header said the row was run at both times (and the
    first run's step count). Now a row is named by the note of its latest run only, the note gives
    its env steps per client, and a note whose rows were all run again is gone."""
    gymenv = "TorchRL `GymEnv(id, num_envs=4)`"  # a label holding ", " itself
    report = "`make clients` on 2026-12-04 19:58 UTC: 4,096 env steps per client.\n\n" + matrix.table(
        [row("sb3", True, 1000), row("torchrl", True, 500), row("torchrl-gymenv", False, 0)]) + "\n"
    both = matrix.rerun_note(["torchrl", "torchrl-gymenv"], "2026-12-07 07:40", 4096, 15.5, "py")
    first = matrix.merge_rows(report, [row("torchrl", True, 400), row("torchrl-gymenv", False, 0)], both)
    again = matrix.rerun_note(["torchrl"], "2026-12-07 08:13", 256, 5.9, "py")
    second = matrix.merge_rows(first, [row("torchrl", True, 450)], again)
    header = second.split("\n\n")[0]
    assert header == (
        "`make clients` on 2026-12-04 19:58 UTC: 4,096 env steps per client."
        f" Rows {gymenv}: run again on 2026-12-07 07:40 UTC with 4,096 env steps per client"
        " (`--only torchrl --only torchrl-gymenv --merge`, Python " + platform.python_version() + " `py`, load average"
        " 15.5 at the start); the other rows are from the run named first."
        " Rows TorchRL: run again on 2026-12-07 08:13 UTC with 256 env steps per client (`--only torchrl --merge`,"
        " Python " + platform.python_version() + " `py`, load average 5.9 at the start); the other rows are from"
        " the run named first.")
    assert second.split("\n\n")[1] == matrix.merge_rows(first, [row("torchrl", True, 450)], "x").split("\n\n")[1]
    third = matrix.merge_rows(second, [row("torchrl", True, 460), row("torchrl-gymenv", False, 0)], both)
    assert third.split("\n\n")[0] == "`make clients` on 2026-12-04 19:58 UTC: 4,096 env steps per client. " + both
