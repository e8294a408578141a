"""Where training and tuning write: ``runs/`` by default, the shipped files only with ``--ship``.

The package ships trained weights (``baselines/weights/``) and tuned values
(``baselines/tuned.json``) that the leaderboard ranks as the baselines. A quick experiment must
not replace them, so every command that trains or tunes writes, in this order of precedence:

1. ``--out PATH``: exactly there, or, if ``PATH`` is an existing folder, inside it under the
   default name (as ``cp`` and ``mv`` treat a folder: ``--out /tmp`` → ``/tmp/dqn_mixed.zip``);
   a ``PATH`` that names the shipped file itself (``--out baselines/weights``) is refused: that
   takes ``--ship``;
2. ``--ship``: over the shipped file in the package (what the maintainers do to regenerate it);
3. otherwise: under :func:`runs_dir` (``./runs`` of the working directory, or ``$LRGYM_RUNS``).

::

    python -m lrgym.baselines.train_sb3 --algo dqn --steps 3000      # → runs/dqn_mixed.{zip,json}
    python -m lrgym.baselines.train_sb3 --algo dqn --ship            # → baselines/weights/dqn_mixed.*
    python -m lrgym.baselines.qlearning                              # → runs/qlearning_mixed.npz
    python -m lrgym.baselines.tune --families recsys                 # → runs/tuned.json
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

HERE = Path(__file__).parent
#: the shipped weights of the learned baselines (read by :mod:`lrgym.baselines.registry`)
SHIPPED_WEIGHTS = HERE / "weights"
#: the shipped tuned values of the hand-designed baselines
SHIPPED_TUNED = HERE / "tuned.json"
#: environment variable that moves the default output folder
RUNS_ENV = "LRGYM_RUNS"


def runs_dir() -> Path:
    """The folder of unshipped outputs: ``$LRGYM_RUNS`` if set, else ``runs`` in the working directory."""
    return Path(os.environ.get(RUNS_ENV) or "runs")


def output_path(shipped: Path, *, ship: bool = False, out: str | Path | None = None) -> Path:
    """Where to write an output whose shipped copy is ``shipped``: ``out``, else ``shipped`` if
    ``ship``, else the same file name under :func:`runs_dir`. ``out`` and ``ship`` exclude each other.

    An ``out`` that is an existing folder means "in there, under the usual name": ``out /
    shipped.name`` (``shipped`` may lack its suffix, as the SB3 weights' ``dqn_mixed`` does: the
    command adds ``.zip`` and ``.json`` to what this returns). An output that is itself a folder
    (``lrgym leaderboard export --format csv``) does not come here with its ``--out``.
    """
    if out is not None and ship:
        raise ValueError(f"--out {out} and --ship both given; valid: one of them (or neither: {runs_dir()}/)")
    if out is not None:
        given = Path(out)
        path = given / shipped.name if given.is_dir() else given
        if _same_output(path, shipped):
            raise ValueError(f"--out {out} is the shipped {shipped.name} ({shipped}); valid: --ship to overwrite it "
                             f"on purpose, or another path (default: {runs_dir() / shipped.name})")
        return path
    return shipped if ship else runs_dir() / shipped.name


#: suffixes a command adds to what :func:`output_path` returns (the SB3 weights' ``.zip`` and
#: sidecar ``.json``, NumPy's ``.npz``): ``--out weights/dqn_mixed.zip`` names the shipped ``dqn_mixed``
ADDED_SUFFIXES = (".zip", ".json", ".npz")


def _same_output(path: Path, shipped: Path) -> bool:
    """Whether writing ``path`` would write the shipped file ``shipped`` (or one of the files a
    command derives from it by adding :data:`ADDED_SUFFIXES`), through any spelling of the path
    (relative, ``..``, a symbolic link)."""
    def bare(p: Path) -> Path:
        p = p.resolve()
        for suffix in ADDED_SUFFIXES:
            if p.name.endswith(suffix) and len(p.name) > len(suffix):
                return p.with_name(p.name[: -len(suffix)])
        return p

    return bare(path) == bare(shipped)


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


def add_output_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """``--out`` and ``--ship`` for a command that writes ``what``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--out", default=None, type=_path_given, help=f"write {what} here; an existing folder: inside it under the "
                       f"default name (default: ${RUNS_ENV} or ./runs/)")
    group.add_argument("--ship", action="store_true",
                       help=f"overwrite the shipped {what} in the package (maintainers regenerating it)")
