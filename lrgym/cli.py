"""The ``lrgym`` command. Subcommands live in :mod:`leaderboard.cli` (needs the report extra)."""

from __future__ import annotations


def main() -> None:
    try:
        from leaderboard.cli import app
    except ImportError as error:  # pragma: no cover - depends on installed extras
        raise SystemExit(f"the lrgym CLI needs the 'report' extra: pip install 'lrgym[report]' ({error})")
    app()
