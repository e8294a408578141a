"""Reading a submission's files without being tricked into reading others.

The threat. The grader reads a submission's files (the policy file and the ``.py`` files beside
it, or an SB3 model zip and its sidecar ``.json``) and copies them into the sandbox; the
sandbox itself never sees where they live. The grader runs as its own user, maybe root, and a
submission is hostile: whoever prepared its folder chooses what the names in it are. If the
grader opened them like ordinary paths, a submission could make it read, and hand back to the
submission's own code, something it should never see:

* a symbolic link named ``policy.py`` (or ``helper.py`` beside it) pointing at a private key, the
  leaderboard's store, a private suite's secrets;
* a link anywhere *above* the file: ``sub/`` itself, or a folder on the way, linked to a
  root-only directory (``O_NOFOLLOW`` on the full path only guards its last component);
* a link swapped in *between* checking a path and opening it (time-of-check to time-of-use):
  the folder listed, then replaced by a link before its files are opened;
* a FIFO or a device (``/dev/zero``, a named pipe nobody writes to) that hangs the grader or
  fills its memory; a file too large, or one that grows while it is read;
* a file of a kernel pseudo-file system: ``/proc/<grader pid>/environ`` or
  ``/proc/<pid>/mountinfo`` are regular files, not links, and report a size of 0, yet a read
  returns the grader's environment (its secrets) or the machine's mounts, which were copied
  into the sandbox (a ``/sys`` file reports 4096 bytes whatever it holds).

The defence, in three steps, each refusing with a :class:`~lrgym.leaderboard.failures.PolicyError`
that names the offending path (the submitter reads it):

1. :func:`_open_directory`: the folder is opened once, as a file descriptor, by walking its
   absolute path from ``/`` one component at a time, each opened relative to the one before
   with ``O_NOFOLLOW`` (``..`` resolved lexically first; the walk is
   :func:`lrgym.leaderboard.path_walk.walk_to_last`, which :mod:`lrgym.leaderboard.private`
   shares). No link at any level is followed.
2. Everything after is relative to that descriptor (``os.scandir(fd)``, ``open(name,
   dir_fd=fd)``): a link swapped in for the folder later changes nothing, the grader keeps
   reading the directory it opened.
3. :func:`_read_regular_file`: each file is opened with ``O_NOFOLLOW | O_NONBLOCK`` (a link is
   refused, a FIFO or device does not block the open), checked with ``fstat`` on the open
   descriptor (a regular file, no larger than what is left of :data:`MAX_SUBMISSION_BYTES`),
   and read at most one byte past that budget whatever its size said; a file whose bytes read
   are not its measured size is refused (it changed while read, or its size is not what a
   read returns).

A directory or file on a kernel pseudo-file system (:data:`PSEUDO_FILE_SYSTEMS`: proc, sysfs,
debugfs, cgroup, ...) is refused before anything of it is read: ``fstatfs`` of the open
descriptor names its file system, so a bind mount of one such file is found too; the size
check of step 3 catches one the list does not know. No refusal quotes the bytes of a file.

Used by the grader worker (:func:`lrgym.leaderboard.worker.policy_files`), by the Ray pool to
ship a submission's files to the node that runs it (:func:`lrgym.leaderboard.ray_pool.ship_files`)
and by the CLI to read a policy's declared name (``lrgym.leaderboard.cli.declared_name``), so
every reader follows the same rules. Nothing read here is imported or run in this process.
"""

from __future__ import annotations

import ctypes
import os
import platform
import stat
import sys
from pathlib import Path

from lrgym.leaderboard.failures import PolicyError
from lrgym.leaderboard.libc import c_library

__all__ = ["MAX_NAME_SOURCE_BYTES", "MAX_SUBMISSION_BYTES", "MAX_SUBMISSION_FILES", "PSEUDO_FILE_SYSTEMS", "SUBMISSION_FORMS",
           "declared_name", "declared_trained_on", "missing_file_error", "read_policy_files", "read_sb3_files",
           "read_submission"]

#: what ``submit`` takes (README, "Submitting a policy")
SUBMISSION_FORMS = "path/to/policy.py:ClassName, package.module:ClassName or an SB3 model.zip"

#: a submission's files (the policy file and the ``.py`` files beside it, or a model zip)
MAX_SUBMISSION_BYTES = 64 * 1024 * 1024
#: how many files a policy submission may have (the policy file and the ``.py`` files beside it).
#: The byte budget above does not bound them: an empty file costs it nothing, yet each is listed,
#: read, sent into the sandbox and written there, its name (up to 255 bytes) held all the while by
#: the grader's processes, outside the sandbox's limits: 200,000 empty modules with long names beside
#: an honest policy took a one-worker grading of 2 short episodes from 10 s to 97 s and 310 MB
MAX_SUBMISSION_FILES = 1000

#: ``statfs`` magic numbers (``linux/magic.h``) of the kernel's pseudo-file systems, whose files
#: are the machine's state (processes' environments, mounts, keys, tunables), not stored data
PSEUDO_FILE_SYSTEMS = {
    0x9FA0: "proc", 0x62656572: "sysfs", 0x64626720: "debugfs", 0x74726163: "tracefs",
    0x73636673: "securityfs", 0x0027E0EB: "cgroup", 0x63677270: "cgroup2", 0xCAFE4A11: "bpf",
    0x62656570: "configfs", 0x6165676C: "pstore", 0xDE5E81E4: "efivarfs", 0x42494E4D: "binfmt_misc",
    0x65735543: "fusectl", 0xF97CFF8C: "selinuxfs", 0x43415D53: "smackfs", 0x6E736673: "nsfs",
    0x00001CD1: "devpts", 0x19800202: "mqueue",
}


def missing_file_error(path: Path, what: str) -> Exception:
    """The error for a submission file ``path`` (``what``: "policy file", "SB3 model") that is not
    a file: a folder is named as one, with the forms a submission takes (``submit /tmp:P`` said
    "policy file /tmp not found"), and so is a FIFO, socket or device (said to be missing too);
    only what is not there is not found."""
    import stat

    from lrgym.leaderboard.ownership import kind_of

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return FileNotFoundError(f"{what} {path} not found; valid: {SUBMISSION_FORMS}")
    if stat.S_ISREG(mode):  # (there after all: the caller looked a moment before)
        return ValueError(f"{what} {path} changed while it was read; valid: {SUBMISSION_FORMS}")
    return ValueError(f"{what} {path} is {kind_of(mode)}, not a file; valid: {SUBMISSION_FORMS}")


def _file_system_magic(fd: int) -> int | None:
    """The ``f_type`` of ``fstatfs(fd)`` (which file system holds ``fd``), None where it cannot
    be asked.

    ``struct statfs`` starts with ``f_type``: a ``long`` on most Linux ABIs, an ``unsigned int``
    on s390x. Every magic number fits in 32 bits, so it is the first four bytes on a
    little-endian machine (either type) and on s390x, the low half of the ``long`` elsewhere."""
    try:
        libc = c_library()
        buf = ctypes.create_string_buffer(512)  # larger than any ABI's struct statfs
        if libc.fstatfs(fd, buf) != 0:
            return None
    except (OSError, AttributeError):  # pragma: no cover - no fstatfs (not Linux)
        return None
    if sys.byteorder == "little" or platform.machine().startswith("s390"):
        return int.from_bytes(buf.raw[:4], sys.byteorder)
    return int.from_bytes(buf.raw[:ctypes.sizeof(ctypes.c_long)], "big") & 0xFFFFFFFF


def _refuse_pseudo(fd: int, path: Path, what: str) -> None:
    """Refuse ``fd`` (shown as ``path``) if it lies on a kernel pseudo-file system."""
    kind = PSEUDO_FILE_SYSTEMS.get(_file_system_magic(fd))
    if kind is not None:
        raise PolicyError(f"{what} {path} is on the kernel's {kind} pseudo-file system (machine state, not a "
                          "file); valid: a submission's own files on an ordinary file system")


def _refuse(path: Path, exc: OSError, parent_fd: int, name: str, what: str) -> PolicyError:
    """The error for ``name`` (opened relative to ``parent_fd``, shown as ``path``) not opening."""
    try:
        linked = stat.S_ISLNK(os.lstat(name, dir_fd=parent_fd).st_mode)
    except OSError:
        linked = False
    if linked:
        return PolicyError(f"{what} {path} is a symbolic link; give the real path (a submission's files and "
                           "the directories that hold them are read as regular files and directories only)")
    if isinstance(exc, FileNotFoundError):
        return PolicyError(f"{what} {path} not found")
    if isinstance(exc, NotADirectoryError) and what == "submission directory":
        return PolicyError(f"{what} {path} is not a directory")
    return PolicyError(f"cannot read {what} {path}: {exc.strerror}")


def _open_directory(where: Path) -> int:
    """A file descriptor of the directory ``where``, opened without following a symbolic link at
    any level: the path is made absolute, then walked from ``/`` one component at a time, each
    opened relative to the one before with ``O_NOFOLLOW``
    (:func:`~lrgym.leaderboard.path_walk.walk_to_last`, no link accepted). A linked component is
    refused (named in the error), so neither a link nor a link swapped in later (the walk is
    done once and the submission's files are then listed and opened relative to this
    descriptor) can make the grader read a directory other than the one named.

    ``..`` is resolved lexically first (:func:`os.path.abspath`); with no link allowed on the way
    that names the same directory the kernel would reach (``a/b/../c`` is ``a/c``)."""
    from lrgym.leaderboard.path_walk import walk_to_last

    absolute = os.path.abspath(where)
    fd, name, shown = walk_to_last(absolute, on_error=lambda exc, parent, name, shown: _refuse(
        shown, exc, parent, name, "submission directory"))
    try:  # the last component is listed: opened for reading, the ones above only searched
        try:
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        except OSError as exc:
            raise _refuse(shown, exc, fd, name, "submission directory") from None
    finally:
        os.close(fd)
    try:
        _refuse_pseudo(child, Path(absolute), "submission directory")
    except BaseException:
        os.close(child)
        raise
    return child


def _read_regular_file(dir_fd: int, name: str, path: Path, budget: int) -> bytes:
    """The bytes of the file ``name`` of the directory ``dir_fd`` (shown as ``path``) if it is a
    regular file of at most ``budget`` bytes.

    Submission files are read by the grader's user, maybe root, so a submission must not make
    it read anything else: a symbolic link (to a key, the store, ``/dev/zero``) is refused
    without being followed (``O_NOFOLLOW``, relative to a directory opened without following
    links: :func:`_open_directory`), a device or FIFO without blocking on it (``O_NONBLOCK``,
    then ``fstat``), one of a pseudo-file system before anything is read
    (:func:`_refuse_pseudo`), and a file is measured before it is read: never more than
    ``budget`` + 1 bytes are read, and bytes that are not the measured size (the file changed,
    or its size says nothing, like the 0 of a ``/proc`` file) refuse it."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        raise _refuse(path, exc, dir_fd, name, "submission file") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PolicyError(f"submission file {path} is not a regular file; valid: regular files only")
        _refuse_pseudo(fd, path, "submission file")
        if info.st_size > budget:
            raise PolicyError(f"submission too large: {path.parent} holds more than {MAX_SUBMISSION_BYTES >> 20} MB "
                              "of files to copy into the sandbox; put the policy in a directory of its own")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(budget + 1)
        if len(data) > budget:  # it grew while being read
            raise PolicyError(f"submission too large: {path} grew past {MAX_SUBMISSION_BYTES >> 20} MB while read")
        if len(data) != info.st_size:  # changed while read, or a size that is not its bytes
            raise PolicyError(f"submission file {path} changed while it was read ({info.st_size} bytes measured, "
                              f"{len(data)} read); valid: a file nothing writes to while it is submitted")
        return data
    finally:
        os.close(fd)


def _check_name(where: Path, name: str) -> None:
    """Refuse a file ``name`` (of the directory ``where``) that is not valid UTF-8: the directory
    lists it as bytes Python keeps as lone surrogates (``b"\\xff.py"`` is ``"\\udcff.py"``), which
    neither a Python module name nor the entry's source hash can hold (the grader failed the entry
    with its own ``UnicodeEncodeError`` and traceback)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise PolicyError(f"submission file {os.fsencode(name)!r} in {where} has a name that is not valid UTF-8; "
                          "valid: file names in UTF-8 (rename it, or put the policy in a directory of its own)") from None


def _read_names(dir_fd: int, where: Path, names: list[str], budget: int) -> dict[str, bytes]:
    files = {}
    for name in names:
        _check_name(where, name)
        files[name] = _read_regular_file(dir_fd, name, where / name, budget)
        budget -= len(files[name])
    return files


def _file_name(path: Path) -> str:
    if path.name in ("", ".", ".."):
        raise PolicyError(f"submission file {path} is not a file name; valid: path/to/file.py")
    return path.name


def read_policy_files(path: Path) -> dict[str, bytes]:
    """{file name: bytes} of a policy file and the ``.py`` files beside it (its sibling modules,
    copied with it), policy file first: its directory is opened once (:func:`_open_directory`),
    then listed and each file read relative to it (:func:`_read_regular_file`), at most
    :data:`MAX_SUBMISSION_BYTES` in all and :data:`MAX_SUBMISSION_FILES` files (the listing
    stops at the first one over), each named in UTF-8 (:func:`_check_name`)."""
    name = _file_name(path)
    dir_fd = _open_directory(path.parent)
    try:
        siblings = []
        with os.scandir(dir_fd) as entries:
            for e in entries:
                if e.name.endswith(".py") and e.name != name:
                    siblings.append(e.name)
                    if len(siblings) >= MAX_SUBMISSION_FILES:  # with the policy file, one over
                        raise PolicyError(
                            f"submission has too many files: {path.parent} holds more than {MAX_SUBMISSION_FILES} "
                            f".py files to copy into the sandbox (the policy file and every .py file beside it); "
                            f"valid: at most {MAX_SUBMISSION_FILES}: put the policy in a directory of its own")
        return _read_names(dir_fd, path.parent, [name] + sorted(siblings), MAX_SUBMISSION_BYTES)
    finally:
        os.close(dir_fd)


def is_sidecar_file(data: bytes) -> bool:
    """Whether ``data`` (a ``<stem>.json`` beside a model zip) is train_sb3's sidecar
    (:func:`lrgym.baselines.sb3_agents.parse_sidecar`: at most 1 MB, its mark, or the keys an
    unmarked one always had); parsed as JSON only."""
    from lrgym.baselines.sb3_agents import parse_sidecar

    return parse_sidecar(data) is not None


def read_sb3_files(path: Path, notes: list[str] | None = None) -> dict[str, bytes]:
    """{file name: bytes} of an SB3 model zip and, if there is one, its sidecar ``.json`` (env
    options, algorithm), read as :func:`read_policy_files` reads (one directory descriptor).
    A ``<stem>.json`` that is no sidecar (:func:`is_sidecar_file`: a user's own notes) is left out,
    the zip graded as a plain one; ``notes`` (if given) gets a sentence saying so."""
    name = _file_name(path)
    sidecar = Path(name).with_suffix(".json").name
    dir_fd = _open_directory(path.parent)
    try:
        files = _read_names(dir_fd, path.parent, [name], MAX_SUBMISSION_BYTES)
        if notes is not None:
            notes.extend(_vec_normalize_notes(dir_fd, name))
        try:
            os.lstat(sidecar, dir_fd=dir_fd)
        except FileNotFoundError:
            return files  # no sidecar: nothing to copy
        found = _read_names(dir_fd, path.parent, [sidecar], MAX_SUBMISSION_BYTES - len(files[name]))
        if not is_sidecar_file(found[sidecar]):
            if notes is not None:
                notes.append(f"{sidecar} beside {name} is not a train_sb3 sidecar (no JSON object of at most 1 MB "
                             f"with the 'lrgym_sb3_sidecar' mark, nor with algo, env_options and trained_on); ignored: {name} is graded as a plain SB3 zip "
                             "(algorithm and action mode read from it, no observation clipping, --optimizer and "
                             "--env-options for its env options)")
            return files
        files.update(found)
        return files
    finally:
        os.close(dir_fd)


def _vec_normalize_notes(dir_fd: int, name: str) -> list[str]:
    """A sentence for SB3 VecNormalize statistics beside the zip ``name`` (a ``.pkl`` named as SB3
    names them: ``vec_normalize.pkl``, CheckpointCallback's ``<prefix>_vecnormalize_<n>_steps.pkl``):
    the grader never loads them and feeds the raw observation, so the model runs on observations it
    never saw, silently worse. By name only (nothing is opened); none if the folder lists none."""
    found = sorted(f for f in os.listdir(dir_fd)
                   if f.lower().endswith(".pkl") and "vecnormalize" in f.lower().replace("_", "").replace("-", ""))
    if not found:
        return []
    shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
    return [f"{shown} beside {name} look{'s' if len(found) == 1 else ''} like SB3 VecNormalize statistics: the grader "
            f"never loads them and feeds the policy the env's raw observation, "
            f"so a model trained under VecNormalize is graded on observations it never saw (it runs, worse); submit "
            "it as a policy class that normalises as VecNormalize does (README, 'Submitting a policy')"]


def read_submission(paths: list[Path]) -> dict[str, bytes]:
    """{file name: bytes} of the files ``paths``, each read as :func:`read_policy_files` reads
    (its directory opened once without following links, the file relative to it), at most
    :data:`MAX_SUBMISSION_BYTES` in all."""
    files, left, dirs = {}, MAX_SUBMISSION_BYTES, {}
    try:
        for p in map(Path, paths):
            name = _file_name(p)
            parent = os.path.abspath(p.parent)
            if parent not in dirs:
                dirs[parent] = _open_directory(p.parent)
            files[name] = _read_regular_file(dirs[parent], name, p, left)
            left -= len(files[name])
        return files
    finally:
        for fd in dirs.values():
            os.close(fd)


#: largest policy file whose ``name`` :func:`declared_name` reads: :mod:`ast` takes up to ≈ 900×
#: a file's size in memory (1 MB of ``a;a;…`` took 0.9 GB), and the grader's process parses it
MAX_NAME_SOURCE_BYTES = 128 * 1024


def declared_name(target: str) -> str | None:
    """The ``name`` class attribute of ``path/to/file.py:ClassName``, read from the source with
    :mod:`ast` (a submission is untrusted code: nothing is imported or run here); None if the
    class does not set it to a non-empty string literal in its body (then the class name is used),
    or if the file is larger than :data:`MAX_NAME_SOURCE_BYTES` (then ``--name`` names it).
    :func:`lrgym.leaderboard.runner.submission_spec` names an entry by it when given no name."""
    import ast

    where, sep, attr = target.rpartition(":")
    if not sep or not where.endswith(".py"):
        return None
    try:  # read as the worker reads it: a regular file, never through a link
        [source] = read_submission([Path(where)]).values()
        if len(source) > MAX_NAME_SOURCE_BYTES:
            return None
        tree = ast.parse(source.decode("utf-8"))
    except (PolicyError, SyntaxError, UnicodeDecodeError, ValueError, RecursionError, MemoryError):
        # the worker reports a missing, linked or broken file properly; a source built to exhaust
        # the parser (a deep expression: RecursionError; nested lambdas: MemoryError) is its to fail
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == attr:
            for stmt in node.body:
                if isinstance(stmt, ast.Assign):
                    targets, value = stmt.targets, stmt.value
                elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                    targets, value = [stmt.target], stmt.value
                else:
                    continue
                if (any(isinstance(t, ast.Name) and t.id == "name" for t in targets)
                        and isinstance(value, ast.Constant) and isinstance(value.value, str) and value.value.strip()):
                    return value.value
    return None


#: how far into a policy file that line is looked for, and the longest it may be (an export writes it
#: within its first 1 KB, a few hundred characters long; the weights follow it)
MAX_TRAINED_ON_SCAN = 16 * 1024


def declared_trained_on(source: bytes) -> dict | None:
    """The env settings a policy file says it was trained at: its ``TRAINED_ON = {...}`` line
    (:func:`lrgym.baselines.outputs.trained_on_lines`, within
    its first :data:`MAX_TRAINED_ON_SCAN` bytes) as a literal dict (:func:`ast.literal_eval`:
    nothing is run), else None. A submission is untrusted: what it says only decides the note
    ``submit`` prints for the submitter (:func:`lrgym.leaderboard.trained_apart.trained_apart_note`)
    and the board's mark of its entry (:func:`lrgym.leaderboard.trained_apart.apart_record`: the
    numbers the env took, none of the file's text); never how it is graded."""
    import ast

    from lrgym.baselines.outputs import TRAINED_ON_LINE

    for line in source[:MAX_TRAINED_ON_SCAN].split(b"\n"):
        if line.startswith(TRAINED_ON_LINE.encode()):
            try:
                value = ast.literal_eval(line.decode("utf-8")[len(TRAINED_ON_LINE):])
            except (SyntaxError, UnicodeDecodeError, ValueError, TypeError, RecursionError, MemoryError):
                return None
            return value if isinstance(value, dict) else None
    return None

