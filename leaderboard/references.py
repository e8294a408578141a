"""References: the best constant SGD learning rate of every suite instance, and its losses.

For each task (family, instance) of a suite, :func:`lrgym.baselines.reference.search_reference`
(the one reference rule of lrgym) finds the best constant SGD LR — the one against which no
other LR run scores a higher mean normalised score over the suite's seeds (the minimax rule
of :func:`lrgym.baselines.reference.best_row`) — by a half-decade grid over the env's LR range
followed by 1/16- and 1/64-decade refinements around the best point, never past an LR that
diverged; with the suite's horizon and inner steps. Losses below 10⁻¹² × the initial loss
count as 10⁻¹² × the initial loss (:data:`PRECISION_FLOOR`). The reference's final loss on
seed s, ``L_ref(instance, s)``, is the target of the run with that seed: a run's score compares
its log-improvement with the reference's on the same data stream and initialisation (see
:mod:`lrgym.baselines.score`).

References are deterministic; they are computed once per suite version and cached as JSON:

1. ``$LRGYM_CACHE`` or ``~/.cache/lrgym`` (``references/<suite>-r<revision>.json``), then
2. the copy shipped with the package (``leaderboard/references/``), then
3. computed (process pool over all cores) and written to the cache directory.

A cached file is used only if its content hash is the one recorded when it was written
(:mod:`lrgym.leaderboard.trust`: the grader records the sha256 of every file it writes in a
private registry, and ``--ship`` writes ``references/SHA256SUMS``), its suite fingerprint,
reference rule and the instances' task specs match the current code, and the code reproduces
its first run of every family (so changed dynamics are noticed too); otherwise it is
recomputed: a changed or foreign file is never trusted. ``lrgym leaderboard references --suite
NAME`` (re)computes on demand; ``--ship`` writes the shipped copy (maintainers).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from lrgym.leaderboard import trust
from lrgym.leaderboard.suite import Suite, Task, get_suite

from lrgym.baselines.outputs import json_copy
from lrgym.baselines.reference import RULE
from lrgym.baselines.score import PRECISION_FLOOR, floored

__all__ = ["NEAR_EDGE_DECADES", "PRECISION_FLOOR", "ReferenceSearchError", "References", "cache_dir", "compute_references", "edge_note",
           "floored", "load_references", "reference_entry"]

SHIPPED_DIR = Path(__file__).parent / "references"
FORMAT = 3  # bump when the file layout changes (the search rule is checked by its name, RULE)


def cache_dir() -> Path:
    """``$LRGYM_CACHE`` if set, else ``~/.cache/lrgym`` (``$XDG_CACHE_HOME/lrgym``)."""
    env = os.environ.get("LRGYM_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lrgym"


def _file_name(suite: Suite) -> str:
    return f"{suite.name}-r{suite.revision}.json"


@dataclass
class References:
    """Per-task reference LR and per-seed losses of one suite version."""

    suite_version: str
    fingerprint: str
    tasks: dict[str, dict]  # task label → reference_entry(): {"lr", "initial_loss", "final_loss", ...}
    seeds: tuple[int, ...]
    specs: dict[str, dict]
    elapsed: float = 0.0

    def lr(self, task: Task) -> float:
        return self.tasks[task.label]["lr"]

    def final_loss(self, task: Task, seed: int) -> float:
        """``L_ref`` for a run of ``task`` with env seed ``seed``."""
        return self.tasks[task.label]["final_loss"][self.seeds.index(seed)]

    def initial_loss(self, task: Task, seed: int) -> float:
        return self.tasks[task.label]["initial_loss"][self.seeds.index(seed)]

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "suite_version": self.suite_version,
            "fingerprint": self.fingerprint,
            "rule": RULE,
            "seeds": list(self.seeds),
            "elapsed_seconds": round(self.elapsed, 3),
            "specs": self.specs,
            "tasks": self.tasks,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "References":
        return cls(d["suite_version"], d["fingerprint"], d["tasks"], tuple(d["seeds"]), d["specs"],
                   d.get("elapsed_seconds", 0.0))


def task_specs(suite: Suite) -> dict[str, dict]:
    """The sampled :class:`~lrgym.tasks.base.TaskSpec` of every task, as plain dicts."""
    from lrgym.tasks import make_family

    specs = {}
    for fs in suite.families:
        family = make_family(fs.family, **dict(suite.env_kwargs(fs.family).get("family_options") or {}))
        for k in fs.instances:
            specs[Task(fs.family, k).label] = json_copy(family.sample(k).to_dict())
    return specs


def _valid(data: dict, suite: Suite, specs: dict) -> bool:
    return (
        data.get("format") == FORMAT
        and data.get("suite_version") == suite.version
        and data.get("fingerprint") == suite.fingerprint()
        and data.get("rule") == RULE
        and _same_specs(data.get("specs"), specs)
        and all(t.label in data.get("tasks", {}) for t in suite.tasks())
    )


def _same_specs(stored, current, rtol: float = 1e-9) -> bool:
    """Task specs equal up to float rounding.

    Spec fields such as a condition number come from ``exp``/``log`` of a uniform draw, and
    their last bits can differ between CPUs (NumPy and libm pick SIMD code paths by CPU); a
    reference computed on one machine must stay valid on another. Anything but a float must
    match exactly.
    """
    if isinstance(stored, dict) and isinstance(current, dict):
        return stored.keys() == current.keys() and all(_same_specs(stored[k], current[k], rtol) for k in stored)
    if isinstance(stored, float) and isinstance(current, float):
        return stored == current or math.isclose(stored, current, rel_tol=rtol, abs_tol=0.0)
    return type(stored) is type(current) and stored == current


def reference_entry(ref) -> dict:
    """The stored form of a :class:`lrgym.baselines.reference.Reference`: the reference LR, its
    per-seed initial and final losses, the LR range, how far inside it the LR lies, and every
    LR the search ran (with its final losses)."""
    return {
        "lr": ref.lr,
        "initial_loss": list(ref.best.initial_loss),
        "final_loss": list(ref.best.final_loss),
        "lr_range": [ref.lr_min, ref.lr_max],
        "margin_decades": round(ref.margin_decades, 6),
        "bracketed": ref.bracketed,
        "evaluated": [{"lr": r.lr, "final_loss": list(r.final_loss)} for r in ref.evaluated],
    }


#: a reference LR less than this many decades inside the LR range is flagged by ``lrgym leaderboard
#: references`` (:func:`edge_note`): the LR range, not the task, may be what bounds it
NEAR_EDGE_DECADES = 1.0


def edge_note(entry: dict) -> str:
    """What ``lrgym leaderboard references`` notes of a stored reference (:func:`reference_entry`):
    "" if its LR lies at least :data:`NEAR_EDGE_DECADES` inside the LR range with a worse LR run on
    each side, else which end it is near and how far ("at lr_max = 10, not bracketed", "0.62
    decades below lr_max = 10"). A family designer's cue to scale the family's loss (or a suite's
    ``lr_min`` / ``lr_max``) so that the best constant LR lies well inside the range, as the
    built-in families' do (suite v2 keeps only instances at least half a decade inside,
    :mod:`lrgym.leaderboard.selection`)."""
    lr, (lr_min, lr_max) = entry["lr"], entry["lr_range"]
    above, below = math.log10(lr / lr_min), math.log10(lr_max / lr)
    side, bound, distance, way = (("lr_min", lr_min, above, "above") if above < below
                                  else ("lr_max", lr_max, below, "below"))
    if not entry["bracketed"] or distance < 1e-9:
        return f"at {side} = {bound:.3g}" + ("" if entry["bracketed"] else ", not bracketed")
    if distance < NEAR_EDGE_DECADES:
        return f"{distance:.2f} decades {way} {side} = {bound:.3g}"
    return ""


class ReferenceSearchError(RuntimeError):
    """The reference search of a suite failed: ``str(self)`` says which suite and the worker's
    reason, the whole message a command shows (without its own traceback). A family that raised
    (:class:`lrgym.baselines.reference.TaskRunError`) is said in its own words: family, target,
    instance, seed, LR and the frames down to its code (:class:`lrgym.leaderboard.failures.FamilyError`);
    anything else as the grader's error, with the worker's traceback."""


def compute_references(
    suite: Suite | str,
    n_workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    backend=None,
) -> References:
    """Search the reference of every task of ``suite`` (the grader's worker pool of ``backend``,
    local by default or ``"ray"``: :func:`lrgym.leaderboard.backends.grader_pool`); see the
    module docstring. A job that fails raises :class:`ReferenceSearchError`."""
    from lrgym.leaderboard.backends import grader_pool
    from lrgym.leaderboard.pool import Job

    suite = get_suite(suite)
    t0 = time.perf_counter()
    jobs = [
        Job("references", {
            "op": "reference", "env_kwargs": suite.env_kwargs(t.family), "instance": t.instance,
            "seeds": list(suite.seeds),
        })
        for t in suite.tasks()
    ]
    done = [0]

    def on_reply(job, reply):
        done[0] += 1
        if progress is not None:
            progress(done[0], len(jobs))

    result = grader_pool(backend, n_workers, quiet=False).run(jobs, on_reply=on_reply)["references"]
    if result.failed:  # a family's bug: the worker's reason names its family, target, instance and seed
        raise ReferenceSearchError(f"computing the references of suite {suite.version} failed: {result.reason}")
    tasks = {}
    for t, reply in zip(suite.tasks(), result.replies):
        tasks[t.label] = reply["reference"]
    return References(suite.version, suite.fingerprint(), tasks, tuple(suite.seeds), task_specs(suite),
                      time.perf_counter() - t0)


def _read(path: Path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def references_file(refs: References, directory: Path | None = None) -> tuple[Path, str, int]:
    """Where :func:`save_references` writes ``refs`` (``directory``, default: the cache
    directory; the folder is made), the text it writes and the file's mode: a private suite's
    references (the answers to its hidden instances) 0600, whatever the umask; others 0666 less
    the umask (they are public). For a writer that replaces them together with another file
    (:func:`lrgym.leaderboard.selection.write`), then calls :func:`lrgym.leaderboard.trust.record`."""
    from lrgym.leaderboard.private import is_private_version

    directory = Path(directory) if directory is not None else cache_dir() / "references"
    directory.mkdir(parents=True, exist_ok=True)
    name, _, rev = refs.suite_version.partition("/")
    mode = 0o600 if is_private_version(refs.suite_version) else 0o666
    return directory / f"{name}-{rev}.json", json.dumps(refs.to_dict(), indent=1), mode


def save_references(refs: References, directory: Path | None = None) -> Path:
    """Write ``refs`` to ``directory`` (default: the cache directory) by replacing the file
    (:func:`lrgym.baselines.outputs.replace_file`; where and how: :func:`references_file`) and
    record its hash (:mod:`lrgym.leaderboard.trust`)."""
    from lrgym.baselines.outputs import replace_file

    path, text, mode = references_file(refs, directory)
    replace_file(path, text, mode)
    trust.record(path)
    return path


def reproduces(refs: References, suite: Suite, rtol: float = 1e-6) -> bool:
    """Whether the current code reproduces the references: re-runs, per family, the reference
    LR on the first instance and seed (a fraction of a second) and compares the final loss.

    Task specs are compared separately; this catches changed dynamics (kernels, data
    generation, RNG use) that leave the specs as they were.
    """
    from lrgym.baselines.evaluation import make_env, run_episode
    from lrgym.baselines.schedules import Constant

    seed = suite.seeds[0]
    for fs in suite.families:
        task = Task(fs.family, fs.instances[0])
        policy = Constant(refs.lr(task))
        traj = run_episode(policy, make_env(policy, suite.env_kwargs(fs.family)), seed=seed, instance=task.instance)
        want = refs.final_loss(task, seed)
        got = traj.final_loss
        if not (got == want or (math.isfinite(got) and math.isfinite(want)
                                and abs(got - want) <= rtol * max(abs(want), 1e-300))):
            return False
    return True


def find_cached(suite: Suite | str, verify: bool = True, directory: Path | None = None
                ) -> tuple[References, Path] | None:
    """Valid cached references of ``suite`` (cache directory first, then the shipped copy).

    Valid: same suite fingerprint, reference rule and task specs, and (``verify``) the first run of
    each family is reproduced by the current code (:func:`reproduces`).
    """
    suite = get_suite(suite)
    specs = task_specs(suite)
    places = (cache_dir() / "references", SHIPPED_DIR) if directory is None else (Path(directory),)
    for place in places:
        path = place / _file_name(suite)
        if not path.exists() or not trust.is_trusted(path):
            continue
        data = _read(path)
        if data is not None and _valid(data, suite, specs):
            refs = References.from_dict(data)
            if not verify or reproduces(refs, suite):
                return refs, path
    return None


def load_references(
    suite: Suite | str,
    n_workers: int | None = None,
    recompute: bool = False,
    progress: Callable[[int, int], None] | None = None,
    log: Callable[[str], None] | None = None,
    directory: Path | None = None,
    backend=None,
) -> References:
    """The references of ``suite``: cached if valid, else computed (on ``backend``) and cached (in
    ``directory`` alone if given: a private suite's references stay with its key)."""
    suite = get_suite(suite)
    if not recompute:
        found = find_cached(suite, directory=directory)
        if found is not None:
            return found[0]
    if log is not None:
        log(f"computing references for suite {suite.version} ({len(suite.tasks())} tasks x "
            f"≈35 learning rates x {len(suite.seeds)} seeds) ...")
    refs = compute_references(suite, n_workers=n_workers, progress=progress, backend=backend)
    try:
        path = save_references(refs, directory)
        if log is not None:
            log(f"references cached in {path} ({refs.elapsed:.1f} s)")
    except OSError as exc:  # read-only home: still usable for this run
        if log is not None:
            log(f"could not cache the references ({exc}); continuing")
    return refs
