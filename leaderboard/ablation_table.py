"""The learned controller's ablation table (README, "The learned controller"), in one command::

    lrgym leaderboard controller-ablation                                   # the shipped weights, suite val
    lrgym leaderboard controller-ablation --submission runs/controller_mixed.py   # a run's weights
    lrgym leaderboard controller-ablation --no-grade                        # the table of what the store holds

Its rows: the trained controller; the same weights with every parameter random and with each
input group held at 0 (not retrained: :mod:`lrgym.baselines.controller_ablation`, or the classes a
run's submission file holds); and, for scale, two hand-designed baselines. Each is graded as the
leaderboard grades it (the ablations as sandboxed submissions) into the results store, and the
table is made from the stored runs: per row the IQM of all runs with its 95 % CI (the summary's
``iqm``: :func:`lrgym.leaderboard.scoring.stratified_bootstrap_ci`, the board's bootstrap) to 3
decimals, per family IQM / mean / divergence rate, the mean and the divergence rate of all runs.
It writes nothing but the store's entries.

Every row but those for scale is the controller's weights, which are per family: a suite with a
family they have no terms for (a family of one's own, README "Adding a task family") is refused
before anything runs (:func:`unfit_suite`), as ``run-baselines`` leaves the controller out there.
"""

from __future__ import annotations

from dataclasses import dataclass

from lrgym.baselines.controller import INPUT_GROUPS, SUBMISSION_CLASS
from lrgym.baselines.controller_ablation import ablation_name

__all__ = ["AblationRow", "FOR_SCALE", "GROUP_LABELS", "ablation_rows", "markdown_table", "unfit_suite"]

#: the baselines graded beside the ablations, for scale
FOR_SCALE = ("bold_driver", "plateau")
#: the table's words for each masked input group
GROUP_LABELS = {
    "loss": "no `loss` inputs (6: loss levels, last changes, val/train gap)",
    "noise": "no `noise` input (loss spread)",
    "gradient": "no `gradient` inputs (norm, its change, cosine)",
    "lr_time": "no `lr_time` inputs (LR moved so far, progress)",
    "rejected": "no `rejected` input (the env still undoes bad steps)",
    "family": "no `family` terms (b_f, p_f, start factor; the base LR stays per family)",
}
RANDOM_LABEL = "random weights (N(0, s²), s = std of the trained ones; one draw)"


@dataclass
class AblationRow:
    label: str
    #: the entry's name on the board
    name: str
    #: what grades it: a registered baseline's name (``kind="baseline"``) or a submission target
    target: str
    kind: str = "submission"


def ablation_rows(submission: str | None = None) -> list[AblationRow]:
    """The table's rows: of the shipped weights (the ``controller`` baseline and
    :mod:`lrgym.baselines.controller_ablation`'s classes, named ``controller-no-<group>`` and
    ``controller-random``), or of a run's ``submission`` file (``runs/controller_mixed.py``: its
    ``TrainedController`` and the ablation classes ``train_controller`` wrote into it, named as the
    file declares them: ``<name>-no-<group>``)."""
    if submission is None:
        rows = [AblationRow("**controller** (trained)", "controller", "controller", "baseline"),
                AblationRow(RANDOM_LABEL, "controller-random", "lrgym.baselines.controller_ablation:RandomWeights")]
        module = "lrgym.baselines.controller_ablation"
        rows += [AblationRow(GROUP_LABELS[g], f"controller-no-{g}", f"{module}:{_class(g)}") for g in INPUT_GROUPS]
    else:
        from pathlib import Path

        from lrgym.leaderboard.submission_files import declared_name

        if not Path(submission).is_file():
            raise ValueError(f"{submission} is no file; valid: a submission file train_controller wrote "
                             "(runs/controller_mixed.py)")
        target = f"{submission}:{SUBMISSION_CLASS}"
        name = declared_name(target)
        if not name:
            raise ValueError(f"{submission} declares no entry name in {SUBMISSION_CLASS}; valid: a submission file "
                             "train_controller wrote (runs/controller_mixed.py)")
        rows = [AblationRow(f"**{name}** (trained)", name, target),
                AblationRow(RANDOM_LABEL, ablation_name(name, "-random"), f"{submission}:RandomWeights")]
        rows += [AblationRow(GROUP_LABELS[g], ablation_name(name, f"-no-{g}"), f"{submission}:{_class(g)}")
                 for g in INPUT_GROUPS]
    rows += [AblationRow(f"*for scale:* {b}", b, b, "baseline") for b in FOR_SCALE]
    return rows


def unfit_suite(suite) -> str | None:
    """Why the table cannot be made on ``suite`` (a :class:`lrgym.leaderboard.suite.Suite`), or None.

    The trained row and every ablation hold the controller's weights (the shipped ones or a
    ``train_controller`` run's: both have terms for the built-in families only,
    :func:`lrgym.baselines.registry.weights_families`), whose ``reset`` refuses an episode of any
    other family: on a suite with a family of one's own every one of those rows would fail, and a
    table of some families only would be another suite's. So the command is refused up front,
    naming the families and the fix (the reason :func:`lrgym.leaderboard.runner_specs.baselines_without_weights`
    gives for the ``controller``, which ``run-baselines`` skips there)."""
    from lrgym.leaderboard.runner_specs import PolicySpec, baselines_without_weights

    why = baselines_without_weights([PolicySpec("controller", "baseline", {})], suite).get("controller")
    if why is None:
        return None
    return (f"every row but {' and '.join(FOR_SCALE)} holds the controller's weights and would fail: {why}; "
            "valid: a suite of those families (val, v2, quick, or a suite file of them only)")


def _class(group: str) -> str:
    return "No" + "".join(p.capitalize() for p in group.split("_"))


def _num(x: float, digits: int) -> str:
    text = f"{x:.{digits}f}"
    return "−" + text[1:] if text.startswith("-") and text.strip("-0.") else text.lstrip("-")  # the README's minus


def _rate(fraction: float, digits: int) -> str:
    """A divergence rate as the README's table writes it: ``0 %``, ``5 %``, ``1.9 %`` (``digits``: at most)."""
    text = f"{100 * fraction:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} %"


def markdown_table(rows: list[AblationRow], summaries: dict, families: tuple[str, ...], suite: str) -> str:
    """The README's ablation table: a line per row whose entry has a summary in ``summaries``
    (entry name → the stored summary: :func:`lrgym.leaderboard.runner.summarize`), "not on the
    board" for one without."""
    head = [f"variant ({suite} suite)", "IQM [95 % CI]", *families, "mean", "diverged"]
    lines = ["| " + " | ".join(head) + " |", "|:--|" + "--:|" * (len(head) - 1)]
    for i, row in enumerate(rows):
        s = summaries.get(row.name)
        if s is None:
            lines.append(f"| {row.label} | not on the board ({row.name}: failed or not graded) |"
                         + " |" * (len(head) - 2))
            continue
        iqm = s["iqm"]
        ci = f"{_num(iqm[0], 3)} [{_num(iqm[1], 3)}, {_num(iqm[2], 3)}]"
        fams = [f"{_num(s['families'][f]['iqm'][0], 2)} / {_num(s['families'][f]['mean'], 2)} / "
                f"{_rate(s['families'][f]['diverged_fraction'], 0)}" for f in families]
        lines.append("| " + " | ".join([row.label, f"**{ci}**" if i == 0 else ci, *fams, _num(s["mean"][0], 2),
                                        _rate(s["diverged_fraction"], 1)]) + " |")
    return "\n".join(lines) + "\n"
