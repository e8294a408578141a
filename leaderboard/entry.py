"""The ``lrgym`` command. Subcommands live in :mod:`lrgym.leaderboard.cli` (needs the report extra).

This shim keeps ``import lrgym`` light: Typer and rich are imported only when the command runs.
"""

from __future__ import annotations

import importlib.util


def main() -> None:
    missing = [m for m in ("typer", "rich") if importlib.util.find_spec(m) is None]
    if missing:  # pragma: no cover - depends on installed extras
        raise SystemExit(f"the lrgym CLI needs {' and '.join(missing)}: pip install 'lrgym[report]'")
    from lrgym.leaderboard.cli import main as cli_main

    cli_main(exiting=True)


if __name__ == "__main__":
    main()
