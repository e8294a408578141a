"""The ``lrgym`` command (Typer). ``lrgym.leaderboard.entry:main`` is the console entry point.

::

    lrgym leaderboard run-baselines            # main job: every baseline on the default suite (v2)
    lrgym leaderboard submit my_policy.py:MyPolicy --name mine
    lrgym leaderboard show
    lrgym leaderboard import-kept DB.pending/TOKEN.name-taken --name other   # a result whose name was taken meanwhile
    lrgym leaderboard report                   # runs/leaderboard.html + runs/LEADERBOARD.md (other suites: -<suite>)
    lrgym leaderboard run-baselines --ship     # maintainers: rewrite the shipped LEADERBOARD.md
    lrgym leaderboard references --suite v2    # (re)compute the best-fixed-LR references
    lrgym leaderboard export --format csv      # runs/results/{entries,runs,trajectories}.csv (or json)
    lrgym leaderboard suites
    lrgym leaderboard controller-ablation      # the learned controller's ablation table (suite val)
    lrgym leaderboard suites --private grader.key       # a hidden suite (see lrgym.leaderboard.private)
    lrgym --version                            # lrgym's version and the hash of its code

The commands live in modules of one concern each, imports pointing down: :mod:`~lrgym.leaderboard.cli_grading`
(run-baselines, controller-ablation, submit, import-kept, references), :mod:`~lrgym.leaderboard.cli_reading`
(show, report, export, suites), :mod:`~lrgym.leaderboard.cli_files` (outputs and the store) and
:mod:`~lrgym.leaderboard.cli_options` (the shared options, consoles and checks). This module holds the
Typer app (:class:`CommandGroup`: an unknown command's error lists the valid ones), ``--version``
and :func:`main`, and registers the commands in the order ``--help`` lists them.
"""

from __future__ import annotations

import difflib
import sys

import typer
from typer.core import TyperGroup

from lrgym.baselines.interrupts import run_command
from lrgym.leaderboard.cli_files import SHIPPED_BOARD
from lrgym.leaderboard.cli_grading import controller_ablation, import_kept, references, run_baselines, submit
from lrgym.leaderboard.cli_options import SuiteOpt, console, err
from lrgym.leaderboard.cli_reading import export, report, show, suites

#: what other modules and tests import from here (the commands are also reached through ``app``)
__all__ = ["SHIPPED_BOARD", "CommandGroup", "SuiteOpt", "app", "console", "controller_ablation", "err", "export", "import_kept",
           "leaderboard_app", "main", "references", "report", "run_baselines", "show", "submit", "suites"]

class CommandGroup(TyperGroup):
    """The group of ``lrgym`` and of ``lrgym leaderboard``: an unknown command's error names it,
    a close match ("Did you mean 'show'?", as Typer says) and every valid command, in ``--help``'s
    order (``lrgym leaderboard remove`` said "No such command 'remove'." and no more; there is no
    such command: the store is append-only). Checked before Typer resolves the name, so the
    error is this group's whichever click Typer bundles."""

    def resolve_command(self, ctx, args: list[str]):
        name = args[0] if args else ""
        if ctx.token_normalize_func is not None:
            name = ctx.token_normalize_func(name)
        if name and not name.startswith("-") and self.get_command(ctx, name) is None and not ctx.resilient_parsing:
            valid = [n for n in self.list_commands(ctx) if not getattr(self.get_command(ctx, n), "hidden", False)]
            close = difflib.get_close_matches(name, valid)
            ctx.fail(f"No such command {args[0]!r}." + (f" Did you mean {', '.join(map(repr, close))}?" if close else "")
                     + f" Valid commands: {', '.join(valid)}.")
        return super().resolve_command(ctx, args)


app = typer.Typer(help="lrgym: learning-rate control environments and their leaderboard.",
                  no_args_is_help=True, add_completion=False, cls=CommandGroup)
leaderboard_app = typer.Typer(help="Score policies on a benchmark suite, keep results, build reports.",
                              no_args_is_help=True, cls=CommandGroup)
app.add_typer(leaderboard_app, name="leaderboard")


def _print_version(asked: bool) -> None:
    """``lrgym --version``: the installed lrgym's version and the hash of the code its nodes run
    (:func:`lrgym.baselines.node_check.code_hash`, what a Ray run compares between the driver and
    each node), so two machines, or a bug report, can be checked at a glance."""
    if asked:
        import lrgym
        from lrgym.baselines.node_check import code_hash

        typer.echo(f"lrgym {lrgym.__version__} (code {code_hash()})")
        raise typer.Exit()


@app.callback()
def _lrgym(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                        help="Print lrgym's version and the hash of its code, and exit.")) -> None:
    """lrgym: learning-rate control environments and their leaderboard."""


leaderboard_app.command("run-baselines")(run_baselines)
leaderboard_app.command("controller-ablation")(controller_ablation)
leaderboard_app.command()(submit)
leaderboard_app.command("import-kept")(import_kept)
leaderboard_app.command()(show)
leaderboard_app.command()(report)
leaderboard_app.command()(references)
leaderboard_app.command()(export)
leaderboard_app.command()(suites)


def main(exiting: bool = False) -> None:
    """The ``lrgym`` command: SIGTERM and SIGHUP stop it as Ctrl-C does (workers stopped, their
    temp folders removed, finished entries kept), with exit status 128 + the signal's number
    (:mod:`lrgym.baselines.interrupts`). ``exiting``: the process ends right after (the ``lrgym``
    script, ``python -m``); a program calling ``main()`` keeps its own signal handlers."""
    run_command(app, exiting=exiting)


if __name__ == "__main__":
    sys.exit(main(exiting=True))
