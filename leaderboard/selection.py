"""Suite v2's instances: the documented rule that keeps only test instances that discriminate.

An instance discriminates between LR controllers when (1) its reference can be beaten without
the score saturating, (2) its reference is a real optimum, not one capped by the LR range, and
(3) controlling the LR pays: a simple schedule beats the best constant LR there. On an instance
where the best constant LR is already optimal, every policy that finds that LR scores 1.00 and
the instance only adds ties.

**Procedure** (deterministic; :func:`select`), per family, with v2's episode settings and seeds
(family-default horizon and inner steps, seeds 0–4):

1. Candidates: the first :data:`CANDIDATES` seeds of the **test** instance set, ascending.
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
   * **a real gap**: the best of the five cosine schedules has a mean S ≥ 1 + :data:`MIN_GAP`.

4. The suite takes the first ``n`` kept candidates in seed order (``n`` per family in
   :data:`SIZES`; fewer if fewer passed).

The selection and the references it computed are shipped together:
``python -m lrgym.leaderboard.selection --ship`` writes ``leaderboard/suites/v2.json`` (the
instances with every candidate's numbers and the reason it was dropped) and
``leaderboard/references/v2-r1.json`` (the references of the kept instances, the same numbers
``lrgym leaderboard references --suite v2`` computes). Without ``--ship`` it writes both to
``runs/selection/`` for inspection.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np

from lrgym.baselines.reference import RULE
from lrgym.baselines.score import PRECISION_FLOOR, score

__all__ = ["CANDIDATES", "MAX_FLOOR_SHARE", "MIN_GAP", "MIN_MARGIN_DECADES", "SIZES", "evaluate_candidate", "keep",
           "select"]

#: test instances tried per family (the first ones of the test set)
CANDIDATES = 40
#: the reference's log-improvement may use at most this share of the precision floor's
MAX_FLOOR_SHARE = 2.0 / 3.0
#: the reference LR must lie this far (decades) inside the env's LR range
MIN_MARGIN_DECADES = 0.5
#: a simple schedule must beat the best constant LR by this much mean S
MIN_GAP = 0.05
#: peaks of the cosine schedules tried, as multiples of the reference LR
COSINE_PEAKS = (1.0, 10.0**0.25, 10.0**0.5, 10.0**0.75, 10.0)
#: instances per family in suite v2 (see README "Suites": chosen so the main job stays ≤ 60 s)
SIZES: dict[str, int] = {"linreg": 16, "quadratic": 16, "mlp": 16, "recsys": 16}
SEEDS = (0, 1, 2, 3, 4)

HERE = Path(__file__).parent
SHIPPED_SELECTION = HERE / "suites" / "v2.json"
COMMAND = "python -m lrgym.leaderboard.selection --ship"


def evaluate_candidate(job: tuple) -> dict:
    """Reference and cosine-schedule scores of one candidate: job = (family, instance, seeds,
    env_kwargs). Returns a JSON-able record (see :func:`keep` for the rule)."""
    family, instance, seeds, env_kwargs = job
    from lrgym.baselines.evaluation import make_env, run_episode
    from lrgym.baselines.reference import ConstantLRRuns
    from lrgym.baselines.schedules import Cosine
    from lrgym.leaderboard.references import reference_entry

    runs = ConstantLRRuns(env_kwargs, instance, seeds)
    ref = runs.search()
    l0 = np.asarray(ref.best.initial_loss, dtype=float)
    lref = np.asarray(ref.best.final_loss, dtype=float)
    cosine = {}
    if np.all(np.isfinite(lref)):
        for m in COSINE_PEAKS:
            lr = min(ref.lr * m, runs.lr_max)
            policy = Cosine(lr)
            env = make_env(policy, env_kwargs)
            env._tasks = runs.tasks
            trajs = [run_episode(policy, env, seed=s, instance=instance) for s in seeds]
            s = score(l0, [t.final_loss for t in trajs], lref, [t.diverged for t in trajs])
            cosine[f"{lr:.6g}"] = float(np.mean(s))
    with np.errstate(divide="ignore"):
        share = np.log(l0 / np.maximum(lref, 1e-300)) / math.log(1.0 / PRECISION_FLOOR)
    return {
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


def keep(record: dict) -> tuple[bool, str]:
    """The rule of the module docstring: (kept?, reason when dropped)."""
    if not record["floor_share"] <= MAX_FLOOR_SHARE:
        return False, f"at the precision floor (log-improvement share {record['floor_share']:.2f} > {MAX_FLOOR_SHARE:.2f})"
    if not (record["margin_decades"] >= MIN_MARGIN_DECADES and record["bracketed"]):
        return False, f"at the LR-range edge (η* = {record['lr']:.3g}, {record['margin_decades']:.2f} decades inside)"
    if not record["gap"] >= MIN_GAP:
        return False, f"no gap (best cosine schedule mean S = {1 + record['gap']:.3f} < {1 + MIN_GAP:.2f})"
    return True, ""


def select(families: list[str] | None = None, candidates: int = CANDIDATES, sizes: dict | None = None,
           workers: int | None = None) -> dict:
    """Run the procedure of the module docstring; returns the selection (JSON-able)."""
    from lrgym.baselines.parallel import imap
    from lrgym.tasks.base import instance_set

    sizes = {**SIZES, **(sizes or {})}
    families = list(families or SIZES)
    test = instance_set("test")
    start = time.time()
    jobs = [(f, int(k), SEEDS, {"family": f, "instance_set": "test"}) for f in families
            for k in test[:candidates]]
    records = {}
    for rec in imap(evaluate_candidate, jobs, workers, "suite v2 candidates"):
        records[(rec["family"], rec["instance"])] = rec
    out = {"rule": __doc__.split("**Procedure**")[1].split("The selection and")[0].strip(),
           "reference_rule": RULE, "seeds": list(SEEDS), "candidates": candidates,
           "thresholds": {"max_floor_share": MAX_FLOOR_SHARE, "min_margin_decades": MIN_MARGIN_DECADES,
                          "min_gap": MIN_GAP, "cosine_peaks": list(COSINE_PEAKS)},
           "command": COMMAND, "seconds": 0.0, "families": {}}
    for f in families:
        kept, table = [], []
        for k in test[:candidates]:
            rec = records[(f, int(k))]
            ok, reason = keep(rec)
            take = ok and len(kept) < sizes[f]
            if take:
                kept.append(int(k))
            table.append({key: rec[key] for key in ("instance", "lr", "margin_decades", "bracketed", "floor_share",
                                                     "gap")}
                         | {"kept": take, "reason": reason or ("" if take else "family full")})
        out["families"][f] = {"instances": kept, "size": sizes[f], "candidates": table,
                              "references": {str(k): records[(f, k)]["reference"] for k in kept}}
    out["seconds"] = round(time.time() - start, 1)
    return out


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=float, allow_nan=True))


def write(selection: dict, ship: bool) -> list[Path]:
    """Write the selection (without the references) and the suite's references file."""
    from lrgym.leaderboard.references import SHIPPED_DIR, References, save_references, task_specs
    from lrgym.leaderboard.suite import suite_v2

    sel_path = SHIPPED_SELECTION if ship else Path("runs") / "selection" / "v2.json"
    ref_dir = SHIPPED_DIR if ship else Path("runs") / "selection"
    sel_path.parent.mkdir(parents=True, exist_ok=True)
    slim = {k: v for k, v in selection.items() if k != "families"}
    slim["families"] = {f: {k: v for k, v in d.items() if k != "references"} for f, d in selection["families"].items()}
    tmp = sel_path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(_jsonable(slim), indent=1) + "\n")
    os.replace(tmp, sel_path)
    suite = suite_v2({f: d["instances"] for f, d in selection["families"].items()})
    tasks = {f"{f}/{k}": ref for f, d in selection["families"].items() for k, ref in d["references"].items()}
    refs = References(suite.version, suite.fingerprint(), tasks, tuple(suite.seeds), task_specs(suite),
                      selection["seconds"])
    return [sel_path, save_references(refs, ref_dir)]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Select suite v2's instances (see the module docstring).")
    p.add_argument("--families", nargs="*", help="families (default: all four)")
    p.add_argument("--candidates", type=int, default=CANDIDATES)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--ship", action="store_true",
                   help="write the shipped leaderboard/suites/v2.json and references/v2-r1.json (maintainers)")
    args = p.parse_args(argv)
    selection = select(args.families, args.candidates, workers=args.workers)
    for f, d in selection["families"].items():
        dropped = {}
        for c in d["candidates"]:
            if not c["kept"]:
                key = c["reason"].split(" (")[0]
                dropped[key] = dropped.get(key, 0) + 1
        print(f"{f}: kept {len(d['instances'])}/{d['size']}: {d['instances']}; dropped: {dropped}")
    for path in write(selection, args.ship):
        print(f"wrote {path}")
    print(f"{selection['seconds']:.0f} s")


if __name__ == "__main__":
    main()
