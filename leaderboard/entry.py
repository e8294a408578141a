"""The ``lrgym`` command. Subcommands live in :mod:`lrgym.leaderboard.cli` (needs the report extra).

This shim keeps ``import lrgym`` light: Typer and rich are imported only when the command runs.
"""

from __future__ import annotations


def main() -> None:
    from lrgym.extras import import_extra

    for module in ("typer", "rich"):
        try:
            import_extra(module, "report", "the lrgym CLI")
        except ImportError as exc:  # a line, not a traceback
            raise SystemExit(str(exc)) from None
    from lrgym.leaderboard.cli import main as cli_main

    cli_main(exiting=True)


if __name__ == "__main__":
    main()
