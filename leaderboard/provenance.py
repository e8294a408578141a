"""Which shipped files the board's baseline rows were made from, and which rows are stale.

A baseline entry records the SHA-256s of the shipped tuned values and weights it ran
(``env_spec["inputs"]``, written by the worker from
:func:`lrgym.baselines.registry.shipped_inputs`). After a retune or a retrain those files
change and the stored rows are of other policies: :func:`stale_baselines` names them and
:func:`stale_note` says so in one sentence, which the terminal table, ``LEADERBOARD.md`` and the
HTML page all print.
"""

from __future__ import annotations

from lrgym.leaderboard.ranking import Leaderboard

__all__ = ["baseline_inputs", "stale_baselines", "stale_note"]


def baseline_inputs(lb: Leaderboard) -> dict[str, set[str]]:
    """File → SHA-256s of the shipped tuned values and weights the board's baseline entries ran
    (recorded by the worker, :func:`lrgym.baselines.registry.shipped_inputs`). One hash per file
    unless the board mixes entries run before and after a retune or a retrain."""
    out: dict[str, set[str]] = {}
    for r in lb.rows:
        if r.entry.kind == "baseline":
            for name, digest in ((r.entry.env_spec or {}).get("inputs") or {}).items():
                out.setdefault(str(name), set()).add(str(digest))
    return dict(sorted(out.items()))


def stale_baselines(lb: Leaderboard) -> list[str]:
    """Baseline rows not made from the tuned values / weights this install ships: the files
    their entries recorded (``env_spec["inputs"]``) differ from
    :func:`lrgym.baselines.registry.shipped_inputs`, or were not recorded (entries of an lrgym
    that did not record them). After a retune or a retrain their numbers are of other policies.
    A suite file naming a tuned.json of your own (``"tuned"``) compares its tuned rows with that file."""
    from lrgym.baselines.registry import BASELINES, shipped_inputs

    tuned = getattr(lb.suite, "tuned", None)  # a suite file's own tuned values: what run-baselines runs
    return [r.entry.name for r in lb.rows if r.entry.kind == "baseline" and r.entry.name in BASELINES
            and ((r.entry.env_spec or {}).get("inputs") or {}) != shipped_inputs([r.entry.name], tuned=tuned)]


def stale_note(lb: Leaderboard) -> str | None:
    """One sentence naming the :func:`stale_baselines`, or None; the files it names are those the
    rows are compared with: a suite file's own tuned values (by file name) if it has them."""
    from pathlib import Path

    stale = stale_baselines(lb)
    if not stale:
        return None
    tuned = getattr(lb.suite, "tuned", None)
    files = (f"the tuned values of {Path(tuned).name} (the suite file's \"tuned\") or the weights this install ships"
             if tuned else "the tuned values or weights this install ships")
    return (f"Note: the row(s) of {', '.join(stale)} were not made from {files} (they changed since, or the "
            f"entry did not record them); `{_run_again(lb.suite)}` runs them again.")


def _run_again(suite) -> str:
    """The command that grades ``suite``'s baselines again (a suite file's and a private suite's
    with a placeholder: the board knows the definition, not where the grader keeps the file)."""
    from lrgym.leaderboard.private import is_private_version
    from lrgym.leaderboard.suite import DEFAULT_SUITE, SUITES

    command = "lrgym leaderboard run-baselines"
    if is_private_version(suite.version):
        return command + " --private KEYFILE"
    if SUITES.get(suite.name) != suite:
        return command + " --suite SUITE_FILE.json"
    return command if suite.name == DEFAULT_SUITE else f"{command} --suite {suite.name}"
