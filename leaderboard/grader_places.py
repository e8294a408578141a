"""Where the grader may keep what no policy may read: its store and a private suite's outputs.

Every sandbox with namespaces builds a private root of read-only binds (the system folders, the
Python installation, the folders policies import from: :func:`lrgym.leaderboard.host_start.
root_contents`) and covers the grader's folders and files that those binds show
(:func:`lrgym.leaderboard.host_start.masked_dirs`). A folder is covered whole, by an empty
tmpfs: a file made in it later stays hidden. A folder the sandbox cannot cover whole (one it
imports from, such as the venv's own folder, or a bound folder itself, such as ``/etc``) has
its grader files covered one by one, each by an empty file bound over it when the sandbox
starts, which does not last: a file made there later (SQLite's ``-journal``, a locked store's
``.pending`` folder) is not covered, and a file removed and made again (SQLite removes its
``-wal`` and ``-shm`` when a grader's last connection closes, and its ``-journal`` after each
write in the rollback mode) shows again, its new contents included: removing a mount point from
another mount namespace (the grader's) detaches the mount in the sandbox's (Linux ≥ 3.18).

So the grader refuses such places rather than cover them badly:

* :func:`check_store_place`: a store whose side files would show to a running policy
  (``run_suite`` and the commands that grade submissions, before the store is opened);
* :func:`check_private_output`: a private suite's board or export (its hidden instances, seeds
  and initial losses) where a later sandbox would show it. A file written by one command is
  covered in another's sandboxes only if it lies in a folder that sandbox covers: the working
  directory, ``$LRGYM_HIDDEN_DIRS`` or ``$LRGYM_RUNS`` (as this process sees them);
* :func:`check_hidden_dirs`: a hidden folder (the working directory, ``$LRGYM_HIDDEN_DIRS``)
  that no sandbox can cover because it is itself a folder bound into every sandbox (the venv's
  own folder, ``/etc``): a grader run from its venv's folder showed its default store's
  journals, ``runs/`` and exports to every policy; or one the policy imports its modules from (a
  site-packages, ``site-packages/numpy``), which a cover would take from every policy;
* :func:`check_key_place`: a private suite's key (and its references beside it) where the
  sandbox of a command that does not name it (a public suite's ``submit``) would show it.

:func:`shown_by` says which bound folder shows a path, if any. These are checks of this
machine's layout as the grader sees it; on a Ray cluster each node builds its own sandboxes.
"""

from __future__ import annotations

import os

from lrgym.leaderboard.host_start import library_dirs, masked_dirs, reshown_dirs, root_contents
from lrgym.leaderboard.import_paths import hidden_dirs
from lrgym.leaderboard.store import store_files

__all__ = ["check_hidden_dirs", "check_key_place", "check_private_output", "check_store_place", "shown_by"]


def _inside(path: str, folder: str) -> bool:
    return path.startswith(os.path.realpath(folder).rstrip("/") + "/")


def shown_by(path: str | os.PathLike, files: list[str] | None = None, paths: list[str] | None = None,
             hidden: list[str] | None = None, needed: list[str] | None = None) -> str | None:
    """The folder bound into every sandbox's root that shows ``path`` (a file there, or one made
    there while a policy runs), or None: ``path`` lies outside every bound folder, or inside a
    folder the sandbox covers whole (:func:`~lrgym.leaderboard.host_start.masked_dirs` of
    ``files``, the grader's, and ``hidden``, the hidden folders) and not in a folder it shows
    again there (:func:`~lrgym.leaderboard.host_start.reshown_dirs`: the venv of a grader working
    in ``/usr/src/app``). A path covered one file at a time is shown (see the module's docs).
    ``paths`` (default: :func:`~lrgym.leaderboard.host_start.root_contents`), ``hidden`` and
    ``needed`` are :func:`~lrgym.leaderboard.host_start.masked_dirs`'s."""
    paths = root_contents()[0] if paths is None else paths
    real = os.path.realpath(path)
    bound = next((p for p in paths if real == os.path.realpath(p) or _inside(real, p)), None)
    if bound is None:
        return None
    masked = masked_dirs(paths, hidden, files, needed)
    # the innermost cover or reshown folder holding it decides (a venv inside a covered WORKDIR)
    holders = [(m, False) for m in masked] + [(r, True) for r in reshown_dirs(masked, needed)]
    holders = [(os.path.realpath(h), shown) for h, shown in holders if _inside(real, h)]
    if holders and not max(holders, key=lambda h: len(h[0]))[1]:
        return None
    return bound


def check_store_place(path: str | os.PathLike, **layout) -> None:
    """``ValueError`` naming the store, the bound folder and where to put it instead if a
    sandbox would show a file of the results store at ``path`` (:func:`store_files`) while a
    policy runs: the store lies directly in a folder the sandbox imports from (the venv's own) or
    in a bound folder itself (``/etc/lb.sqlite``). ``layout``: :func:`shown_by`'s ``paths``,
    ``hidden`` and ``needed``."""
    files = store_files(path)
    for f in files:
        bound = shown_by(f, files, **layout)
        if bound is not None:
            folder = os.path.dirname(files[0])
            raise ValueError(
                f"the results store {os.fspath(path)} lies in {folder}, which every sandbox shows (bound from {bound}) "
                "and cannot cover whole: its journal and side files (-wal, -shm, -journal, .pending), made while a "
                "policy runs, would be readable by that policy; valid: a store in a folder of its own there"
                f" (such as {os.path.join(folder, 'lrgym-store', os.path.basename(files[0]))}: covered whole), "
                "or outside the system folders (/usr, /etc, ...) and the Python installation, such as the default "
                "./lrgym_leaderboard.sqlite of a working directory outside them")


def check_private_output(path: str | os.PathLike, what: str, **layout) -> None:
    """``ValueError`` naming ``path`` and where to put it instead if a sandbox started now (this
    process's working directory, ``$LRGYM_HIDDEN_DIRS`` and ``$LRGYM_RUNS``) would show it:
    ``what`` (a private suite's board or export) would be readable by every later submission's
    policy. ``layout``: :func:`shown_by`'s ``paths``, ``hidden`` and ``needed``."""
    from lrgym.baselines.outputs import runs_dir

    bound = shown_by(path, [str(runs_dir())], **layout)
    if bound is not None:
        raise ValueError(
            f"{os.fspath(path)} would hold {what} in {bound}, a folder bound into every sandbox: a later submission's "
            "policy could read its hidden instances; valid: a path outside the system folders (/usr, /etc, ...) and "
            f"the Python installation, the default under $LRGYM_RUNS ({runs_dir()}), or a folder named in $LRGYM_HIDDEN_DIRS for every command")


def check_key_place(keyfile: str | os.PathLike, **layout) -> None:
    """``ValueError`` naming the key, the bound folder and where to keep it instead if a sandbox
    of a command that does not name the key would show it or its references
    (``KEYFILE.references/``): a command covers the key it is given (``--private``), but a public
    suite's ``submit`` knows no key, and the user-namespace sandbox's policies, whose uid outside
    is the grader's, read its 0600 files. As :func:`check_private_output`, a key is accepted
    outside every bound folder or in a folder every sandbox covers (the working directory,
    ``$LRGYM_HIDDEN_DIRS``, ``$LRGYM_RUNS``, as this process sees them). The commands taking
    ``--private`` call it before the key is made or read. ``layout``: :func:`shown_by`'s
    ``paths``, ``hidden`` and ``needed``."""
    from lrgym.baselines.outputs import runs_dir

    key = os.path.abspath(keyfile)
    for path in (key, key + ".references"):
        bound = shown_by(path, [str(runs_dir())], **layout)
        if bound is not None:
            raise ValueError(
                f"the private suite's key {os.fspath(keyfile)} lies in {bound}, a folder bound into every sandbox: "
                "a command that does not name the key (a public suite's submit) does not cover it, and its policy "
                "could read the key and its references (KEYFILE.references/); valid: a key outside the system "
                "folders (/usr, /etc, ...) and the Python installation (such as /srv/grader/grader.key), or in a "
                "folder named in $LRGYM_HIDDEN_DIRS for every command (move the key with its .references folder, "
                "and make a new key if a submission may have read it)")


def check_hidden_dirs(hidden: list[str] | None = None, libraries: list[str] | None = None, **layout) -> None:
    """``ValueError`` naming the folder, the bound folder and what to do instead if a sandbox
    would show a file made in a hidden folder (``hidden``, default :func:`~lrgym.leaderboard.
    import_paths.hidden_dirs`: this process's working directory and ``$LRGYM_HIDDEN_DIRS``)
    rather than cover it, or if its cover would take modules from the policy. A hidden folder
    strictly inside a bound one is covered whole (Docker's ``WORKDIR /usr/src/app`` under
    ``/usr``); one that *is* a bound folder (a grader run from its venv's own folder or from
    ``/etc``) cannot be: it is what the policy imports from or the system itself, so it stays
    bound, and the grader's files made there (the default store's journals, ``runs/``, a private
    board's exports) would be readable by every policy. One that is, or lies in, a folder the
    policy imports its modules from (``libraries``, default :func:`~lrgym.leaderboard.host_start.
    library_dirs`: a site-packages strictly inside the venv, ``site-packages/numpy``) is covered,
    so nothing shows, but every policy then fails to import those modules; binding it again
    would show the grader's files there: refused too. ``layout``: :func:`shown_by`'s ``paths``
    and ``needed``."""
    hidden = hidden_dirs() if hidden is None else hidden
    libraries = library_dirs() if libraries is None else libraries
    here = os.path.realpath(os.getcwd())
    for folder in hidden:
        what = "the working directory" if os.path.realpath(folder) == here else "the folder of $LRGYM_HIDDEN_DIRS"
        # a file made there while a policy runs: shown unless the folder is covered whole
        bound = shown_by(os.path.join(folder, "lrgym-made-later"), [], hidden=hidden, **layout)
        if bound is not None:
            raise ValueError(
                f"{what} {folder} is a folder every sandbox shows (bound from {bound}) and cannot cover: the grader's "
                "files made there (its default store ./lrgym_leaderboard.sqlite and journals, runs/, exports) would be "
                "readable by every policy; valid: a folder outside the system folders (/usr, /etc, ...) and the Python "
                "installation (run the grader from the project's folder, not from its venv or site-packages), or a "
                "folder of its own inside one (covered whole)")
        real = os.path.realpath(folder)
        library = next((lib for lib in libraries if real == os.path.realpath(lib) or _inside(real, lib)), None)
        if library is not None:
            raise ValueError(
                f"{what} {folder} is {'' if real == os.path.realpath(library) else 'inside '}{library}, a folder every "
                "policy imports its modules from: covering it (as every sandbox covers the grader's working directory "
                "and hidden folders) would take those modules from the policy, and showing it would show the grader's "
                "files made there (its default store and journals, runs/, exports); valid: a folder outside the Python "
                "installation's libraries (run the grader from the project's folder, not from site-packages), or a "
                "folder of its own beside them (covered whole)")
