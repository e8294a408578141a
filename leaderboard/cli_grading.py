"""The ``lrgym leaderboard`` commands that run jobs (:mod:`lrgym.leaderboard.cli` registers them):
``run-baselines``, ``controller-ablation``, ``submit``, ``references``, and ``import-kept`` (a
graded result kept aside); the grading run they share (store, references, progress, the outcome
of each entry, Ctrl-C and a Ray node that differs)."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import List, Optional

import typer
from rich.text import Text

from lrgym.baselines.backend import RayCannotRun
from lrgym.baselines.interrupt_types import STOP_EXCEPTIONS, interrupt_status
from lrgym.baselines.node_check import NodeMismatch
from lrgym.baselines.shell_words import shell_option
from lrgym.leaderboard.cli_files import (board_path, open_existing_store, open_store, output_mode,
    published_board_command, refuse_shown_private, say_wrote, write_file)
from lrgym.leaderboard.cli_options import (AddressOpt, BackendOpt, CommandProgress, DbOpt, MarkdownOpt,
    FamiliesOpt, InstancesOpt, NoMarkdownOpt, PrivateOpt, SeedCountOpt, ShipBoardOpt, SuiteOpt, WorkersOpt, checked_by,
    console, err, nonempty_path, parse_backend, parse_suite, stop_on_node_mismatch, suite_refs_dir)
from lrgym.leaderboard.cli_reading import (cached_references, print_board)
from lrgym.leaderboard.limits import check_memory_limit, check_time_limit
from lrgym.leaderboard.suite import DEFAULT_SUITE
from lrgym.leaderboard.text import clean


def _show_command(suite: str, private: Optional[Path], db: Optional[Path], shape=None) -> str:
    """The ``show`` command of this board, for a grading run's line that it printed some rows only."""
    return _command_of_this_board("show", suite, private, db, shape)


def _command_of_this_board(command: str, suite: str, private: Optional[Path], db: Optional[Path],
                           shape=None) -> str:
    """``lrgym leaderboard COMMAND`` for the board a command just used: its suite as a board names
    it (:func:`published_board_command`; the private suite ``shape``'s families and size) and its
    store, ``--db``, if one was given."""
    return published_board_command(command, suite, private, shape) + (
        f" {shell_option('--db', db)}" if db is not None else "")


def _outcome_line(outcome) -> Text:
    e = outcome.entry
    if outcome.kept is not None:  # it ran, but another owner took its name meanwhile (said in full by submit)
        return Text.assemble(("✗ ", "red"), (clean(e.name, keep_newlines=False), "bold"),
                             f"  ran, but not stored: its name was taken meanwhile; kept in {outcome.kept}")
    if e.status == "ok":
        ranked = e.summary["family_iqm"]
        return Text.assemble(("✓ ", "green"), (e.name, "bold"),
                             f"  family IQM {ranked[0]:.3f} [{ranked[1]:.3f}, {ranked[2]:.3f}]  ({outcome.elapsed:.1f} s)")
    reason = clean(e.failure_reason or "").split("\n", 1)[0]
    return Text.assemble(("✗ ", "red"), (clean(e.name, keep_newlines=False), "bold"), f"  failed: {reason}")


def _references(suite, workers, progress: CommandProgress, directory=None, backend=None):
    from lrgym.leaderboard.references import load_references

    return load_references(
        suite, n_workers=workers, log=progress.log,
        progress=lambda d, t: progress.update(d, t, "references"), directory=directory, backend=backend,
    )


def _run(specs, suite, db, workers, description, refs_dir=None, backend=None, private=None, **kw):
    from lrgym.leaderboard.references import ReferenceSearchError
    from lrgym.leaderboard.runner import check_places, run_suite
    from lrgym.leaderboard.store import StoreUnwritableError, default_store_path

    def on_outcome(outcome):
        progress.log(_outcome_line(outcome))

    try:  # before the store is made (run_suite checks it too)
        check_places(specs, db if db is not None else default_store_path(),
                     sandbox_baselines=kw.get("sandbox_baselines", False))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--db / $LRGYM_STORE / the working directory") from None
    with open_store(db) as store:
        try:
            with CommandProgress(description) as progress:
                refs = _references(suite, workers, progress, refs_dir, backend)
                progress.reset(description)
                # a private suite's key and references: covered in every sandbox, as the store is
                secret = [private, refs_dir] if private is not None else []
                outcomes = run_suite(specs, suite, store=store, references=refs, n_workers=workers,
                                     on_progress=progress.update, on_outcome=on_outcome, log=progress.log,
                                     backend=backend, grader_files=secret, **kw)
        except ValueError as exc:  # a name taken before the run, a bad limit: nothing was run
            # (a name taken during the run is no exception: the outcome says where its result is kept)
            err.print(Text(f"error: {clean(str(exc))}"))
            raise typer.Exit(2) from None
        except StoreUnwritableError as exc:  # a full disk before the run: the waiting results stay in their side files
            err.print(Text(f"error: {clean(str(exc))}; nothing was run"))
            raise typer.Exit(1) from None
        except STOP_EXCEPTIONS as exc:  # Ctrl-C, or SIGTERM / SIGHUP under main() (escalated too): the pool cleaned up
            with contextlib.suppress(OSError):  # a terminal closed (SIGHUP)
                err.print(Text(f"interrupted: {store.entries_added} finished entries are saved in {store.path}"))
            raise typer.Exit(interrupt_status(exc)) from None
        except (NodeMismatch, RayCannotRun) as exc:  # a Ray node runs other code, Ray cannot run a job: stopped
            stop_on_node_mismatch(exc, f"{store.entries_added} finished entries are saved in {store.path}")
        except ReferenceSearchError as exc:  # a family's bug: its own message (no traceback of ours)
            err.print(Text(f"error: {clean(str(exc))}"))  # (before any entry ran: nothing graded)
            raise typer.Exit(1) from None
        return outcomes, refs, store.path


def run_baselines(
    suite: str = SuiteOpt,
    db: Optional[Path] = DbOpt,
    workers: Optional[int] = WorkersOpt,
    learned: bool = typer.Option(True, "--learned/--no-learned",
                                 help="Include the learned baselines (those whose weights are shipped and cover the "
                                 "suite's families)."),
    only: Optional[List[str]] = typer.Option(None, "--only", help="Run just these baselines (repeatable)."),
    markdown: Optional[Path] = MarkdownOpt,
    no_markdown: bool = NoMarkdownOpt,
    ship: bool = ShipBoardOpt,
    private: Optional[Path] = PrivateOpt,
    families: Optional[str] = FamiliesOpt,
    instances: Optional[str] = InstancesOpt,
    seed_count: Optional[str] = SeedCountOpt,
    backend: str = BackendOpt,
    address: Optional[str] = AddressOpt,
):
    """Run the baselines on a suite (all cores), record them, print the ranking and write it
    (runs/LEADERBOARD.md; the shipped LEADERBOARD.md with --ship)."""
    from lrgym.leaderboard.runner import baseline_specs, baselines_without_weights, cpu_description

    if only and not learned:
        raise typer.BadParameter(f"--only {' --only '.join(only)} names the baselines to run; --no-learned would "
                                 "drop some of them: give one of the two", param_hint="--only / --no-learned")
    s = parse_suite(suite, private, families=families, instances=instances, seed_count=seed_count)
    board = board_path(markdown, no_markdown, ship, s, db)
    if private is not None:
        refuse_shown_private(board, "--markdown")
    backend_ = parse_backend(backend, address)
    try:
        specs = baseline_specs(only or None, include_learned=learned, tuned=s.tuned)  # a suite file's own values
    except ValueError as exc:  # an unknown name: a bad value of --only, said as every bad value is
        raise typer.BadParameter(str(exc), param_hint="--only") from None
    except ImportError as exc:
        err.print(Text(f"error: {exc}"))
        raise typer.Exit(2) from None
    # a learned baseline without weights for a family of the suite (a family of one's own) does not
    # apply: left out, said in one line (until 2026-12-07 a failed entry on every run, exit 1); asked
    # for by --only, it is a bad value
    unfit = baselines_without_weights(specs, s)
    if only and unfit:
        raise typer.BadParameter("; ".join(f"{name}: {why}" for name, why in unfit.items()) +
                                 "; valid: a suite of those families, or leave it out", param_hint="--only")
    specs = [spec for spec in specs if spec.name not in unfit]
    for name, why in unfit.items():
        err.print(Text(f"skipped {name}: {why} (not run, nothing stored)"))
    t0 = time.perf_counter()
    outcomes, refs, path = _run(specs, s, db, workers, f"{len(specs)} baselines on {s.version}",
                                refs_dir=suite_refs_dir(private), backend=backend_, private=private)
    elapsed = time.perf_counter() - t0
    lb = print_board(s, db, references=refs, graded=[spec.name for spec in specs],
                     show_command=_show_command(suite, private, db, s),
                     every_poi=board is not None)  # (the Markdown ranking has every row)
    n_ok = sum(o.ok for o in outcomes)
    # stdout: the board (the result); how the run went and the file written: stderr
    err.print(Text(f"{n_ok}/{len(outcomes)} baselines on suite {s.version} in {elapsed:.1f} s "
                   f"({cpu_description()}); results in {path}"))
    if board is not None:
        from lrgym.leaderboard.report import markdown as to_markdown

        cmd = published_board_command("run-baselines", suite, private, s)
        write_file(board, to_markdown(lb, command=cmd, elapsed=elapsed, machine=cpu_description()),
                   output_mode(private is not None), "--markdown")
        say_wrote(board, private=private is not None, secrets=False, to=err)
    if n_ok < len(outcomes):
        raise typer.Exit(1)


def controller_ablation(
    suite: str = typer.Option("val", "--suite", "-s", help="Suite (default: val, the README's table's; v2, quick, "
                              "or a suite file of your own)."),
    db: Optional[Path] = DbOpt,
    workers: Optional[int] = WorkersOpt,
    submission: Optional[Path] = typer.Option(None, "--submission", parser=nonempty_path, metavar="FILE.py",
                                              help="A run's submission file (train_controller's "
                                              "runs/controller_mixed.py): its weights' table (default: the shipped "
                                              "weights')."),
    grade: bool = typer.Option(True, "--grade/--no-grade", help="Grade every row first (default), or print the "
                               "table of the entries the store holds."),
):
    """The learned controller's ablation table (README): the trained weights, random weights and each
    input group held at 0, with bold_driver and plateau for scale, graded into the store; prints
    the table in Markdown (IQM of all runs with its 95% CI, per family IQM / mean / divergence)."""
    from lrgym.leaderboard.ablation_table import ablation_rows, markdown_table, unfit_suite
    from lrgym.leaderboard.ranking import build_leaderboard
    from lrgym.leaderboard.runner import baseline_specs, submission_spec

    s = parse_suite(suite, grading=grade)
    unfit = unfit_suite(s)  # a family of one's own: every controller row would fail (until 2026-12-07 they did)
    if unfit:
        raise typer.BadParameter(unfit, param_hint="--suite")
    try:
        rows = ablation_rows(None if submission is None else str(submission))
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--submission") from None
    refs = None
    if grade:
        try:
            specs = [baseline_specs([r.target], tuned=s.tuned)[0] if r.kind == "baseline"
                     else submission_spec(r.target, r.name) for r in rows]
        except (OSError, ValueError) as exc:
            raise typer.BadParameter(str(exc), param_hint="--submission") from None
        _, refs, _ = _run(specs, s, db, workers, f"controller ablation on {s.version}")
    if refs is None:
        refs = cached_references(s)
    with open_existing_store(db, s) as store:
        lb = build_leaderboard(store, s, references=refs, curves=False, poi=False)
    summaries = {}
    for r in rows:
        try:
            summaries[r.name] = lb.row(r.name).summary
        except KeyError:
            pass
    sys.stdout.write(markdown_table(rows, summaries, tuple(s.family_names), s.name))
    sys.stdout.flush()
    if len(summaries) < len(rows):
        raise typer.Exit(1)


def submit(
    target: str = typer.Argument(..., help="path/to/policy.py:ClassName, package.module:ClassName, or an SB3 model .zip"),
    name: Optional[str] = typer.Option(None, "--name", "-n",
                                       help="Entry name (default: the policy's `name`, else the class / file name)."),
    suite: str = SuiteOpt,
    db: Optional[Path] = DbOpt,
    workers: Optional[int] = WorkersOpt,
    time_limit: float = typer.Option(1800.0, "--time-limit", parser=checked_by(check_time_limit), metavar="SECONDS",
                                     help="Wall-clock (and CPU-time) limit for the whole "
                                     "evaluation (s, 1 to 604800)."),
    memory_limit: Optional[float] = typer.Option(None, "--memory-limit", parser=checked_by(check_memory_limit),
                                                 metavar="MB", help="Memory limit of the whole sandbox: "
                                                 "every process of the policy, its shared memory and /tmp files, where "
                                                 "the grader can make a cgroup, else each process's address space (MB, "
                                                 "256 to the machine's memory) (default: 4096, at most half the "
                                                 "machine's memory)."),
    algo: Optional[str] = typer.Option(None, "--algo", help="SB3 algorithm of a .zip (dqn, ppo, ...) (default: from the file)."),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", help="SB3 models: inner optimizer they were trained "
                                            "with (default: the sidecar's, else sgd)."),
    env_options: Optional[str] = typer.Option(None, "--env-options", help="SB3 models: JSON of the policy choices "
                                              "(lr_init, factors, rejection_threshold); the suite fixes the rest."),
    owner: Optional[str] = typer.Option(None, "--owner", help="Who owns the entry name (default: your user name); "
                                        "a hosted grader sets the account."),
    private: Optional[Path] = PrivateOpt,
    families: Optional[str] = FamiliesOpt,
    instances: Optional[str] = InstancesOpt,
    seed_count: Optional[str] = SeedCountOpt,
    backend: str = BackendOpt,
    address: Optional[str] = AddressOpt,
):
    """Evaluate your policy on a suite in a sandboxed process and record it."""
    from lrgym.leaderboard.runner import checked_submission, submission_spec

    s = parse_suite(suite, private, families=families, instances=instances, seed_count=seed_count)
    backend_ = parse_backend(backend, address)
    if private is not None:
        _private_needs_namespaces(backend_)
    try:
        options = json.loads(env_options) if env_options else None
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--env-options") from None
    try:
        # no --name: the policy's declared name, else the class's (submission_spec); an empty one is refused
        spec = submission_spec(target, name, algo=algo, optimizer=optimizer, env_options=options)
        # a linked or special file: refused now, not after a sandbox run; the spec carries what it trained at
        spec, notes = checked_submission(spec, s)
    except FileNotFoundError as exc:  # the file named is missing (a folder is a ValueError saying so)
        raise typer.BadParameter(str(exc), param_hint="TARGET") from None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="TARGET / --name / --algo / --optimizer / --env-options") from None
    for note in notes:
        err.print(Text(f"note: {note}", style="yellow"))
    outcomes, refs, path = _run([spec], s, db, workers, f"{spec.name} on {s.version}", refs_dir=suite_refs_dir(private),
                                backend=backend_, private=private, time_limit=time_limit, memory_mb=memory_limit,
                                owner=owner)
    outcome = outcomes[0]
    if outcome.kept is not None:  # ran, but another owner took the name between the check and the write
        err.print(Text("submission not stored:", style="red bold"))
        err.print(Text(clean(outcome.kept_message or "")))
        raise typer.Exit(3)
    if outcome.entry.id is None:  # the store could not take it (said above by the run's log)
        err.print(Text(f"submission {'ran' if outcome.ok else 'failed'} but is not stored in {path}; "
                       "see the error above", style="red bold"))
        raise typer.Exit(1)
    if not outcome.ok:
        err.print(Text("submission failed:", style="red bold"))
        err.print(Text(clean(outcome.entry.failure_reason or "")))
        err.print(Text(f"recorded as failed in {path}"))
        raise typer.Exit(1)
    lb = print_board(s, db, show_failures=False, references=refs, graded=[spec.name],
                     show_command=_show_command(suite, private, db, s),
                     every_poi=False)
    row = lb.row(spec.name)
    console.print(Text(f"{spec.name}: rank {row.rank} of {len(lb.rows)} on {s.version}; results in {path}"))
    if lb.best_baseline is None:  # the rank says nothing, the PoI is "–": where the comparison comes from
        from lrgym.leaderboard.provenance import run_baselines_command

        err.print(Text(f"no baseline ranked on this board to compare {clean(spec.name, keep_newlines=False)} with "
                       f"(PoI –): grade them with `{run_baselines_command(s, db)}`"))


def _private_needs_namespaces(backend) -> None:
    """``submit --private`` grades only in the namespaces sandbox (:func:`~lrgym.leaderboard.sandbox.private_refusal`),
    refused here before the references are read; a bad setting, or ``require`` where it cannot be
    met, is left to the run's own check."""
    from lrgym.leaderboard import sandbox

    try:
        refusal = sandbox.private_refusal(here=not backend.is_ray)
    except (ValueError, sandbox.SandboxError):
        return
    if refusal:
        raise typer.BadParameter(refusal, param_hint="--private / $LRGYM_SANDBOX")


def import_kept(
    kept: Path = typer.Argument(..., parser=nonempty_path, metavar="PATH", help="A kept result: <db>.pending/<token>.name-taken (named by submit, "
                                "show and every grading run)."),
    name: str = typer.Option(..., "--name", "-n", help="The entry name to store it under (not taken by "
                             "another submitter nor a baseline)."),
    db: Optional[Path] = DbOpt,
):
    """Store a result that ran but was kept aside because another submitter took its name meanwhile,
    under another --name (its owner, runs and scores unchanged)."""
    import sqlite3

    from lrgym.leaderboard.store import default_store_path

    path = Path(db) if db is not None else default_store_path()
    if not path.is_file():
        raise typer.BadParameter(f"{path}: no results store there; valid: the store the result was meant for "
                                 "(the --db the message named)", param_hint="--db / $LRGYM_STORE")
    with open_store(path) as store:
        try:
            entry_id = store.import_kept(kept, name)
        except ValueError as exc:  # a bad or taken name, a file that is no kept result: the file stays
            raise typer.BadParameter(clean(str(exc)), param_hint="KEPT / --name") from None
        except sqlite3.OperationalError as exc:  # locked past the busy timeout, a full disk: the file stays
            err.print(Text(f"error: the results store {path} takes no entries now ({exc}); the result stays in "
                           f"{kept}: run this command again once it does"))
            raise typer.Exit(1) from None
        entry = store.entry(entry_id)
    console.print(Text(f"stored {entry.name!r} (owner {entry.owner!r}, {entry.n_runs} runs, {entry.status}) "
                       f"in {path} as entry {entry_id}; removed {kept}"))


def references(
    suite: str = typer.Option(DEFAULT_SUITE, "--suite", "-s", help="Suite name, 'all', or a suite file (PATH.json)."),
    workers: Optional[int] = WorkersOpt,
    recompute: bool = typer.Option(False, "--recompute", help="Recompute even if a valid cache exists."),
    ship: bool = typer.Option(False, "--ship", help="Also write the copy shipped in the package (maintainers)."),
    private: Optional[Path] = PrivateOpt,
    families: Optional[str] = FamiliesOpt,
    instances: Optional[str] = InstancesOpt,
    seed_count: Optional[str] = SeedCountOpt,
    backend: str = BackendOpt,
    address: Optional[str] = AddressOpt,
):
    """Compute (or show the cached) best-fixed-LR references of a suite."""
    import numpy as np
    from rich.table import Table

    from lrgym.leaderboard.references import (NEAR_EDGE_DECADES, SHIPPED_DIR, ReferenceSearchError, edge_note,
                                              load_references, save_references)
    from lrgym.leaderboard.suite import SUITES
    from lrgym.leaderboard.suite_file import is_suite_file

    if private is not None and ship:
        raise typer.BadParameter("a private suite's references are never shipped", param_hint="--ship")
    if ship and is_suite_file(suite):
        raise typer.BadParameter(f"--ship with --suite {suite}: a suite file's references are never shipped (they "
                                 "are cached, and its results keyed, under its own name); valid: leave --ship out",
                                 param_hint="--ship")
    if private is None and suite != "all" and suite not in SUITES and not is_suite_file(suite):
        raise typer.BadParameter(f"unknown suite {suite!r}; valid choices: {', '.join(SUITES)}, all (every one), "
                                 "or a suite file (PATH.json)", param_hint="--suite")
    backend_ = parse_backend(backend, address)
    for name in ([None] if private is not None else list(SUITES) if suite == "all" else [suite]):
        s = parse_suite(name, private, families=families, instances=instances, seed_count=seed_count)
        t0 = time.perf_counter()
        try:
            with CommandProgress(f"references of {s.version}") as progress:
                refs = load_references(s, n_workers=workers, recompute=recompute, log=progress.log,
                                       progress=lambda d, t: progress.update(d, t), directory=suite_refs_dir(private),
                                       backend=backend_)
        except (NodeMismatch, RayCannotRun) as exc:
            stop_on_node_mismatch(exc)
        except ReferenceSearchError as exc:  # a family's bug: its own message (no traceback of ours)
            err.print(Text(f"error: {clean(str(exc))}"))
            raise typer.Exit(1) from None
        table = Table(title=Text(f"references of {s.version} ({time.perf_counter() - t0:.1f} s)"))
        for col in ("instance", "best fixed LR", "median L0", "median L_ref", "LR range edge"):
            table.add_column(col, justify="right")
        shown = [] if private is not None else s.tasks()  # a private suite's answers stay private
        notes = {t.label: edge_note(refs.tasks[t.label]) for t in shown}
        for t in shown:
            d = refs.tasks[t.label]
            table.add_row(t.label, f"{d['lr']:.3g}", f"{np.median(d['initial_loss']):.4g}",
                          f"{np.median(d['final_loss']):.4g}", notes[t.label] or "–")
        console.print(table)
        near = [label for label, note in notes.items() if note]
        if near:  # a family designer's cue (the README's own-family example had its LRs near lr_max)
            console.print(Text(f"{len(near)} of {len(shown)} best fixed LRs lie less than {NEAR_EDGE_DECADES:g} decade "
                               "inside the LR range or at its end (the range, not the task, may bound them): "
                               f"{', '.join(near)}; scale the family's loss, or set the suite's lr_min / lr_max, so "
                               "that they lie well inside", style="yellow"), soft_wrap=True)
        if private is not None:  # the empty table alone said nothing of why
            console.print(Text(f"{len(refs.tasks)} references, not shown (a private suite's answers); "
                               f"kept in {suite_refs_dir(private)}"), soft_wrap=True)
        if ship:
            err.print(Text(f"wrote {save_references(refs, SHIPPED_DIR)}"))  # stdout: the table alone
