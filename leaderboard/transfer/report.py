"""The transfer study's Markdown table and plot (from the results dict of
:func:`lrgym.leaderboard.transfer.study.run_study`)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from lrgym.baselines.outputs import replace_file


def _ranks(values: list[float]) -> list[int]:
    order = np.argsort(-np.asarray(values), kind="stable")
    ranks = np.empty(len(values), dtype=int)
    ranks[order] = np.arange(1, len(values) + 1)
    return ranks.tolist()


def _tau(t) -> str:
    return f"{t[0]:+.2f} [{t[1]:+.2f}, {t[2]:+.2f}]"


def markdown_table(result: dict) -> str:
    """Policies by lrgym's family IQM (the board's statistic); it (rank) on lrgym, the IQM (rank) on
    each real task and pooled; τ [95 % CI] last."""
    ag = result["agreement"]
    cfg = result["config"]
    sides = ["lrgym", *cfg["tasks"], "pooled"]
    ranks = {s: _ranks(ag["iqm"][s]) for s in sides}
    order = np.argsort(ranks["lrgym"], kind="stable")
    refs = result["references"]
    head = ["policy", f"lrgym ({cfg['suite']})", *cfg["tasks"], "pooled real"]
    lines = [
        f"Normalised score (rank) per side: on lrgym the board's family IQM, on the real tasks the IQM; "
        f"1 = the side's best constant SGD LR. Real tasks: "
        f"{len(cfg['seeds'])} seeds, {cfg['horizon']} steps × {cfg['inner_steps']} updates"
        + ("; the minibatch loss summed over examples (lrgym's convention), not averaged"
           if cfg.get("loss_reduction", "mean") == "sum" else "")
        + "; reference LR "
        + ", ".join(f"{t} {refs[t]['lr']:.3g}" for t in cfg["tasks"]) + ".",
        "",
        "| " + " | ".join(head) + " |",
        "|:---|" + "---:|" * (len(head) - 1),
    ]
    for i in order:
        cells = [ag["policies"][i]] + [f"{ag['iqm'][s][i]:.2f} ({ranks[s][i]})" for s in sides]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("| **Kendall τ vs lrgym [95 % CI]** | – | " + " | ".join(_tau(ag["tau"][s]) for s in sides[1:]) + " |")
    return "\n".join(lines) + "\n"


def plot(result: dict, path: str | Path) -> None:
    """One panel per real side: lrgym's family IQM (x) vs the side's IQM (y), one point per policy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ag = result["agreement"]
    sides = [*result["config"]["tasks"], "pooled"]
    cols = 2 if len(sides) > 2 else len(sides)
    rows = -(-len(sides) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.4 * rows), squeeze=False)
    x = np.asarray(ag["iqm"]["lrgym"])
    learned = {"qlearning", "dqn", "ppo"}
    suite = result["config"]["suite"]
    for ax in axes.flat[len(sides):]:
        ax.set_visible(False)
    for ax, side in zip(axes.flat, sides):
        y = np.asarray(ag["iqm"][side])
        for xi, yi, name in zip(x, y, ag["policies"]):
            ax.scatter(xi, yi, s=22, color="tab:red" if name in learned else "tab:blue")
            ax.annotate(name, (xi, yi), fontsize=6.5, xytext=(3, 2), textcoords="offset points")
        ax.axhline(1.0, color="grey", lw=0.6, ls="--")
        t = ag["tau"][side]
        ax.set_title(f"{side}: τ = {t[0]:+.2f} [{t[1]:+.2f}, {t[2]:+.2f}]", fontsize=10)
        ax.set_xlabel(f"lrgym family IQM (suite {suite})")
        ax.set_ylabel("real-task IQM")
    summed = " — summed minibatch loss" if result["config"].get("loss_reduction", "mean") == "sum" else ""
    fig.suptitle(f"Does the lrgym ranking transfer?{summed} (blue: hand-designed, red: learned)", fontsize=11)
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    plt.close(fig)
    replace_file(path, png.getvalue())
