"""Suite v2's instances: the documented rule that keeps only test instances that discriminate.

An instance discriminates between LR controllers when (1) its reference can be beaten without
the score saturating, (2) its reference is a real optimum, not one capped by the LR range, and
(3) controlling the LR pays: a simple schedule beats the best constant LR there. On an instance
where the best constant LR is already optimal, every policy that finds that LR scores 1.00 and
the instance only adds ties.

**Procedure** (deterministic; :func:`select`), per family, with v2's episode settings and seeds
(family-default horizon and inner steps, seeds 0–4):

1. Candidates: the seeds of the **test** instance set, ascending, at most :data:`CANDIDATES`.
2. For each candidate, its reference by the one reference rule
   (:func:`lrgym.baselines.reference.search_reference`), and the mean score S over the seeds of
   plain cosine decay to 0 (:class:`lrgym.baselines.schedules.Cosine`, SGD) with peak LR
   η*·10^(i/4), i = 0, …, 4 (η* the reference LR), capped at the top of the LR range.
3. Keep the candidate iff all of

   * **not at the precision floor**: on every seed the reference's log-improvement
     log(L0/L_ref) is at most :data:`MAX_FLOOR_SHARE` of the floor's, log(1/10⁻¹²) — a policy can
     still score 1/MAX_FLOOR_SHARE = 1.5 before its loss reaches the floor;
   * **not at the LR-range edge**: η* lies at least :data:`MIN_MARGIN_DECADES` decades inside
     [lr_min, lr_max] and the search ran an LR on each side of it that scored worse;
   * **a real gap**: the best of the five cosine schedules has a mean S ≥ 1 + :data:`MIN_GAP`;
   * **a verified reference** (checked last, only for candidates that pass the others): no
     constant LR of a verification scan (:func:`verification_lrs`: 1/1000 decade over ±0.4
     decade around η*, quarter-decade offsets from the search's grid elsewhere) scores a mean
     S above :data:`MAX_VERIFIED_SCORE` against η*. Near the edge of stability some MLP
     instances have a jagged S(η) in which no finite search is sure to find the best constant
     LR; they are dropped rather than given a reference that is not the best to 1 %. (r2's scan
     stepped 1/40 decade and kept mlp 20007, whose peak 0.12 – 0.14 decade above η*, narrower
     than 0.03 decade, scores up to 1.029; r3's finer scan drops it.)

4. The suite takes the first ``n`` kept candidates in seed order (``n`` per family in
   :data:`SIZES`; fewer if fewer of the :data:`CANDIDATES` passed); candidates after the n-th
   kept one are not evaluated.

The selection and the references it computed are shipped together:
``python -m lrgym.leaderboard.selection --ship`` writes ``leaderboard/suites/v2.json`` (the
instances with every candidate's numbers and the reason it was dropped) and
``leaderboard/references/v2-r<revision>.json`` (the references of the kept instances, the same numbers
``lrgym leaderboard references --suite v2`` computes; the file name follows the suite's
revision in :func:`lrgym.leaderboard.suite.suite_v2`: bump it whenever the selection changes).
Without ``--ship`` it writes both to ``runs/selection/`` for inspection. ``--reuse
runs/selection/records.jsonl`` skips every candidate an earlier run on the same code evaluated
(the run appends each evaluated record there).

**v2/r3** (the current revision) took 100 linreg candidates (16 kept, 84 dropped for no gap),
43 quadratic (16 kept; 12 at the precision floor, 15 no gap), 27 mlp (8 kept; 13 no gap, 6
references not verified) and 15 recsys (8 kept; 7 no gap), in 2,330 s on 2 cores beside other work. r3 differs
from r2 only in criterion 4's scan (1/1000 decade instead of 1/40): it drops mlp 20007 and 20011
(a constant LR scores 1.029 and 1.023 against their references) and takes the next two passing
mlp instances, 20020 and 20026; every other instance is r2's, with the same references to
rounding (r3's were computed on another CPU kind). r2 differed from r1 only in linreg: 16
instances instead of 8. 16 recsys instances pass within 27 candidates, but 16 of each would make
the main job too slow (:data:`SIZES`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np

from lrgym.baselines.backend import workers_type
from lrgym.baselines.outputs import part_run_problem, replace_files, runs_dir
from lrgym.baselines.reference import RULE
from lrgym.baselines.score import PRECISION_FLOOR, score

__all__ = ["CANDIDATES", "MAX_FLOOR_SHARE", "MAX_VERIFIED_SCORE", "MIN_GAP", "MIN_MARGIN_DECADES", "SIZES",
           "VERIFICATION", "VERIFY_SPAN", "VERIFY_STEP", "evaluate_candidate", "keep", "passes_before_verification",
           "select", "verification_lrs", "verify"]

#: at most this many test instances are tried per family (the first ones of the test set; 200 is
#: the whole test set). Only linreg needs many: a constant LR is nearly optimal on most
#: least-squares instances, so about one linreg candidate in seven passes the rule.
CANDIDATES = 200
#: the reference's log-improvement may use at most this share of the precision floor's
MAX_FLOOR_SHARE = 2.0 / 3.0
#: the reference LR must lie this far (decades) inside the env's LR range
MIN_MARGIN_DECADES = 0.5
#: a simple schedule must beat the best constant LR by this much mean S (twice the references'
#: stated precision of 1 %, so the gap is not an artefact of the search)
MIN_GAP = 0.02
#: criterion 4: no constant LR of the verification scan may score above this against η*
MAX_VERIFIED_SCORE = 1.01
#: criterion 4's scan: this step (decades) over ±VERIFY_SPAN decades around η*. r2 stepped 1/40
#: decade and missed a peak of mlp 20007 narrower than 0.03 decade that scores up to 1.029; 1/1000
#: decade puts ≈ 30 points on such a peak (800 LRs × 5 seeds: ≈ 40 CPU-s per mlp candidate, ≈ 125 per
#: recsys candidate; measured 2026-12-05)
VERIFY_STEP, VERIFY_SPAN = 1 / 1000, 0.4
#: the scan a record's ``verified_max_score`` came from: a record verified by another scan (an
#: earlier revision's, reused with ``--reuse``) is verified again
VERIFICATION = f"1/{round(1 / VERIFY_STEP)} decade over ±{VERIFY_SPAN} decade around η*, quarter-decade offsets elsewhere"
#: peaks of the cosine schedules tried, as multiples of the reference LR
COSINE_PEAKS = (1.0, 10.0**0.25, 10.0**0.5, 10.0**0.75, 10.0)
#: instances per family in suite v2 (r2): 16 where episodes are cheap, 8 where they are not, so
#: the main job (``make leaderboard``: 17 entries × 5 seeds) stays ≤ 60 s on 2 idle cores
#: (≤ 120 CPU-seconds). Measured 2026-12-02 with ``python -m lrgym.leaderboard.bench --learned
#: --per-family`` on 16 instances of every family: CPU-seconds per instance linreg 1.28,
#: quadratic 0.81, mlp 4.64, recsys 3.86, plus 10.4 for start-up — 180 CPU-s (≈ 90 s on 2
#: cores) for 16 of each, too much; 16 / 16 / 8 / 8 predicts 112 CPU-s and took 105 CPU-s
#: (≈ 53 s; `/usr/bin/time -v lrgym leaderboard run-baselines`). 9 mlp and 9 recsys would take
#: ≈ 114 CPU-s (57 s): inside the limit only until the next entry of the main job (each adds
#: ≈ 1/17 of it), so 8 keeps a margin.
SIZES: dict[str, int] = {"linreg": 16, "quadratic": 16, "mlp": 8, "recsys": 8}
SEEDS = (0, 1, 2, 3, 4)

HERE = Path(__file__).parent
SHIPPED_SELECTION = HERE / "suites" / "v2.json"
COMMAND = "python -m lrgym.leaderboard.selection --ship"


def verification_lrs(lr_ref: float, lr_min: float, lr_max: float) -> list[float]:
    """The LRs of the verification scan: every :data:`VERIFY_STEP` decade over
    ±:data:`VERIFY_SPAN` decade around η* and the quarter-decade points between the search's
    half-decade grid elsewhere in the range."""
    c = math.log10(lr_ref)
    n = round(VERIFY_SPAN / VERIFY_STEP)
    local = [10 ** (c + j * VERIFY_STEP) for j in range(-n, n + 1) if j]
    e0 = math.log10(lr_min) + 0.25
    far = [10 ** (e0 + 0.5 * k) for k in range(int((math.log10(lr_max) - e0) / 0.5) + 1)]
    far = [x for x in far if abs(math.log10(x) - c) > VERIFY_SPAN]
    return [x for x in local + far if lr_min <= x <= lr_max]


def verify(runs, reference: dict) -> float:
    """The highest mean S (against ``reference``) of a constant LR of the verification scan."""
    best = -math.inf
    lo, hi = reference["lr_range"]
    for lr in verification_lrs(reference["lr"], lo, hi):
        row = runs(lr)
        s = score(row.initial_loss, row.final_loss, reference["final_loss"], ~np.isfinite(row.final_loss))
        best = max(best, float(np.mean(s)))
    return best


def evaluate_candidate(job: tuple) -> dict:
    """Reference and cosine-schedule scores of one candidate: job = (family, instance, seeds,
    env_kwargs[, record]); with a record from an earlier evaluation that lacks only its
    verification (criterion 4), only that is run. Returns a JSON-able record (see :func:`keep`)."""
    family, instance, seeds, env_kwargs = job[:4]
    from lrgym.baselines.evaluation import make_env, run_episode
    from lrgym.baselines.reference import ConstantLRRuns
    from lrgym.baselines.schedules import Cosine
    from lrgym.leaderboard.references import reference_entry

    start = time.perf_counter()
    runs = ConstantLRRuns(env_kwargs, instance, seeds)
    if len(job) > 4:
        earlier = job[4]
        verified = verify(runs, earlier["reference"])
        return {**earlier, "verified_max_score": verified, "verified_with": VERIFICATION,
                "seconds": _seconds(earlier.get("seconds"), start)}
    ref = runs.search()
    l0 = np.asarray(ref.best.initial_loss, dtype=float)
    lref = np.asarray(ref.best.final_loss, dtype=float)
    cosine = {}
    if np.all(np.isfinite(lref)):
        for m in COSINE_PEAKS:
            lr = min(ref.lr * m, runs.lr_max)
            policy = Cosine(lr)
            env = make_env(policy, env_kwargs)
            env.task_cache = runs.tasks
            trajs = [run_episode(policy, env, seed=s, instance=instance) for s in seeds]
            s = score(l0, [t.final_loss for t in trajs], lref, [t.diverged for t in trajs])
            cosine[f"{lr:.6g}"] = float(np.mean(s))
    with np.errstate(divide="ignore"):
        share = np.log(l0 / np.maximum(lref, 1e-300)) / math.log(1.0 / PRECISION_FLOOR)
    record = {
        "family": family,
        "instance": int(instance),
        "lr": ref.lr,
        "margin_decades": round(ref.margin_decades, 4),
        "bracketed": ref.bracketed,
        "floor_share": float(np.max(share)) if np.all(np.isfinite(share)) else math.inf,
        "cosine_scores": cosine,
        "gap": (max(cosine.values()) - 1.0) if cosine else -math.inf,
        "reference": reference_entry(ref),
    }
    if keep(record)[0]:  # criteria 1-3 hold: verify the reference (criterion 4)
        record["verified_max_score"] = verify(runs, record["reference"])
        record["verified_with"] = VERIFICATION
    record["seconds"] = _seconds(0.0, start)
    return record


def _seconds(earlier: float | None, start: float) -> float | None:
    """A record's evaluation time: its worker's wall-clock seconds since ``start``, added to the
    ``earlier`` evaluations' of the same record (a re-verified one); None once a part is unknown
    (a record written before records were timed)."""
    return None if earlier is None else round(earlier + time.perf_counter() - start, 3)


def keep(record: dict) -> tuple[bool, str]:
    """The rule of the module docstring: (kept?, reason when dropped)."""
    if not record["floor_share"] <= MAX_FLOOR_SHARE:
        return False, f"at the precision floor (log-improvement share {record['floor_share']:.2f} > {MAX_FLOOR_SHARE:.2f})"
    if not (record["margin_decades"] >= MIN_MARGIN_DECADES and record["bracketed"]):
        return False, f"at the LR-range edge (η* = {record['lr']:.3g}, {record['margin_decades']:.2f} decades inside)"
    if not record["gap"] >= MIN_GAP:
        return False, f"no gap (best cosine schedule mean S = {1 + record['gap']:.3f} < {1 + MIN_GAP:.2f})"
    if record.get("verified_max_score", 1.0) > MAX_VERIFIED_SCORE:
        return False, (f"reference not verified (a constant LR of the scan scores "
                       f"{record['verified_max_score']:.3f} > {MAX_VERIFIED_SCORE})")
    return True, ""


def passes_before_verification(record: dict) -> bool:
    """Criteria 1–3 of the rule (those decided before the verification scan runs)."""
    return keep({k: v for k, v in record.items() if k != "verified_max_score"})[0]


def select(families: list[str] | None = None, candidates: int = CANDIDATES, sizes: dict | None = None,
           workers: int | None = None, reuse: dict | None = None, progress=None) -> dict:
    """Run the procedure of the module docstring; returns the selection (JSON-able).

    Candidates are evaluated in seed order, a batch of ``workers`` at a time, until the family
    has its ``size`` kept instances or ``candidates`` were tried. ``reuse`` maps
    ``(family, instance)`` to records of an earlier run on the same code (:func:`load_records`);
    a reused record that passes criteria 1–3 but lacks its reference is evaluated again, and
    one verified by another scan than :data:`VERIFICATION` (an earlier revision's) is verified
    again.
    ``progress(record)`` is called after each evaluation (the CLI appends them to
    ``runs/selection/records.jsonl``, which ``--reuse`` also reads). Each record carries its
    evaluation's ``seconds``; the selection's ``seconds`` is this run's wall clock, ``reused`` the
    candidates taken from ``reuse`` as they were and ``evaluation_seconds`` the sum of every
    candidate's (``untimed``: records of before they were timed; :func:`how_long`).
    """
    from lrgym.baselines.parallel import imap
    from lrgym.tasks.base import instance_set

    sizes = {**SIZES, **(sizes or {})}
    families = list(families or SIZES)
    workers = workers or os.cpu_count() or 1
    test = [int(k) for k in instance_set("test")[:candidates]]
    start = time.time()
    code = selection_code()
    records = dict(reuse or {})
    evaluated = set()  # records (re-)evaluated by this run; the others were reused as they are

    def usable(f: str, k: int) -> bool:
        rec = records.get((f, k))
        return rec is not None and (not passes_before_verification(rec)
                                    or ("reference" in rec and rec.get("verified_with") == VERIFICATION))

    def kept(f: str) -> list[int]:
        out = []
        for k in test:
            if not usable(f, k):
                break
            if keep(records[(f, k)])[0]:
                out.append(k)
            if len(out) == sizes[f]:
                break
        return out

    while True:
        todo = []
        for f in families:
            missing = sizes[f] - len(kept(f))
            if missing > 0:  # about twice as many candidates as still missing (about half pass)
                todo += [(f, k) for k in test if not usable(f, k)][:max(workers, 2 * missing)]
        if not todo:
            break
        jobs = [(f, k, SEEDS, {"family": f, "instance_set": "test"})
                + ((records[(f, k)],) if "reference" in records.get((f, k), {}) else ()) for f, k in todo]
        for rec in imap(evaluate_candidate, jobs, workers, f"suite v2 candidates ({len(jobs)})"):
            rec["code"] = code  # the code that evaluated it: --reuse takes only records of the same code
            records[(rec["family"], rec["instance"])] = rec
            evaluated.add((rec["family"], rec["instance"]))
            if progress is not None:
                progress(rec)
    out = {"rule": __doc__.split("**Procedure**")[1].split("The selection and")[0].strip(),
           "reference_rule": RULE, "seeds": list(SEEDS), "candidates": candidates,
           "thresholds": {"max_floor_share": MAX_FLOOR_SHARE, "min_margin_decades": MIN_MARGIN_DECADES,
                          "min_gap": MIN_GAP, "cosine_peaks": list(COSINE_PEAKS),
                          "max_verified_score": MAX_VERIFIED_SCORE, "verification": VERIFICATION},
           "command": COMMAND, "code": code, "seconds": 0.0, "families": {}}
    for f in families:
        chosen, table = kept(f), []
        last = chosen[-1] if len(chosen) == sizes[f] else test[-1]
        for k in test:
            if k > last:
                break
            rec = records[(f, k)]
            ok, reason = keep(rec)
            table.append({key: rec[key] for key in ("instance", "lr", "margin_decades", "bracketed", "floor_share",
                                                     "gap")}
                         | {"verified_max_score": rec.get("verified_max_score"), "kept": k in chosen, "reason": reason})
        out["families"][f] = {"instances": chosen, "size": sizes[f], "candidates": table,
                              "references": {str(k): records[(f, k)]["reference"] for k in chosen}}
    out["seconds"] = round(time.time() - start, 1)
    tabled = [(f, c["instance"]) for f in families for c in out["families"][f]["candidates"]]
    out["reused"] = sum(key not in evaluated for key in tabled)
    times = [records[key].get("seconds") for key in tabled]
    out["evaluation_seconds"] = round(sum(t for t in times if t is not None), 1)
    out["untimed"] = sum(t is None for t in times)
    out["records"] = [records[key] for key in sorted(records)]
    return out


def selection_code() -> str:
    """The code a candidate's record depends on (:func:`lrgym.baselines.code_version.code_version`:
    lrgym's code, this file, NumPy's version), recorded in each record as ``code``."""
    from lrgym.baselines.code_version import code_version

    return code_version(__file__)


def other_code_records(records: dict, code: str) -> dict:
    """The records of ``records`` (:func:`load_records`) that ``code`` did not make: another
    ``code`` or none (records of before it was recorded). ``--reuse`` evaluates them again unless
    ``--reuse-other-code``: a record of other code (a changed reference search, a fixed kernel)
    is not what this code computes, and it would be shipped as if it were."""
    return {key: rec for key, rec in records.items() if rec.get("code") != code}


def load_records(path: str | Path) -> dict:
    """``(family, instance) → record`` from a selection written by :func:`write` (its
    ``runs/`` copy keeps every evaluated candidate's record). A file that is missing, no regular
    file (a folder, a FIFO: never opened) or not such records is a ``ValueError`` naming it."""
    from lrgym.files import read_regular_file

    valid = "a selection's records (runs/selection/v2.json or records.jsonl)"
    text = read_regular_file(path, "--reuse", valid)
    try:
        return _records(Path(path), text)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"--reuse {path} holds no selection records ({type(exc).__name__}: {exc}); "
                         f"valid: {valid}") from None


def _records(path: Path, text: str) -> dict:
    if path.suffix == ".jsonl":
        return {(r["family"], int(r["instance"])): r
                for r in (json.loads(line) for line in text.splitlines() if line.strip())}
    data = json.loads(text)
    records = {}
    for rec in data.get("records", []):
        records[(rec["family"], int(rec["instance"]))] = rec
    for f, d in data.get("families", {}).items():  # older files: the table, references of kept ones
        for c in d.get("candidates", []):
            rec = {**c, "family": f}
            ref = d.get("references", {}).get(str(c["instance"]))
            if ref is not None:
                rec["reference"] = ref
            records.setdefault((f, int(c["instance"])), rec)
    return records


def _json_floats(obj):
    """A plain-JSON copy of ``obj`` with NumPy numbers as floats (NaN and inf kept)."""
    return json.loads(json.dumps(obj, default=float, allow_nan=True))


def ship_arguments_problem(families: list[str] | None, candidates: int) -> str | None:
    """Why ``--ship`` may not run with these arguments, or ``None``. The shipped ``v2.json`` and
    references *are* suite v2: a selection of some families (``--families linreg``) or fewer
    candidates than the rule's (``--candidates 3``) shipped a suite of those alone (an empty v2 for
    a family with no kept candidate), under the same revision, before anything said so."""
    elsewhere = f" (writes {runs_dir() / 'selection'}/)"
    return (part_run_problem("--ship", "--families", families, SIZES,
                             f"the shipped selection is the whole suite (every family: {', '.join(SIZES)})", elsewhere)
            or part_run_problem("--ship", "--candidates", candidates, CANDIDATES,
                                f"the shipped selection tries the rule's {CANDIDATES} candidates per family", elsewhere))


def revision_problem(selection: dict) -> str | None:
    """Why ``selection`` may not be shipped under the suite's current revision, or ``None``: its
    instances differ from those the shipped references of that revision are of (results stored
    under one revision are never compared with another's, so a changed suite needs a new one:
    ``revision`` in :func:`lrgym.leaderboard.suite.suite_v2`). Shipping the same instances again
    (references recomputed), or a revision with no shipped references yet, is fine."""
    from lrgym.leaderboard.references import SHIPPED_DIR
    from lrgym.leaderboard.suite import suite_v2

    suite = suite_v2({f: d["instances"] for f, d in selection["families"].items()})
    shipped = SHIPPED_DIR / f"{suite.name}-r{suite.revision}.json"
    try:
        old = json.loads(shipped.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(old, dict) or old.get("fingerprint") == suite.fingerprint():
        return None
    before, after = set(old.get("tasks") or ()), {t.label for t in suite.tasks()}
    change = "; ".join(part for part in (
        f"adds {', '.join(sorted(after - before))}" if after - before else "",
        f"drops {', '.join(sorted(before - after))}" if before - after else "") if part) or "another definition"
    return (f"the selection's instances differ from those shipped as {suite.version} ({shipped.name}: it {change}); "
            f"valid: a new revision for a changed suite")


def write(selection: dict, ship: bool) -> list[Path]:
    """Write the selection (without the references) and the suite's references file, replaced
    together (:func:`lrgym.baselines.outputs.replace_files`: a run stopped by Ctrl-C leaves both
    old files or both new ones, never a selection beside the references of another), then record
    the references' hash (:mod:`lrgym.leaderboard.trust`; a run stopped before that leaves them
    untrusted, so recomputed where they are used, never used unchecked)."""
    from lrgym.leaderboard import trust
    from lrgym.leaderboard.references import SHIPPED_DIR, References, references_file, task_specs
    from lrgym.leaderboard.suite import suite_v2

    sel_path = SHIPPED_SELECTION if ship else runs_dir() / "selection" / "v2.json"
    ref_dir = SHIPPED_DIR if ship else runs_dir() / "selection"
    sel_path.parent.mkdir(parents=True, exist_ok=True)
    slim = {k: v for k, v in selection.items() if k not in ("families", "records")}
    slim["families"] = {f: {k: v for k, v in d.items() if k != "references"} for f, d in selection["families"].items()}
    if not ship:  # the full records, for --reuse
        slim["records"] = selection.get("records", [])
    suite = suite_v2({f: d["instances"] for f, d in selection["families"].items()})
    tasks = {f"{f}/{k}": ref for f, d in selection["families"].items() for k, ref in d["references"].items()}
    # elapsed: this run's wall clock (with --reuse, only what it evaluated again; the selection file
    # says how many records it reused and their evaluations' seconds: how_long)
    refs = References(suite.version, suite.fingerprint(), tasks, tuple(suite.seeds), task_specs(suite),
                      selection["seconds"])
    ref_path, ref_text, ref_mode = references_file(refs, ref_dir)
    replace_files({sel_path: json.dumps(_json_floats(slim), indent=1) + "\n", ref_path: ref_text},
                  modes={ref_path: ref_mode})
    trust.record(ref_path)
    return [sel_path, ref_path]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m lrgym.leaderboard.selection", description="Select suite v2's instances (see the module docstring).")
    p.add_argument("--families", nargs="*", help="families (default: all four)")
    p.add_argument("--candidates", type=int, default=CANDIDATES, metavar="N",
                   help="test instances tried per family (a positive integer; default %(default)s; --ship takes the default)")
    p.add_argument("--workers", type=workers_type, default=None, metavar="N",
                   help="processes of the local pool (default: one per CPU)")
    p.add_argument("--ship", action="store_true",
                   help="write the shipped leaderboard/suites/v2.json and references/v2-r<revision>.json (maintainers)")
    p.add_argument("--reuse", help="records of an earlier run on the same code (runs/selection/v2.json, or "
                                   "runs/selection/records.jsonl of an interrupted one; runs/ is $LRGYM_RUNS if set); "
                                   "records of other code are evaluated again")
    p.add_argument("--reuse-other-code", action="store_true",
                   help="with --reuse: also reuse records made by other code (or that record none) as they are")
    args = p.parse_args(argv)
    bad = [f for f in args.families or () if f not in SIZES]
    if bad:
        p.error(f"--families {' '.join(bad)}: unknown; valid choices: {', '.join(SIZES)}")
    if args.candidates < 1:
        p.error(f"--candidates {args.candidates} out of range; valid: a positive integer (test instances tried per family)")
    if args.families == []:  # an empty --families selected every family, silently
        p.error(f"--families given without a family; valid: one or more of {', '.join(SIZES)}, or leave it out for all")
    if args.ship:
        problem = ship_arguments_problem(args.families, args.candidates)
        if problem:
            p.error(problem)
    if args.reuse_other_code and not args.reuse:
        p.error("--reuse-other-code without --reuse; valid: --reuse FILE --reuse-other-code, or neither")
    try:
        reuse = load_records(args.reuse) if args.reuse else None
    except ValueError as exc:
        p.error(str(exc))
    if reuse:
        code = selection_code()
        other = other_code_records(reuse, code)
        if other and not args.reuse_other_code:
            codes = sorted({str(rec.get("code", "none recorded")) for rec in other.values()})
            print(f"--reuse {args.reuse}: {len(other)} of its {len(reuse)} records were made by other code "
                  f"({'; '.join(codes[:3])}{'; ...' if len(codes) > 3 else ''}; this code: {code}): evaluated "
                  "again (--reuse-other-code reuses them as they are)")
            reuse = {key: rec for key, rec in reuse.items() if key not in other}
    log = runs_dir() / "selection" / "records.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)

    def progress(rec: dict) -> None:
        with open(log, "a") as f:
            f.write(json.dumps(_json_floats(rec)) + "\n")

    selection = select(args.families, args.candidates, workers=args.workers, reuse=reuse, progress=progress)
    for f, d in selection["families"].items():
        dropped = {}
        for c in d["candidates"]:
            if not c["kept"]:
                key = c["reason"].split(" (")[0]
                dropped[key] = dropped.get(key, 0) + 1
        print(f"{f}: kept {len(d['instances'])}/{d['size']}: {d['instances']}; dropped: {dropped}")
    problem = revision_problem(selection) if args.ship else None
    if problem:  # the run's results are kept under runs/ (--reuse them once the revision is bumped)
        kept = write(selection, ship=False)[0]
        p.error(f"{problem}; this selection is in {kept}: bump the revision in suite_v2 (leaderboard/suite.py), "
                f"then --ship --reuse {kept} writes it in seconds")
    for path in write(selection, args.ship):
        print(f"wrote {path}")
    print(how_long(selection))


def how_long(selection: dict) -> str:
    """What a selection cost: this run's wall clock, and its candidates' evaluations, reused ones
    included (``--ship --reuse`` of a finished run takes seconds, its evaluations hours)."""
    text = f"{selection['seconds']:.0f} s"
    if "evaluation_seconds" not in selection:  # written before records were timed
        return text
    text += (f" ({selection['reused']} of the candidates' records reused); the candidates' evaluations took "
             f"{selection['evaluation_seconds']:.0f} worker-seconds")
    if selection["untimed"]:
        text += f" and {selection['untimed']} untimed ones (records written before they were timed)"
    return text


if __name__ == "__main__":  # SIGTERM / SIGHUP stop it as Ctrl-C does (its pool cleaned up), exit 128 + signal
    from lrgym.baselines.interrupts import run_command

    raise SystemExit(run_command(main, "python -m lrgym.leaderboard.selection", exiting=True))
