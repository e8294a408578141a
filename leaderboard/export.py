"""Results out of the store: CSV / JSON files and pandas DataFrames.

Three tables, each a list of flat rows (one concept per table, joined by ``entry_id``):

``entries``
    one row per entry: ``entry_id``, ``name``, ``kind``, ``status``, ``failure_reason`` (as the
    board shows it: without control characters, nor the folders of the submitter's file:
    :func:`lrgym.leaderboard.public_source.public_reason`),
    ``suite_version``, ``created_at``, ``n_runs``, ``seeds``, ``policy_source_hash``, ``cpu`` and
    the headline statistics of its summary: ``family_iqm`` (the ranking statistic) with
    ``family_iqm_low`` / ``family_iqm_high`` (its CI on the suite's instances) and
    ``family_iqm_new_instances_low`` / ``_high`` (its CI over new instances), ``iqm`` (all runs
    pooled) with ``iqm_low`` / ``iqm_high``, ``mean``, ``median``, ``diverged_fraction``,
    ``reached_fraction`` — as the board shows them (recomputed from the runs for an entry an
    older lrgym stored; empty where absent); ``trained_apart``: for a trained policy graded at
    other settings than it learned (the board's † note), each such setting with the value it was
    trained at and the suite's, e.g. ``lr_max 1 (graded at 10)``, else empty.
``runs``
    one row per run: ``entry_id``, ``name``, ``kind``, ``family``, ``instance``, ``seed``,
    ``score`` (the normalised score S), ``initial_loss``, ``final_loss``, ``diverged``,
    ``steps_to_target`` (inf: never reached).
``trajectories``
    one row per step of every run: ``entry_id``, ``name``, ``family``, ``instance``, ``seed``,
    ``step`` and one column per recorded curve (``lr``, ``train_loss``, ``val_loss``,
    ``metric``). Row ``step = t`` holds the losses and metric after ``t`` env steps (``t = 0``:
    at reset) and the LR of the next step, from ``t`` to ``t + 1`` (the report's LR panels draw it
    at ``t`` too); a run's last row has no next step, so its ``lr`` is NaN (JSON: null).

By default the rows are those the board ranks: the latest successful entry per name of one
suite version. ``every_entry=True`` takes every entry of the store (failed and superseded ones
too, any suite).

::

    lrgym leaderboard export --format csv --out results/      # entries.csv, runs.csv, trajectories.csv
    lrgym leaderboard export --format json --out results.json # {"entries": [...], "runs": [...], ...}

    from lrgym.leaderboard.export import load_results
    runs = load_results()                        # pandas DataFrame of per-run scores (the default suite)
    runs.groupby(["name", "family"]).score.mean()
    traj = load_results(table="trajectories", suite="quick", db="my.sqlite")

In JSON, non-finite numbers (a diverged run's loss, a target never reached) are written as
``null`` (JSON has no NaN or infinity); in CSV they are ``nan`` / ``inf``, which pandas reads back.
In CSV a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
``'`` before it, so that no spreadsheet runs it as a formula (a failed entry's reason is the
policy's own words).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lrgym.baselines.outputs import write_output
from lrgym.leaderboard.public_source import public_reason
from lrgym.leaderboard.store import CURVE_KEYS, EntryRecord, ResultStore
from lrgym.leaderboard.suite import DEFAULT_SUITE, SUITES

TABLES: tuple[str, ...] = ("entries", "runs", "trajectories")
FORMATS: tuple[str, ...] = ("csv", "json")
#: summary keys copied into the entries table: column → (summary key, index or None)
SUMMARY_COLUMNS = {
    "family_iqm": ("family_iqm", 0), "family_iqm_low": ("family_iqm", 1), "family_iqm_high": ("family_iqm", 2),
    "family_iqm_new_instances_low": ("family_iqm_instances", 1),
    "family_iqm_new_instances_high": ("family_iqm_instances", 2),
    "iqm": ("iqm", 0), "iqm_low": ("iqm", 1), "iqm_high": ("iqm", 2),
    "mean": ("mean", 0), "median": ("median", 0), "diverged_fraction": ("diverged_fraction", None),
    "reached_fraction": ("reached_fraction", None),
}


def suite_version(suite: str | None) -> str | None:
    """The stored version of a suite given by name (``"v2"`` → ``"v2/r3"``) or by version (any
    ``name/revision``, e.g. an older ``"v2/r1"`` or a private suite's); None: no suite."""
    if suite is None or suite in SUITES:
        return None if suite is None else SUITES[suite].version
    if "/" not in str(suite):
        raise ValueError(f"unknown suite {suite!r}; valid: {', '.join(SUITES)} or a stored version such as "
                         f"{SUITES[DEFAULT_SUITE].version!r}")
    return suite


def select_entries(store: ResultStore, suite_version: str | None, every_entry: bool = False) -> list[EntryRecord]:
    """The entries to export: the ranked ones of ``suite_version``, or every entry of the store."""
    if every_entry:
        return store.entries()
    return store.latest_entries(suite_version)


def _summary_value(summary: Any, key: str, index: int | None):
    value = summary.get(key) if isinstance(summary, dict) else None
    if index is not None and isinstance(value, (list, tuple)):
        value = value[index] if len(value) > index else None
    return value if isinstance(value, (int, float)) else None


def _current_summary(store: ResultStore, e: EntryRecord):
    """The summary the board shows for ``e``: recomputed from its runs if an older lrgym stored it
    without the family IQM (entries of a suite this lrgym does not know keep theirs)."""
    from lrgym.leaderboard.ranking import current_summary

    suite = next((s for s in SUITES.values() if s.version == e.suite_version), None)
    if e.status != "ok" or suite is None:
        return e.summary
    try:  # (the scores alone: a run's curves are nearly all its bytes, and no summary reads them)
        return current_summary(e.summary, store.runs(e.id, curves=False), suite)
    except KeyError:  # runs of another instance set than the suite's
        return e.summary
    except ValueError:  # a run's score is NaN or infinite: no aggregate is defined (the board lists it unranked)
        return e.summary


#: the entries table's columns that are the entry's own fields (then :data:`SUMMARY_COLUMNS`)
ENTRY_COLUMNS: tuple[str, ...] = ("entry_id", "name", "kind", "status", "failure_reason", "suite_version", "created_at",
                                  "n_runs", "seeds", "policy_source_hash", "cpu", "trained_apart")


def _trained_apart(e: EntryRecord) -> str | None:
    """The ``trained_apart`` cell of ``e``: what the board notes of an entry trained at other
    settings than graded (:func:`lrgym.leaderboard.trained_apart.apart_text` of the numbers its entry
    keeps, its suite's family names), or None."""
    from lrgym.leaderboard.trained_apart import apart_text, entry_apart

    spec = e.env_spec if isinstance(e.env_spec, dict) else {}
    described = spec.get("suite") if isinstance(spec.get("suite"), dict) else {}
    families = tuple(f["family"] for f in described.get("families") or () if isinstance(f, dict)
                     and isinstance(f.get("family"), str))
    return apart_text(entry_apart(spec, families or None), families) or None


def entry_rows(entries: list[EntryRecord], store: ResultStore | None = None) -> list[dict]:
    rows = []
    for e in entries:
        summary = e.summary if store is None else _current_summary(store, e)
        reason = None if e.failure_reason is None else public_reason(e.failure_reason, e.env_spec)
        own = (e.id, e.name, e.kind, e.status, reason, e.suite_version, e.created_at, e.n_runs,
               " ".join(map(str, e.seeds)), e.policy_source_hash, e.cpu, _trained_apart(e))
        row = dict(zip(ENTRY_COLUMNS, own, strict=True))
        row.update({col: _summary_value(summary, key, i) for col, (key, i) in SUMMARY_COLUMNS.items()})
        rows.append(row)
    return rows


def run_rows(store: ResultStore, entries: list[EntryRecord]) -> Iterator[dict]:
    """The ``runs`` table, row by row (read entry by entry, without the curves)."""
    for e in entries:
        for r in store.runs(e.id, curves=False):
            yield {"entry_id": e.id, "name": e.name, "kind": e.kind, "family": r.family, "instance": r.instance,
                   "seed": r.seed, "score": r.score, "initial_loss": r.initial_loss, "final_loss": r.final_loss,
                   "diverged": r.diverged, "steps_to_target": r.steps_to_target}


def step_rows(store: ResultStore, entries: list[EntryRecord]) -> Iterator[dict]:
    """The ``trajectories`` table, row by row (read entry by entry): a board of 2,000 v2 entries
    has 24 million, which as one list took tens of GB of memory."""
    for e in entries:
        for r in store.runs(e.id):
            curves = {**{k: () for k in CURVE_KEYS}, **r.curves}
            for t in range(max((len(v) for v in curves.values()), default=0)):
                yield {"entry_id": e.id, "name": e.name, "family": r.family, "instance": r.instance, "seed": r.seed,
                       "step": t, **{k: (v[t] if t < len(v) else math.nan) for k, v in curves.items()}}


def table_rows(store: ResultStore, suite_version: str | None, every_entry: bool = False,
               only: Iterable[str] = TABLES) -> dict[str, Iterable[dict]]:
    """The tables (see the module docstring; ``only``: those named, default all three):
    ``entries`` as a list, ``runs`` and ``trajectories`` as iterators that read the store as they
    are consumed (once each). One read of the store's entries: the runs are those entries', which
    the store never changes (what is written is what :func:`holds_private` says of it). A table
    not named is not made: ``load_results(table="runs")`` made all three, the entries' summaries
    and every trajectory included, and kept one."""
    only = tuple(only)
    unknown = [t for t in only if t not in TABLES]
    if unknown:
        raise ValueError(f"unknown table {unknown[0]!r}; valid choices: {', '.join(TABLES)}")
    entries = select_entries(store, suite_version, every_entry)
    made = {"entries": lambda: entry_rows(entries, store), "runs": lambda: run_rows(store, entries),
            "trajectories": lambda: step_rows(store, entries)}
    return {table: made[table]() for table in only}


def tables(store: ResultStore, suite_version: str | None, every_entry: bool = False) -> dict[str, list[dict]]:
    """The three tables (see the module docstring) as lists of dicts (:func:`table_rows` holds
    them in memory one row at a time)."""
    return {table: list(rows) for table, rows in table_rows(store, suite_version, every_entry).items()}


def _finite_or_none(x):
    return None if isinstance(x, float) and not math.isfinite(x) else x


def json_chunks(data: dict[str, Iterable[dict]], batch: int = 2_000) -> Iterator[str]:
    """``json.dumps(data, indent=1, allow_nan=False) + "\\n"`` of the tables, non-finite numbers as
    ``null``, the same text to the byte, made ``batch`` rows at a time."""
    yield "{"
    for i, (table, rows) in enumerate(data.items()):
        yield ("," if i else "") + "\n " + json.dumps(table) + ": ["
        rows, first = iter(rows), True
        while chunk := [{k: _finite_or_none(v) for k, v in row.items()} for row in itertools.islice(rows, batch)]:
            text = json.dumps(chunk, indent=1, allow_nan=False)[2:-2]  # the rows at depth 1, without "[\n" "\n]"
            yield ("\n" if first else ",\n") + " " + text.replace("\n", "\n ")  # at depth 2 (no raw newline in JSON)
            first = False
        yield "]" if first else "\n ]"
    yield "\n}\n" if data else "}\n"


def write_json(data: dict[str, Iterable[dict]], path: Path, mode: int = 0o644) -> Path:
    """The tables as one JSON file, mode ``mode`` (less the umask), written as the rows come."""
    return write_output(path, json_chunks(data), mode=mode)


def holds_private(data: dict[str, Iterable[dict]]) -> bool:
    """Whether the :func:`table_rows` (or :func:`tables`) ``data`` hold a private suite's rows (its
    hidden instance ids, env seeds, initial losses and curves): those of a private suite, or every
    entry of a store that has any (``every_entry``). Such an export is written owner-only
    (:func:`write_tables`)."""
    from lrgym.leaderboard.private import is_private_version

    return any(is_private_version(e.get("suite_version")) for e in data["entries"])


def write_csv(data: dict[str, Iterable[dict]], directory: Path, mode: int = 0o644) -> list[Path]:
    """One ``<table>.csv`` per table in ``directory`` (created if needed), each file mode ``mode``
    (less the umask), written as the rows come; the columns are the first row's."""
    directory.mkdir(parents=True, exist_ok=True)
    return [write_output(directory / f"{table}.csv", _csv_chunks(table, iter(rows)), mode=mode)
            for table, rows in data.items()]


def _csv_chunks(table: str, rows: Iterator[dict], batch: int = 10_000) -> Iterator[str]:
    first = next(rows, None)
    columns = list(first) if first is not None else list(_empty_columns(table))
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    for n, row in enumerate(itertools.chain([first] if first is not None else [], rows), 1):
        writer.writerow({k: _inert(v) for k, v in row.items()})
        if n % batch == 0:
            yield text.getvalue()
            text.seek(0)
            text.truncate()
    yield text.getvalue()


#: first characters that make a spreadsheet read a cell as a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(value):
    """A text cell a spreadsheet would run as a formula (a failure reason is the policy's own
    words: ``=HYPERLINK(...)``), with a ``'`` before it, as spreadsheets mark text; numbers as
    they are."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def _empty_columns(table: str) -> tuple[str, ...]:
    if table == "entries":
        return (*ENTRY_COLUMNS, *SUMMARY_COLUMNS)
    if table == "runs":
        return ("entry_id", "name", "kind", "family", "instance", "seed", "score", "initial_loss", "final_loss",
                "diverged", "steps_to_target")
    return ("entry_id", "name", "family", "instance", "seed", "step", *CURVE_KEYS)


def export(store: ResultStore, fmt: str, out: Path, suite_version: str | None,
           every_entry: bool = False) -> list[Path]:
    """Write the tables of ``store`` as ``fmt`` (``csv``: a folder of three files; ``json``: one
    file): :func:`table_rows`, then :func:`write_tables`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid choices: {', '.join(FORMATS)}")
    return write_tables(table_rows(store, suite_version, every_entry), fmt, out)


def write_tables(data: dict[str, Iterable[dict]], fmt: str, out: Path) -> list[Path]:
    """Write the :func:`table_rows` (or :func:`tables`) ``data`` as ``fmt`` (``csv``: a folder of
    three files; ``json``: one file), as the rows come (the runs' iterators are consumed).

    Files holding a private suite's rows (:func:`holds_private`: its own export, or ``--all`` of a
    store that has one) are written mode 0600, readable by the grader alone: their runs name the
    hidden instances, env seeds and initial losses. Others 0644 (less the umask). The caller that
    says which it wrote asks :func:`holds_private` of the same ``data``: one read of the store."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid choices: {', '.join(FORMATS)}")
    mode = 0o600 if holds_private(data) else 0o644
    if fmt == "json":
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        return [write_json(data, Path(out), mode)]
    return write_csv(data, Path(out), mode)


def load_results(db: str | Path | None = None, suite: str | None = DEFAULT_SUITE, table: str = "runs",
                 every_entry: bool = False):
    """A table of the results store as a pandas DataFrame (the ``[analysis]`` extra).

    ``db``: the SQLite store (default ``$LRGYM_STORE`` or ``./lrgym_leaderboard.sqlite``);
    ``suite``: the suite (a name such as ``"v2"``, the default suite, or a version such as
    ``"v2/r3"``) whose ranked entries to take; ``table``: ``"runs"`` (per-run
    scores, the default), ``"entries"`` or ``"trajectories"`` (see the module docstring);
    ``every_entry``: every entry of the store instead.

    A table with no rows of ``suite`` from a store that holds other suites' entries (a store of
    ``quick`` results read without ``suite="quick"``) comes with a ``UserWarning`` naming the suite
    versions it holds and their entries (pass one as ``suite``); an empty store's empty table comes
    without one. Either way the frame has the table's columns.
    """
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; valid choices: {', '.join(TABLES)}")
    from lrgym.extras import import_extra

    pd = import_extra("pandas", "analysis", "load_results")
    from lrgym.leaderboard.store import default_store_path

    path = Path(db) if db is not None else default_store_path()
    if not path.exists():  # do not create an empty store by reading
        raise FileNotFoundError(f"no results store at {path}: run `lrgym leaderboard run-baselines` or pass db=")
    version = suite_version(suite)
    with ResultStore(path) as store:
        rows = list(table_rows(store, version, every_entry, only=(table,))[table])  # that table alone
        others = {v: n for v, n in store.suite_versions().items() if v != version} if not rows and not every_entry else {}
    if others:  # the results are there, of another suite: not lost
        import warnings

        held = ", ".join(f"{v} ({n} {'entry' if n == 1 else 'entries'})" for v, n in others.items())
        warnings.warn(f"no {table} of suite {version} in {path}; it holds entries of {held}: pass suite= one of "
                      f"these (load_results(suite={next(iter(others))!r}, ...))", UserWarning, stacklevel=2)
    return pd.DataFrame(rows, columns=list(rows[0]) if rows else list(_empty_columns(table)))
