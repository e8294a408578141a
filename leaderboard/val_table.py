"""The baselines' validation table: mean normalised score of every baseline on val instances.

It scores with the leaderboard's suite and score, so it sits on the leaderboard floor (it was
``lrgym.baselines.report``).

::

    python -m lrgym.leaderboard.val_table                     # prints the Markdown table
    python -m lrgym.leaderboard.val_table --write             # also updates the tables in README.md
    python -m lrgym.leaderboard.val_table --tuned-only        # the tuned values alone (tuned.json; no runs)

Instances and seeds are those of the leaderboard's ``val`` suite (8 val instances per family
× 5 seeds, family-default horizon and inner steps), restricted to the families available here.
Every run is scored like the leaderboard does, S = (log L0 − log LT) / (log L0 − log L_ref),
with the precision floor, clipped to [−1, 2], −1 on divergence (:func:`lrgym.baselines.score.score`),
with L_ref the final loss of the instance's reference for the same seed (the best constant SGD
LR by the leaderboard's fine search, :func:`lrgym.baselines.reference.search_reference`). The
table shows the mean of S per family and over all runs, and the family IQM (the mean of the
families' IQMs, the leaderboard's ranking statistic: :func:`lrgym.leaderboard.scoring.family_iqm`),
by which it is sorted. Hand-designed baselines use the values tuned on train
instances (``baselines/tuned.json``), learned ones their shipped weights.

Everything goes through :func:`lrgym.baselines.evaluation.evaluate`; the reference runs are
constant-LR SGD on the same envs (:class:`lrgym.baselines.reference.ConstantLRRuns`).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from lrgym.baselines.backend import workers_type
from lrgym.baselines.families import available_families
from lrgym.baselines.outputs import part_run_problem, replace_file
from lrgym.baselines.tune import run_config, run_scores, search_references

HERE = Path(__file__).parent
#: the repository README, whose "Baselines" section holds the two tables
SECTION = Path(__file__).resolve().parents[1] / "README.md"
BEGIN, END = "<!-- val-table:begin -->", "<!-- val-table:end -->"
TUNED_BEGIN, TUNED_END = "<!-- tuned-table:begin -->", "<!-- tuned-table:end -->"


def val_suite() -> tuple[dict[str, tuple[int, ...]], tuple[int, ...]]:
    """(family → val instances, seeds) of the leaderboard's ``val`` suite (available families)."""
    from lrgym.leaderboard.suite import get_suite

    have = set(available_families())
    suite = get_suite("val")
    fams = {fs.family: tuple(fs.instances) for fs in suite.families if fs.family in have}
    return fams, tuple(suite.seeds)


def compute(names: list[str], workers: int | None = None, families: list[str] | None = None) -> dict:
    """Scores S of every run: {name: {family: array}} (learned baselines without weights skipped)."""
    from lrgym.baselines.parallel import imap
    from lrgym.baselines.registry import BASELINES, LEARNED, shipped_inputs, weights_path

    fams, seeds = val_suite()
    if families:
        fams = {f: i for f, i in fams.items() if f in families}
    skipped = []
    ready = []
    for n in names:
        if n in LEARNED and not any(weights_path(n, f, s).exists() for f in fams for s in (".npz", ".zip")):
            skipped.append(n)
        else:
            ready.append(n)
    refs = search_references(list(fams), fams, seeds, workers, instance_set="val")
    jobs = [(f, n, None, inst, seeds, "val") for f, inst in fams.items() for n in ready]
    results = {}
    for job, runs in imap(run_config, jobs, workers, "val runs"):
        results[(job[0], job[1], json.dumps(job[2], sort_keys=True))] = runs
    scores: dict = {}
    for f in fams:
        for n in ready:
            scores.setdefault(n, {})[f] = run_scores(results[(f, n, "null")], refs[f])
    return {"scores": scores, "families": list(fams), "seeds": list(seeds),
            "instances": {f: list(i) for f, i in fams.items()}, "skipped": skipped,
            "names": list(BASELINES), "inputs": shipped_inputs(ready)}


def markdown(result: dict) -> str:
    from lrgym.baselines.registry import LEARNED, made_from_text
    from lrgym.leaderboard.scoring import family_iqm

    fams = result["families"]
    head = "| baseline | " + " | ".join(fams) + " | all (mean) | family IQM |"
    rule = "|---|" + "---:|" * (len(fams) + 2)
    rows = [head, rule]

    def fam_iqm(n: str) -> float:  # the board's statistic, over every run of every family
        per = result["scores"][n]
        return float(family_iqm(np.concatenate([per[f] for f in fams])[None, :],
                                [f for f in fams for _ in per[f]]))

    for n in sorted(result["scores"], key=lambda n: -fam_iqm(n)):
        per = result["scores"][n]
        allruns = np.concatenate([per[f] for f in fams])
        label = f"{n} (learned)" if n in LEARNED else n
        rows.append(f"| {label} | " + " | ".join(f"{np.mean(per[f]):.2f}" for f in fams)
                    + f" | {np.mean(allruns):.2f} | **{fam_iqm(n):.2f}** |")
    n_inst = {len(v) for v in result["instances"].values()}
    note = (f"Normalised score S on the `val` instances ({'/'.join(map(str, sorted(n_inst)))} per family × "
            f"{len(result['seeds'])} seeds; 1 = the per-instance best constant SGD LR (the leaderboard's reference), 0 = no progress, −1 = diverged; "
            "clipped to [−1, 2]): its mean per family and over all runs, and the family IQM (the mean of the "
            f"{len(fams)} families' IQMs, the board's ranking statistic), by which the rows are sorted. "
            "Regenerate with `python -m lrgym.leaderboard.val_table --write`.")
    if result["skipped"]:
        note += f" Not shown (no weights): {', '.join(result['skipped'])}."
    if result.get("inputs"):
        note += " " + made_from_text(result["inputs"])
    return note + "\n\n" + "\n".join(rows) + "\n"


def tuned_markdown() -> str:
    """The tuned hyper-parameters of every hand-designed baseline, per family (from tuned.json)."""
    from lrgym.baselines.registry import load_tuned

    tuned = load_tuned()
    fams = list(tuned.get("settings", {}))
    rows = ["| baseline | " + " | ".join(fams) + " |", "|---|" + "---|" * len(fams)]
    for name, per in tuned.get("values", {}).items():
        cells = []
        for f in fams:
            v = per.get(f, {})
            lr = v.get("lr")
            rest = ", ".join(f"{k}={_fmt(x)}" for k, x in v.items() if k != "lr")
            cells.append((f"η={_fmt(lr)}" if lr is not None else "") + (f", {rest}" if rest else ""))
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def _fmt(x) -> str:
    return f"{x:.3g}" if isinstance(x, float) else str(x)


def write_section(table: str | None = None, tuned: str | None = None, path: Path = SECTION) -> None:
    """Replace the marked blocks of the README with ``table`` and ``tuned``."""
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: --write updates the README of a source checkout")
    text = path.read_text()
    for begin, end, body in ((BEGIN, END, table), (TUNED_BEGIN, TUNED_END, tuned)):
        if body is not None:
            text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: f"{begin}\n{body}{end}", text,
                          flags=re.S)
    replace_file(path, text)


def write_problem(baselines: list[str] | None, families: list[str] | None, path: Path | None = None) -> str | None:
    """Why ``--write`` may not run with these arguments, or ``None``; said before the table is
    computed (minutes). ``--baselines fixed --write`` replaced the README's table of every
    baseline with one row, and without a README (an installed package) the computed table was
    lost to a ``FileNotFoundError`` traceback."""
    from lrgym.baselines.registry import BASELINES

    path = SECTION if path is None else path
    if not path.is_file():
        return f"--write: {path} not found; valid: --write in a source checkout (its README.md), or leave it out"
    return (part_run_problem("--write", "--baselines", baselines, BASELINES, "the README's table ranks every baseline")
            or part_run_problem("--write", "--families", families, val_suite()[0],
                                f"the README's table has every family of the val suite ({', '.join(val_suite()[0])})"))


def main(argv=None) -> None:
    from lrgym.baselines.registry import BASELINES

    p = argparse.ArgumentParser(prog="python -m lrgym.leaderboard.val_table", description="Validation table of every baseline (mean normalised score).")
    p.add_argument("--baselines", nargs="*", default=None, metavar="NAME",
                   help="score these baselines only (default: every one; --write refuses a subset)")
    p.add_argument("--families", nargs="*", default=None, metavar="FAMILY",
                   help="these families of the val suite only (default: every one available; --write refuses a subset)")
    p.add_argument("--workers", type=workers_type, default=None, metavar="N",
                   help="processes of the local pool (default: one per CPU)")
    p.add_argument("--write", action="store_true",
                   help=f"also rewrite the two tables (scores, tuned values) in the checkout's {SECTION.name}")
    p.add_argument("--tuned-only", action="store_true",
                   help="print only the tuned-values table (from tuned.json: no runs, seconds); "
                        "with --write rewrite only that table")
    p.add_argument("--json", metavar="PATH", help="also save every run's score to this JSON file")
    args = p.parse_args(argv)
    if args.tuned_only:
        ignored = [flag for flag, given in (("--baselines", args.baselines), ("--families", args.families),
                                            ("--workers", args.workers), ("--json", args.json)) if given is not None]
        if ignored:  # they were dropped without a word: --tuned-only --json x wrote no x
            p.error(f"{' '.join(ignored)}: --tuned-only runs nothing and scores nothing; valid: leave "
                    f"{'it' if len(ignored) == 1 else 'them'} out, or leave out --tuned-only")
        problem = write_problem(None, None) if args.write else None
        if problem:
            p.error(problem)
        print(tuned_markdown())
        if args.write:
            write_section(tuned=tuned_markdown())
        return
    for flag, given, valid in (("--baselines", args.baselines, list(BASELINES)),
                               ("--families", args.families, list(val_suite()[0]))):
        bad = [v for v in given or () if v not in valid]
        if bad:  # before the minutes of reference searches
            p.error(f"{flag} {' '.join(bad)}: unknown; valid choices: {', '.join(valid)}")
    if args.write:  # the README's tables are of every baseline on every family, in a source checkout
        problem = write_problem(args.baselines, args.families)
        if problem:
            p.error(problem)
    if args.json and Path(args.json).is_dir():
        p.error(f"--json {args.json} is a folder; valid: a file path, e.g. {Path(args.json) / 'val_scores.json'}")
    if args.json:  # checked as every output is, before the minutes of runs (it was written unchecked after them)
        from lrgym.baselines.outputs import output_path

        try:
            args.json = output_path(Path("val_scores.json"), out=args.json, option="--json",
                                    protected=(SECTION, SECTION.with_name("LEADERBOARD.md")))
        except ValueError as exc:
            p.error(str(exc))
    result = compute(args.baselines or list(BASELINES), args.workers, args.families)
    table = markdown(result)
    print(table)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)  # (output_path took folders that can be made)
        replace_file(args.json, json.dumps(
            {**result, "scores": {n: {f: s.tolist() for f, s in per.items()} for n, per in result["scores"].items()}},
            indent=1))
    if args.write:
        write_section(table, tuned_markdown())
        print(f"updated {SECTION}")


if __name__ == "__main__":  # SIGTERM / SIGHUP stop it as Ctrl-C does (its pool cleaned up), exit 128 + signal
    from lrgym.baselines.interrupts import run_command

    raise SystemExit(run_command(main, "python -m lrgym.leaderboard.val_table", exiting=True))
