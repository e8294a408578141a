"""Where training and tuning write: ``runs/`` by default, the shipped files only with ``--ship``.

The package ships trained weights (``baselines/weights/``) and tuned values
(``baselines/tuned.json``) that the leaderboard ranks as the baselines. A quick experiment must
not replace them, so every command that trains or tunes writes, in this order of precedence:

1. ``--out PATH``: exactly there, or, if ``PATH`` is an existing folder, inside it under the
   default name (as ``cp`` and ``mv`` treat a folder: ``--out /tmp`` → ``/tmp/dqn_mixed.zip``);
   a ``PATH`` that lands on a shipped file (:func:`shipped_outputs`: ``--out baselines/weights``,
   or ``--out baselines/weights/ppo_mixed`` from the DQN trainer) is refused: only ``--ship``
   writes one, and only the command's own;
2. ``--ship``: over the shipped file in the package (what the maintainers do to regenerate it);
3. otherwise: under :func:`runs_dir` (``./runs`` of the working directory, or ``$LRGYM_RUNS``;
   a ``$LRGYM_RUNS`` that puts the output on a shipped file is refused as well).

::

    python -m lrgym.baselines.train_sb3 --algo dqn --steps 3000      # → runs/dqn_mixed.{zip,json}
    python -m lrgym.baselines.train_sb3 --algo dqn --ship            # → baselines/weights/dqn_mixed.*
    python -m lrgym.baselines.qlearning                              # → runs/qlearning_mixed.npz
    python -m lrgym.baselines.tune --families recsys                 # → runs/tuned.json
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).parent
#: the shipped weights of the learned baselines (read by :mod:`lrgym.baselines.registry`)
SHIPPED_WEIGHTS = HERE / "weights"
#: the shipped tuned values of the hand-designed baselines
SHIPPED_TUNED = HERE / "tuned.json"
#: environment variable that moves the default output folder
RUNS_ENV = "LRGYM_RUNS"


class FolderTakesNoNewFile(PermissionError):
    """:func:`replace_file` could not make its new file beside ``path``: the folder takes none."""


def status(message: str) -> None:
    """Say ``message`` on stderr (flushed, a line): the progress and status of a command that trains or
    tunes (generations, references being computed, what it kept, the command that grades the
    result). Its stdout holds the result alone, the ``wrote PATH`` line naming the files it wrote,
    so ``... > out.txt`` captures that line and the terminal still shows the progress."""
    print(message, file=sys.stderr, flush=True)


def replace_file(path: str | Path, data, mode: int = 0o644, *, sync: bool = False, tmp_tag: str | None = None) -> Path:
    """Write ``data`` (``str``: as UTF-8; ``bytes``; an iterable of ``str`` chunks) to ``path`` by replacing it: a new file beside it, renamed
    over ``path`` (``os.replace``). The one way lrgym writes a file it keeps: a reader (or a run
    stopped half-way) never sees half a file, and whatever ``path`` named before (a symbolic link,
    a hard link to another file) is replaced, never written through.

    The new file's mode is ``mode`` with the umask taken from the group's and others' bits only
    (the owner keeps reading and writing its files under any umask: a private suite's references
    asked 0600 are 0600), and never looser for group and others than the file it replaces (an
    owner-only file stays owner-only). ``sync``: the data reach the disk before the rename (a
    result that must survive a crash of the machine). A folder that takes no new file is
    :class:`FolderTakesNoNewFile`; a path a user names for an output goes through
    :func:`write_output`, which may then write in place. Files that belong together (a model and
    its sidecar): :func:`replace_files`. ``tmp_tag``: a word the new file's name carries until the
    rename (``.<name>.<tmp_tag>-<random>.tmp``), such as its writer's
    :func:`~lrgym.baselines.owner_names.owner_tag`, so that a reader can tell the half-written file
    of a writer that died from one still being written."""
    return replace_files({path: data}, mode, sync=sync, tmp_tag=tmp_tag)[0]


def replace_files(files: dict, mode: int = 0o644, *, sync: bool = False, modes: dict | None = None,
                  tmp_tag: str | None = None) -> list[Path]:
    """:func:`replace_file` for files that belong together, ``{path: data}`` (an SB3 model zip
    and the sidecar that says how to run it; weights and the submission file holding them): every
    new file is written first, then all are renamed over their paths in a section no stop signal
    cuts (:func:`lrgym.baselines.interrupts.defer_stop_signals`). A run stopped by Ctrl-C or
    SIGTERM leaves the old files or the new ones, never a new model beside an old sidecar (which
    would run it in the old one's env). A crash of the machine between two renames can still mix
    them: no filesystem renames two files at once. ``modes``: ``{path: mode}`` for files whose
    mode is not ``mode``. ``tmp_tag``: see :func:`replace_file`. Returns the paths, in ``files``' order."""
    import tempfile

    from lrgym.baselines.interrupts import defer_stop_signals

    written: list[tuple[str, Path]] = []
    try:
        for path, data in files.items():
            new_mode = _replacing_mode(Path(path), (modes or {}).get(path, mode))
            path = Path(path)
            try:
                tag = "" if tmp_tag is None else f"{tmp_tag}-"
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{tag}", suffix=".tmp", dir=path.parent)
            except PermissionError as exc:
                raise FolderTakesNoNewFile(exc.errno, exc.strerror, str(path.parent)) from None
            written.append((tmp, path))
            with os.fdopen(fd, "wb") as f:
                for chunk in _chunks(data):
                    f.write(chunk)
                if sync:
                    f.flush()
                    os.fsync(f.fileno())
            os.chmod(tmp, new_mode)
        with defer_stop_signals():
            while written:
                tmp, path = written[0]
                os.replace(tmp, path)
                written.pop(0)
    finally:
        for tmp, _ in written:  # not renamed: removed
            Path(tmp).unlink(missing_ok=True)
    return [Path(path) for path in files]


def _chunks(data) -> Iterable[bytes]:
    """``data`` as bytes to write: a ``str`` (as UTF-8), ``bytes``, or an iterable of ``str`` chunks
    (an export of a hosted board's millions of rows, written as it is made, never whole in memory)."""
    if isinstance(data, (str, bytes)):
        yield data.encode("utf-8") if isinstance(data, str) else data
        return
    for chunk in data:
        yield chunk.encode("utf-8")


def _replacing_mode(path: Path, mode: int) -> int:
    """The mode of the new file replacing ``path`` (:func:`replace_file`): ``mode`` with the
    umask's group and other bits, never looser than the file it replaces."""
    import stat

    mode = (mode & ~_umask() & 0o077) | (mode & 0o7700)
    try:
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode):
            mode &= stat.S_IMODE(st.st_mode) | 0o7700
    except OSError:
        pass
    return mode


@contextlib.contextmanager
def folder_locked(folder: str | Path):
    """Hold an exclusive ``flock`` on ``folder`` (its own descriptor: no lock file beside the
    outputs) for a read-merge-write of a file in it: two runs merging into one file (``tune
    --out``) each read it, merged their part and replaced it, and the one replacing last dropped
    the other's. Where the file system takes no ``flock``, the block runs unlocked."""
    import fcntl

    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # (a file system without flock)
            pass
        yield
    finally:
        os.close(fd)  # (releases the lock)


def weights_literal(data: bytes, name: str = "WEIGHTS") -> str:
    """Python source binding ``name`` to ``data`` as base64 text, in lines of 100 characters: the
    weights inline in a self-contained submission file (the grader's sandbox holds only the
    submitted ``.py`` files), as ``train_rllib``'s export and ``train_controller``'s write them;
    ``base64.b64decode(WEIGHTS)`` gives ``data`` back."""
    import base64

    blob = base64.b64encode(data).decode()
    body = "\n".join(f'    "{blob[i:i + 100]}"' for i in range(0, len(blob), 100))
    return f"{name} = (\n{body}\n)\n"


#: how a self-contained submission file begins the line recording the env settings its policy was
#: trained at (:func:`trained_on_lines`), which ``lrgym leaderboard submit`` reads without running it
TRAINED_ON_LINE = "TRAINED_ON = "


def trained_on_lines(trained_on) -> str:
    """Python source binding ``TRAINED_ON`` to ``trained_on`` (a dict of env keywords, as a
    literal; "" for anything else), for a submission file's head, before its weights: the settings
    it trained at, which ``submit`` compares with its suite's (a note names those graded at
    another value: ``lrgym.leaderboard.trained_apart.trained_apart_note``)."""
    if not isinstance(trained_on, dict):
        return ""
    return ("# the env settings it was trained at (submit notes those its suite grades at other values)\n"
            f"{TRAINED_ON_LINE}{json_copy(trained_on)!r}\n\n")


def write_output(path: str | Path, text, mode: int = 0o644) -> Path:
    """Write ``text`` (a ``str``, or an iterable of ``str`` chunks, consumed once) to ``path``, a
    path a user named for an output (a report, an export): by
    :func:`replace_file` (``report --markdown x`` where ``x`` links to the results store leaves
    the store as it was), or in place, as ``open(path, "w")`` would, where replacing is not what
    the user means: a stream (:func:`_is_stream`: ``/dev/stdout`` even when the shell sends it to
    a file, a device, a FIFO), and an existing regular file of the user's whose folder takes no
    new files (a published board in a folder of another account's; it keeps its mode).

    Never in place into another user's file (in a sticky folder such as ``/tmp``, where the
    rename is refused, or anywhere): its owner could read what was written, so that is a
    ``PermissionError`` naming the file and its owner."""
    import stat

    path = Path(path)
    if _is_stream(path):
        return _write_in_place(path, text)
    try:
        return replace_file(path, text, mode)
    except FolderTakesNoNewFile:
        try:
            st = os.lstat(path)
        except OSError:
            raise PermissionError(13, f"{path.parent} takes no new file (no permission); valid: a folder you "
                                  "can write, or an existing file of yours in it", str(path)) from None
        if not stat.S_ISREG(st.st_mode):
            raise
        if st.st_uid != os.geteuid():
            raise PermissionError(13, f"{path} belongs to uid {st.st_uid}, who could read what is written into it; "
                                  "valid: a file of your own, or a new path in a folder you can write",
                                  str(path)) from None
        return _write_in_place(path, text)
    except PermissionError as exc:
        try:
            owner = os.lstat(path).st_uid
        except OSError:
            raise exc from None
        if owner != os.geteuid():  # a sticky folder refuses to replace another user's file
            raise PermissionError(13, f"{path} belongs to uid {owner} in a folder that keeps it theirs (sticky); "
                                  "valid: a file of your own, or a new path", str(path)) from None
        raise


def _is_stream(path: Path) -> bool:
    """Whether ``path`` is a stream to write to, not a file to replace: a descriptor the process
    holds (:func:`lrgym.files.is_descriptor_path`: ``/dev/stdout``, ``/dev/fd/N``, even when the
    shell sent them to a file), or something that is no regular file (a device, a FIFO). A regular
    file anywhere else, ``/dev/shm`` included, is replaced (with its mode, never through a link)."""
    import stat

    from lrgym.files import is_descriptor_path

    if is_descriptor_path(path):
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:  # a new file, or a dangling link: replaced
        return False


def _write_in_place(path: Path, text) -> Path:
    with open(path, "wb") as f:
        for chunk in _chunks(text):
            f.write(chunk)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def json_copy(obj):
    """A plain-JSON copy of ``obj`` (what a sidecar or record stores): tuples become lists, and
    anything JSON has no type for becomes its ``str`` (a path, a dtype, an enum)."""
    import json

    return json.loads(json.dumps(obj, default=str))


def runs_dir() -> Path:
    """The folder of unshipped outputs: ``$LRGYM_RUNS`` if set, else ``runs`` in the working directory."""
    return Path(os.environ.get(RUNS_ENV) or "runs")


def output_path(shipped: Path, *, ship: bool = False, out: str | Path | None = None,
                protected: Iterable[Path] = (), option: str = "--out", in_place: bool = False) -> Path:
    """Where to write an output whose shipped copy is ``shipped``: ``out``, else ``shipped`` if
    ``ship``, else the same file name under :func:`runs_dir`. ``out`` and ``ship`` exclude each other.

    An ``out`` that is an existing folder means "in there, under the usual name": ``out /
    shipped.name`` (``shipped`` may lack its suffix, as the SB3 weights' ``dqn_mixed`` does: the
    command adds ``.zip`` and ``.json`` to what this returns). An output that is itself a folder
    (``lrgym leaderboard export --format csv``) does not come here with its ``--out``. A
    ``shipped`` given as a bare name (``Path("results.json")``) is an output nothing ships: only
    its default name.

    Without ``ship``, the path is refused (``ValueError``) when it is a shipped file in any spelling
    (:func:`shipped_outputs`, ``shipped`` itself and the caller's ``protected`` files): ``--out
    baselines/weights/ppo_mixed`` from the DQN trainer, or ``$LRGYM_RUNS`` set to the weights folder.
    ``option``: the name the messages give ``out`` (the leaderboard's ``--markdown``, ``--html``).
    ``in_place``: the caller writes with :func:`write_output` (:func:`check_can_write`).
    """
    if out is not None and ship:
        raise ValueError(f"{option} {out} and --ship both given; valid: one of them (or neither: {runs_dir()}/)")
    if ship:
        return shipped
    own = [shipped] if shipped.is_absolute() else []
    if out is None:
        path = runs_dir() / shipped.name
        source = f"${RUNS_ENV}={os.environ[RUNS_ENV]}" if os.environ.get(RUNS_ENV) else f"the default {path}"
        verb, other = f"puts {path} on", f"another folder as ${RUNS_ENV}, or {option} PATH"
    else:
        given = Path(out)
        _check_name_lengths(given, option)
        try:
            path = given / shipped.name if given.is_dir() else given
        except OSError as exc:  # (a folder on the way that may not be looked into)
            raise ValueError(f"{option} {out}: {exc.strerror or exc}; valid: a path you can write") from None
        source, verb, other = f"{option} {out}", "is", f"another path (default: {runs_dir() / shipped.name})"
    hit = _shipped_target(path, [*own, *shipped_outputs(), *protected], source)
    if hit is not None:
        how = "--ship to overwrite it on purpose, or " if own and hit == own[0] else ""
        raise ValueError(f"{source} {verb} the shipped {hit.name} ({hit}); valid: {how}{other}")
    check_outside_package(path, source, other)
    check_can_write(path, source, in_place=in_place)
    return path


def part_run_problem(flag: str, option: str, given, whole, holds: str, elsewhere: str = "") -> str | None:
    """Why ``flag`` (``--ship``, ``--write``: the command rewrites a shipped file) may not run with
    ``option`` set to ``given``, or ``None``. The shipped file holds the whole run (``whole``:
    every family, every baseline, the full seed count; ``holds`` says it in the message), so a run
    of part of it would replace it with that part under the same name: ``selection --ship
    --families quadratic`` shipped a suite v2 of the quadratic family alone.

    ``given`` is ``None`` (the option left out), a list (compared with ``whole`` as a set: the
    order of ``--families`` does not matter), ``True`` (a switch: any use is a part) or a value.
    ``elsewhere``: where the command writes without ``flag`` (``" (writes runs/selection/)"``)."""
    if given is None or given is False:
        return None
    if isinstance(given, (list, tuple)):
        if set(given) == set(whole):
            return None
        shown = f"{option} {' '.join(map(str, given))}"
    elif given is True:
        shown = option
    elif given == whole:
        return None
    else:
        shown = f"{option} {given}"
    return f"{flag} with {shown}: {holds}; valid: {flag} without {option}, or {option} without {flag}{elsewhere}"


def companion_problem(path: str | Path, output: str | Path, marks: tuple[bytes, ...]) -> str | None:
    """Why a command may not replace ``path``, a file it writes beside its ``output`` (a sidecar,
    a submission file: named by the output's path only, never by the user), or ``None``: ``path``
    is absent, or a file such a command wrote (one of ``marks`` in its first 64 KB: what the
    command's own files always hold there). A file of the user's there is refused before the
    run: ``train_controller --out policy.npz`` replaced the user's own ``policy.py`` with its
    submission file, ``train_sb3 --out notes`` their ``notes.json`` with its sidecar."""
    import stat

    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"{path}, which it writes beside {output}, cannot be checked ({exc.strerror or exc})"
    if stat.S_ISREG(st.st_mode):
        try:
            with open(path, "rb") as f:
                head = f.read(1 << 16)
        except OSError as exc:
            return f"{path}, which it writes beside {output}, cannot be read ({exc.strerror or exc})"
        if any(mark in head for mark in marks):
            return None
        what = "a file this command did not write"
    else:
        what = "no regular file (a folder, a link, a device)"
    return (f"it writes {path} beside {output}, and {path} is {what}: it would be replaced; valid: another "
            f"output path, or move {path} away first")


def package_folders() -> list[Path]:
    """The folders of the installed package: ``lrgym``, ``lrgym.baselines`` and
    ``lrgym.leaderboard`` (in a source checkout the last two are ``baselines/`` and
    ``leaderboard/`` beside ``lrgym/``; in a wheel, inside it)."""
    import lrgym

    return [Path(lrgym.__file__).parent.resolve(), HERE.resolve(), (HERE.parent / "leaderboard").resolve()]


#: the package's data folders, which ship every file in them (pyproject's package-data ``*``)
DATA_FOLDERS = ("weights", "references", "suites", "submissions")


def _ships(target: Path) -> Path | None:
    """The folder of the package whose files ship if ``target`` (resolved) were written: a data
    folder (:data:`DATA_FOLDERS`) at any depth on its way, or the Python package folder holding
    it (one with ``__init__.py``: its ``*.json`` ship as package data, its modules as code);
    ``None`` elsewhere, e.g. for ``runs/`` made in ``baselines/`` when the working directory is
    there (no package, so nothing in it ships)."""
    for top in package_folders():
        if top not in target.parents:
            continue
        parts = target.relative_to(top).parts[:-1]  # the folders on the way, below top
        for k, part in enumerate(parts):
            if part in DATA_FOLDERS:
                return top.joinpath(*parts[:k + 1])
        if target.parent == top or (target.parent / "__init__.py").is_file():
            return target.parent
    return None


def check_outside_package(path: str | Path, given: str, other: str = "another folder") -> None:
    """``ValueError`` if writing ``path`` would put a file where the installed package ships it
    (:func:`_ships`), in any spelling: ``--markdown baselines/weights`` made
    ``baselines/weights/LEADERBOARD.md``, which the wheel then shipped as a weights file.
    ``given`` names where ``path`` came from, ``other`` what is valid."""
    target = Path(path).resolve()
    folder = _ships(target)
    if folder is not None:
        raise ValueError(f"{given} puts {target} in the installed package's {folder}, whose files ship with it; "
                         f"valid: {other}")


def _check_name_lengths(path: Path, given: str) -> None:
    """``ValueError`` if a name of ``path`` is longer than the file system takes (looking at such a
    path is an ``OSError`` already)."""
    try:
        limit, total = os.pathconf("/", "PC_NAME_MAX"), os.pathconf("/", "PC_PATH_MAX")
    except (OSError, ValueError):
        limit, total = 255, 4096
    for part in Path(path).parts:
        if len(os.fsencode(part)) > limit:
            raise ValueError(f"{given}: the name {part[:40]!r}... is {len(os.fsencode(part))} bytes long; valid: "
                             f"names of at most {limit} bytes")
    if len(os.fsencode(os.path.abspath(path))) >= total:
        raise ValueError(f"{given}: the path is {len(os.fsencode(os.path.abspath(path))):,} bytes long; valid: paths "
                         f"of fewer than {total:,} bytes")


def check_can_write(path: str | Path, given: str, in_place: bool = False) -> None:
    """``ValueError`` naming ``given``, the path and why, if a file ``path`` cannot be made, before
    any work (a run of minutes ended in ``FileExistsError`` when a folder of ``--markdown
    a.sh/x.md`` was a file): a name longer than the file system takes, a folder on the way that is
    a file, or a nearest existing folder the user may not write to.

    ``in_place``: the output is written by :func:`write_output`, which writes an existing file of
    the user's in place when its folder takes no new file, so such a file passes. Otherwise (the
    trainers' and tune's files, written by :func:`replace_file` only) the folder must take a new
    file whatever is at ``path``: ``tune --out /proc/cpuinfo`` as root, or ``--out`` of one's own
    file in another account's folder, passed and lost the result of the whole run to the write.
    A stream or a device (``/dev/stdout``, ``/dev/null``, a FIFO) is written to only ``in_place``;
    otherwise it is refused (the new file would replace it: as root, ``/dev/null`` itself)."""
    path = Path(path).absolute()
    _check_name_lengths(path, given)
    if _is_stream(path):  # /dev/stdout, /dev/null, a FIFO: written in place (write_output)
        if in_place or path.is_dir():  # (a folder: each command says so itself, "is a folder")
            return
        # replace_file would put a new file in its place: as root, train_controller --out /dev/null
        # replaced the machine's /dev/null with its weights (a review, 2026-12-06)
        raise ValueError(f"{given}: {path} is a stream or a device (not a regular file), and this output is a new "
                         "file renamed over its path, which would replace it; valid: a file path")
    folder = path.parent
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f"{given}: {folder} is a file, not a folder; valid: a path whose folders exist or can be made")
    writable_file = in_place and path.is_file() and os.access(path, os.W_OK) and path.stat().st_uid == os.geteuid()
    if not os.access(folder, os.W_OK | os.X_OK) and not writable_file:
        raise ValueError(f"{given}: {folder} is not a folder you can write to; valid: a path in a folder you can "
                         f"write{' (or an existing file of yours you may write)' if in_place else ''}")
    if not writable_file and not _takes_a_new_file(folder):  # root passes os.access on /proc, ...
        raise ValueError(f"{given}: {folder} takes no new file (a file made there to try it was refused); valid: a "
                         f"path in a folder you can write{' (or an existing file of yours you may write)' if in_place else ''}")


def _takes_a_new_file(folder: Path) -> bool:
    """Whether a file can be made in ``folder``: one is made and removed. ``os.access`` says yes to
    root for folders that take none (``/proc``, ``/sys``: ``--out /proc/x.json`` ran a tuning of
    minutes, then lost its result to the write)."""
    import tempfile

    try:
        fd, probe = tempfile.mkstemp(prefix=".lrgym-write-check.", dir=folder)
    except OSError:
        return False
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return True


def shipped_outputs() -> list[Path]:
    """The files this package ships that a command regenerates, only with ``--ship``: the tuned
    values and every file in the weights folder. (The leaderboard adds its own: ``LEADERBOARD.md``,
    the references.)"""
    weights = sorted(SHIPPED_WEIGHTS.iterdir()) if SHIPPED_WEIGHTS.is_dir() else []
    return [SHIPPED_TUNED, *weights]


#: suffixes a command adds to what :func:`output_path` returns (the SB3 weights' ``.zip`` and
#: sidecar ``.json``, NumPy's ``.npz``): ``--out weights/dqn_mixed.zip`` names the shipped ``dqn_mixed``
ADDED_SUFFIXES = (".zip", ".json", ".npz")


def _shipped_target(path: Path, shipped: Iterable[Path], given: str) -> Path | None:
    """The file of ``shipped`` that writing ``path`` would write (or one of the files a command
    derives from it by adding :data:`ADDED_SUFFIXES`), through any spelling of the path
    (relative, ``..``, a symbolic link); ``None`` if none. A path through a symbolic link loop
    (which no command could write to) is refused here, before any work."""
    for p in (*reversed(path.parents), path):  # the loop's first link; resolve() raises on it before
        # Python 3.13 (a RuntimeError), ignores it after
        try:
            p.stat()
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise ValueError(f"{given}: {p} is a symbolic link loop; valid: a path that can be written") from None

    def bare(p: Path) -> Path:
        p = p.resolve()
        for suffix in ADDED_SUFFIXES:
            if p.name.endswith(suffix) and len(p.name) > len(suffix):
                return p.with_name(p.name[: -len(suffix)])
        return p

    target = bare(path)
    return next((s for s in shipped if bare(s) == target), None)


def with_suffix_added(path: str | Path, suffix: str) -> Path:
    """``path`` if its name already ends in ``suffix``, else ``path`` with ``suffix`` appended to
    its name: ``runs/lr0.5`` → ``runs/lr0.5.zip``, ``runs/x.zip`` stays. Not ``Path.with_suffix``,
    which replaces whatever follows the name's last dot (``runs/lr0.5`` → ``runs/lr0.zip``, so runs
    given ``--out runs/lr0.5`` and ``--out runs/lr0.7`` overwrote each other)."""
    path = Path(path)
    return path if path.name.endswith(suffix) else path.with_name(path.name + suffix)


def _path_given(text: str) -> str:
    """``--out``'s value: a path, not an empty string (which ``Path`` takes as ``.``, the working
    directory: ``--out ""`` then wrote ``./dqn_mixed.zip`` unasked)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is empty; valid: a file path, or an existing folder")
    return text


def add_output_arguments(parser: argparse.ArgumentParser, what: str, path_form: str = "") -> None:
    """``--out`` and ``--ship`` for a command that writes ``what`` (``path_form``: how ``--out``'s
    PATH becomes the files, said in its help only: ``--ship`` takes no path)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--out", default=None, type=_path_given, metavar="PATH",
                       help=f"write {what} here{f' ({path_form})' if path_form else ''}; an existing folder: inside it "
                       f"under the default name (default: ${RUNS_ENV} or ./runs/)")
    group.add_argument("--ship", action="store_true",
                       help=f"overwrite the shipped {what} in the package (maintainers regenerating it)")
