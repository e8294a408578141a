"""Content hashes of the reference files the grader wrote: a changed or foreign file is not used.

Every references file the grader writes (:func:`lrgym.leaderboard.references.save_references`)
is recorded here with its sha256: files in the cache directory in ``trusted.json`` beside them
(created mode 0600, in a directory a sandboxed policy cannot see), files shipped with the package
in ``SHA256SUMS`` beside them (written by ``lrgym leaderboard references --ship``).
:func:`is_trusted` says whether a file still has the hash recorded for it; a file with no record
(written by someone else) or another hash (changed since) is ignored and the references are
recomputed. ``python -m lrgym.leaderboard.trust DIR`` re-records every ``*.json`` of ``DIR``
(maintainers, after reviewing shipped files by hand) and forgets the records of files no longer
there.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from lrgym.files import file_problem, read_regular_file

__all__ = ["digest", "forget_missing", "is_trusted", "record"]

REGISTRY = "trusted.json"
SUMS = "SHA256SUMS"
#: the lock file of a cache folder's registry (see :func:`_locked`)
LOCK = ".trusted.json.lock"


def digest(path: Path) -> str:
    """The sha256 of the regular file ``path``; anything else (a FIFO: reading it waited forever,
    a folder) is a ``ValueError`` naming what it is (:func:`lrgym.files.read_regular_file`)."""
    return hashlib.sha256(read_regular_file(path, "references file", "a regular *.json file", binary=True)).hexdigest()


def _shipped(directory: Path) -> bool:
    from lrgym.leaderboard.references import SHIPPED_DIR

    return Path(directory).resolve() == SHIPPED_DIR.resolve()


def _read_registry(directory: Path) -> dict[str, str]:
    if _shipped(directory):
        try:
            lines = (directory / SUMS).read_text().splitlines()
        except OSError:
            return {}
        return {name.strip(): h for h, _, name in (ln.partition("  ") for ln in lines) if name.strip()}
    try:
        data = json.loads((directory / REGISTRY).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_registry(directory: Path, registry: dict[str, str]) -> None:
    from lrgym.baselines.outputs import replace_file

    if _shipped(directory):
        text = "".join(f"{h}  {name}\n" for name, h in sorted(registry.items()))
        name, mode = SUMS, 0o644
    else:
        text, name, mode = json.dumps(registry, indent=1, sort_keys=True), REGISTRY, 0o600
    replace_file(directory / name, text, mode)


def _locked(directory: Path):
    """An exclusive lock on ``directory``'s registry for one read-modify-write: two graders
    recording files of one cache folder at once each rewrote the registry from what they had
    read, and records were lost (36 of 400 in a test), so those files were recomputed.

    The lock is ``fcntl.flock`` on :data:`LOCK` beside the registry, made mode 0600: only the
    grader's user can open it, so no other user can hold the lock and stall the grader (a lock
    on the folder itself could be taken by anyone who can read it). The shipped folder, written
    by maintainers only (``references --ship``), is not locked and gets no lock file."""
    import contextlib
    import fcntl

    @contextlib.contextmanager
    def hold():
        if _shipped(directory):
            yield
            return
        fd = os.open(Path(directory) / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # (releases the lock)

    return hold()


def record(path: Path) -> None:
    """Record the current hash of ``path`` (a file the grader has just written)."""
    path = Path(path)
    with _locked(path.parent):
        registry = _read_registry(path.parent)
        registry[path.name] = digest(path)
        _write_registry(path.parent, registry)


def is_trusted(path: Path) -> bool:
    """Whether ``path`` has exactly the content recorded when the grader wrote it."""
    path = Path(path)
    want = _read_registry(path.parent).get(path.name)
    try:
        return want is not None and digest(path) == want
    except (OSError, ValueError):  # gone, or no regular file (a FIFO planted in the cache): not trusted
        return False


def forget_missing(directory: Path) -> list[str]:
    """Drop the records of files no longer in ``directory`` (e.g. a removed suite revision's
    references); returns their names."""
    directory = Path(directory)
    with _locked(directory):
        registry = _read_registry(directory)
        gone = sorted(name for name in registry if not (directory / name).exists())
        if gone:
            _write_registry(directory, {k: v for k, v in registry.items() if k not in gone})
    return gone


def main(argv: list[str] | None = None) -> None:
    """``python -m lrgym.leaderboard.trust [DIR ...]``: re-record every ``*.json`` of each folder."""
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m lrgym.leaderboard.trust",
        description="Re-record the sha256 of every *.json in each folder (maintainers, after reviewing "
                    "shipped reference files by hand) and forget the records of files no longer there.")
    p.add_argument("dirs", nargs="*", type=Path, default=[Path(__file__).parent / "references"],
                   help="folders of references files (default: the shipped leaderboard/references)")
    args = p.parse_args(argv)
    for directory in args.dirs:
        if not directory.is_dir():
            p.error(f"{directory} is not a folder; valid: folders holding references *.json files")
        paths = sorted(directory.glob("*.json"))
        for path in paths:  # all named before any is recorded: a FIFO was read, and waited on, forever
            problem = file_problem(path)
            if problem is not None:
                p.error(f"{path} {problem}, not a references file; valid: regular *.json files (remove or rename it)")
        for path in paths:
            record(path)
            print(f"recorded {path}")
        for name in forget_missing(directory):
            print(f"forgot {name} (no longer in {directory})")


if __name__ == "__main__":  # pragma: no cover - maintainers
    main()
