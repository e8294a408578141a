"""Train the learned LR controller (:mod:`lrgym.baselines.controller`) by evolution strategies.

::

    python -m lrgym.baselines.train_controller                          # → runs/controller_mixed.{npz,py,json}
    python -m lrgym.baselines.train_controller --config my.json --seed 1
    python -m lrgym.baselines.train_controller --ship                   # → baselines/weights/controller_mixed.{npz,json}
    python -m lrgym.baselines.train_controller --resume                 # go on after Ctrl-C / a kill / --stop-after G
    python -m lrgym.baselines.train_controller --generations 60 --resume runs/c40.checkpoint.npz --out runs/c60
    lrgym leaderboard submit runs/controller_mixed.py:TrainedController --suite quick   # grade a run

Besides the weights and their record (``.json``) a run writes a self-contained submission file
(``.py``, the weights inline: :func:`lrgym.baselines.controller.submission_source`), since the
grader's sandbox holds only the submitted ``.py`` files; ``--ship`` writes none (the shipped
weights are the ``controller`` baseline: ``lrgym leaderboard run-baselines --only controller``).

**Checkpoints**: after every generation the run replaces ``<weights>.checkpoint.npz`` beside its
weights (a ``--ship`` run's under ``runs/``) with its whole ES state
(:mod:`lrgym.baselines.controller_checkpoint`); ``--resume`` goes on from it to the weights the
uninterrupted run trains, to the bit, and is refused if the config (but ``generations``), seed or
code differ. A run that completes keeps it, so that ``--generations M --resume`` extends it to M
generations: the weights a run of M generations from the start trains, to the bit (:func:`train`);
``--resume CHECKPOINT --out OTHER`` does so from a checkpoint file into other files, the
checkpoint's run left as it is (:func:`resume_source`).

**Objective** = what the leaderboard ranks by: the normalised score S (:func:`lrgym.baselines.score.score`)
of each episode against a per-run reference, averaged over a batch of **train** instances of
every family (plus ``div_penalty`` per diverged run, so that divergence costs more than S's floor).
The training reference of an (instance, seed) is the best constant SGD LR on a quarter-decade
grid (:func:`grid_references`): cheaper than the leaderboard's fine search, and computed on train
instances only. Validation and test instances are never touched: model selection uses a held-out
block of *train* instances (``holdout_start``).

**Optimiser**: antithetic OpenAI-ES (Salimans et al. 2017) with centred-rank fitness shaping and
Adam on the parameter vector; every candidate of a generation runs on the same episodes (common
random numbers), each on its own :class:`lrgym.env.LRControlEnv` (the env the leaderboard runs),
stepped together in one process, the envs sharing one cache of built instances and the
controller's decisions batched over all of them (:func:`run_batch`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from lrgym.baselines.code_version import git_commit
from lrgym.baselines.config_checks import (MAX_HIDDEN, ConfigError, check_env_keywords, flag, read_config,  # noqa: F401
                                           widths)  # (re-exported)
from lrgym.baselines.controller import SUBMISSION_CLASS, submission_source
from lrgym.baselines.controller_ablation import ABLATIONS, ablation_source
from lrgym.baselines.controller_checkpoint import MARK, read_checkpoint, resume_problem, write_checkpoint
from lrgym.baselines.interrupt_types import STOP_EXCEPTIONS
from lrgym.baselines.outputs import (SHIPPED_WEIGHTS, add_output_arguments, companion_problem, output_path,
                                     replace_files, status, with_suffix_added)
from lrgym.baselines.shell_words import shell_option, shell_path
from lrgym.settings import positive_int, seed_argument
# the command's parts, each in a module of its own, re-exported: this module stays their one import
from lrgym.baselines.train_controller_config import (DEFAULT_CONFIG, HERE, MAX_REF_GRID, NO_EFFECT,  # noqa: F401
                                                     PER_FAMILY, TRAIN_INSTANCES, TRAIN_SEEDS, TRAINER_SET,
                                                     ControllerConfig)
from lrgym.baselines.train_controller_episodes import (REFERENCE_KEYS, SCAN_CHUNK, TRAINER_FILES,  # noqa: F401
                                                       EpisodeSet, episode_scores, episode_set, evaluate_theta,
                                                       grid_references, references_version, run_batch)
from lrgym.baselines.train_controller_es import centred_ranks, train  # noqa: F401

WEIGHTS_NAME = "controller_mixed.npz"


#: what the files a run writes beside its weights always hold (:func:`~lrgym.baselines.outputs.companion_problem`):
#: the sidecar's command, the submission file's first line (:func:`lrgym.baselines.controller.submission_source`)
SIDECAR_MARK = b'"command": "python -m lrgym.baselines.train_controller'


SUBMISSION_MARK = b"trained by lrgym.baselines.train_controller"


def _generations_argument(text: str) -> int:
    """``--generations``' value as an integer (its range is checked with the config's, in
    :func:`main`); the parser's error names a value that is none and the valid ones (argparse's
    own said ``invalid int value: 'nan'``)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; valid: a positive integer (1, 2, 3, ...)") from None


def _generation_argument(text: str) -> int:
    """``--stop-after``'s value: a generation, an integer >= 1 (the parser's error names a bad one)."""
    try:
        return positive_int("--stop-after", int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a generation; valid: an integer >= 1 (1, 2, 3, ...)") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="JSON file of ControllerConfig fields "
                        f"(default: the shipped recipe {DEFAULT_CONFIG.name})")
    parser.add_argument("--seed", type=seed_argument, default=0, help="the run's random seed (an integer >= 0; default 0)")
    parser.add_argument("--generations", type=_generations_argument, default=None, help="override the config's generations")
    parser.add_argument("--resume", nargs="?", const=True, default=None, metavar="CHECKPOINT",
                        help="go on from CHECKPOINT (the .checkpoint.npz a run wrote beside its weights; its run's "
                             "files are left as they are) or, given alone, from the checkpoint of this run's output; "
                             "the weights go to --out (its config but generations, seed and code must be this run's; "
                             "generations: as many as it has trained or more): the same weights as a run of this "
                             "many generations that never stopped")
    parser.add_argument("--stop-after", type=_generation_argument, default=None, metavar="G",
                        help="stop after generation G, its checkpoint written, if the run has not ended by then "
                             "(go on later with --resume)")
    add_output_arguments(parser, f"controller weights ({WEIGHTS_NAME})",
                         "PATH.npz, with PATH.json, PATH.py and PATH.checkpoint.npz beside it; .npz is added "
                         "unless PATH ends in it")
    args = parser.parse_args(argv)
    try:
        cfg = ControllerConfig.from_json(args.config)
    except (OSError, ValueError, TypeError) as exc:
        parser.error(f"--config {args.config}: {exc}")
    if args.generations is not None:
        cfg.generations = args.generations
    try:
        cfg.generations = positive_int("generations", cfg.generations)
    except ValueError as exc:
        parser.error(f"{exc}: --generations or the config's generations")
    try:
        path = output_path(SHIPPED_WEIGHTS / WEIGHTS_NAME, ship=args.ship, out=args.out)
        earlier = path if earlier_weights(path) else None  # (before this run: --out d wrote d until 30dd10f)
        weights_path = with_suffix_added(path, ".npz")  # --out runs/c0.5 → runs/c0.5.npz, as qlearning's
        if weights_path != path and not weights_path.is_dir():  # (a folder: refused below, not written into)
            path = output_path(SHIPPED_WEIGHTS / WEIGHTS_NAME, out=weights_path)  # checked as given
    except ValueError as exc:
        parser.error(str(exc))
    if path.is_dir():  # before the references and generations, not after
        parser.error(f"--out {path} is a folder; valid: a file path, e.g. {path / WEIGHTS_NAME}")
    if weights_path != path and weights_path.is_dir():
        parser.error(f"--out {path}: its weights {weights_path} would be a folder; valid: another file path")
    sidecar = path.with_suffix(".json")  # runs/c0.5.npz → runs/c0.5.json
    # the shipped weights are the `controller` baseline, graded by run-baselines: no submission file
    submission = None if args.ship else path.with_suffix(".py")
    try:
        checkpoint = checkpoint_path(path, args.ship)
    except ValueError as exc:
        parser.error(str(exc))
    for beside, mark in ((sidecar, SIDECAR_MARK), (submission, SUBMISSION_MARK), (checkpoint, CHECKPOINT_MARK)):
        problem = companion_problem(beside, path, (mark,)) if beside is not None else None
        if problem:  # a file of the user's beside --out (their policy.py) is not replaced
            parser.error(f"--out {path}: {problem}")
    command = command_line(args)  # each option by its full name, as the hints below print it
    run = {"config": dataclasses.asdict(cfg), "seed": args.seed, "code": references_version()}
    resume, source = None, resume_source(args.resume, checkpoint)
    if source is not None:
        if source == checkpoint and not checkpoint.exists():
            parser.error(f"--resume: no checkpoint at {checkpoint} (a run with this output writes it after each "
                         "generation and keeps it when it completes; one finished before 2026-12-06 removed it); "
                         "valid: the output of an interrupted or finished run, --resume CHECKPOINT, or no --resume "
                         "to start one")
        if source != checkpoint and not source.is_file():
            parser.error(f"--resume {source}: {'a folder' if source.is_dir() else 'no such file'}; valid: "
                         "a checkpoint a train_controller run wrote (OUT.checkpoint.npz beside its weights OUT.npz)")
        try:
            resume, saved = read_checkpoint(source)
        except ValueError as exc:
            parser.error(f"--resume: {exc}; valid: " + ("remove it and start over without --resume" if source == checkpoint
                         else "a checkpoint a train_controller run wrote (OUT.checkpoint.npz beside its weights OUT.npz)"))
        problem = resume_problem(saved, run, resume.generation)
        if problem:
            parser.error(f"--resume {source}: {problem}; valid: the checkpoint's config (generations: "
                         f"{resume.generation} or more), seed and code" + (f", or remove {checkpoint} and start over "
                         "without --resume" if source == checkpoint else ""))
    if source != checkpoint and checkpoint.exists():  # an interrupted run's generations are not thrown away unasked
        try:
            held = read_checkpoint(checkpoint)[0]
            finished, held = held.finished, f"generation {held.generation}"
        except ValueError:
            held, finished = "an unreadable checkpoint", False
        if not finished:  # (a finished run's is replaced, as its weights are)
            parser.error(f"an interrupted run left its checkpoint {checkpoint} ({held}); valid: --resume to go on "
                         "from it (the same config and seed), "
                         + (f"another --out for the run from {source}, " if source is not None else "")
                         + "or remove it to start over")
    checkpoint.parent.mkdir(parents=True, exist_ok=True)  # generation 0's checkpoint failed in a new folder
    if source is not None and source != checkpoint:  # this run's own checkpoint from the start: a Ctrl-C's
        write_checkpoint(checkpoint, dataclasses.replace(resume, finished=False), run)  # --resume goes on from it
    resumed_after = None if resume is None else resume.generation  # (train goes on in that state)
    t0, c0 = time.time(), time.process_time()
    try:
        net, info = train(cfg, args.seed, checkpoint=checkpoint, resume=resume, stop_after=args.stop_after)
    except STOP_EXCEPTIONS:  # (a stop swallowed by code in the run again and again comes as StopEscalated)
        if checkpoint.exists():
            print(f"interrupted; the checkpoint of the last finished generation is {checkpoint}: go on with\n"
                  f"  {resume_command(args)}", file=sys.stderr, flush=True)
        raise
    if "stopped_after" in info:
        status(f"stopped after generation {info['stopped_after']} of {cfg.generations} (--stop-after); "
               f"checkpoint {checkpoint}: go on with\n  {resume_command(args)}")
        return 0
    meta = {**run, "best_generation": info["best_generation"], "command": command, "commit": git_commit()}
    if resumed_after is not None:
        meta["resumed_after"] = resumed_after
    weights = net.to_bytes(meta)
    files = {path: weights, sidecar: json.dumps({**meta, "wall_seconds": round(time.time() - t0, 1),
                                                 "cpu_seconds": round(time.process_time() - c0, 1),
                                                 "history": info["history"]}, indent=1, default=float) + "\n"}
    if submission is not None:
        name = submission_name(path)
        files[submission] = (submission_source(weights, name=name, trained_on=dict(cfg.env_options))
                             + ablation_source(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_files(files)  # together, or none of them
    # the checkpoint stays: --generations M --resume extends the run; marked finished, a new run replaces it
    try:
        finished, saved = read_checkpoint(checkpoint)
    except ValueError as exc:  # removed or replaced while the weights were written: the run is whole, not extensible
        finished = saved = None
        kept = f"its checkpoint could not be marked finished ({exc}): this run cannot be extended"
    else:
        finished.finished = True
        write_checkpoint(checkpoint, finished, saved)
        kept = (f"its checkpoint {checkpoint} stays: to train on to M generations (the weights a run of M trains)\n"
                f"  into other files, these kept: "
                f"{resume_command(args, generations='M', resume=str(checkpoint), out='PATH', ship=False)}\n"
                f"  in place of these: {resume_command(args, generations='M')}")
    took = f"({time.time() - t0:.0f} s wall, {time.process_time() - c0:.0f} CPU-s)"
    # stdout: the files written (the result), alone; what the run kept and what to do next: stderr
    status(kept_generation(info["best_generation"], cfg.generations))
    status(kept)
    if earlier is not None and earlier != path:
        status(f"note: {earlier} is left as it was: the weights an earlier run of --out {earlier} wrote there, "
               f"before --out PATH wrote PATH.npz; this run's weights are {path} (its sidecar and submission file "
               f"replaced that run's); a make_baseline(\"controller\", path={json.dumps(str(earlier))}) still loads the "
               f"earlier weights: load {path}, and remove {earlier} once nothing reads it")
    if submission is None:
        print(f"wrote {path} and {sidecar} {took}", flush=True)
        return 0
    print(f"wrote {path}, {submission} and {sidecar} {took}", flush=True)
    status(f"grade it: lrgym leaderboard submit {shell_path(f'{submission}:{SUBMISSION_CLASS}')} --suite val   "
           f"(the validation suite, at the settings it trained at; --suite quick, a smoke test at a shorter horizon, "
           f"marks it trained apart †; in Python: make_baseline(\"controller\", path={json.dumps(str(path))}))\n"
           f"its ablations: lrgym leaderboard submit {shell_path(f'{submission}:NoGradient')} --suite val   (any of "
           f"{', '.join(c.__name__ for c in ABLATIONS.values())})")
    return 0


def earlier_weights(path: Path) -> bool:
    """Whether ``path`` is a file of controller weights this command wrote (its header's
    ``command`` is :data:`COMMAND`'s): before 30dd10f, ``--out runs/d`` wrote them to ``runs/d``,
    where a run now writes ``runs/d.npz`` and leaves that file as it was, which
    ``make_baseline("controller", path="runs/d")`` goes on loading (:func:`main` says so)."""
    if path.suffix == ".npz" or not path.is_file():
        return False
    try:
        with np.load(path, allow_pickle=False) as data:
            command = json.loads(str(data["header"])).get("command")
    except Exception:  # noqa: BLE001 - any other file: not weights of this command's
        return False
    return isinstance(command, str) and (command == COMMAND or command.startswith(COMMAND + " "))


#: what a checkpoint always holds at its start (:mod:`lrgym.baselines.controller_checkpoint`)
CHECKPOINT_MARK = MARK


def checkpoint_path(path: Path, ship: bool) -> Path:
    """Where a run writing the weights ``path`` keeps its checkpoint: beside them
    (``runs/controller_mixed.npz`` → ``runs/controller_mixed.checkpoint.npz``); for ``--ship``
    under :func:`~lrgym.baselines.outputs.runs_dir` (``controller_mixed.ship.checkpoint.npz``:
    nothing but the weights is written where they ship). ``ValueError`` if that is a shipped place."""
    if ship:
        return output_path(Path(WEIGHTS_NAME.replace(".npz", ".ship.checkpoint.npz")))
    return with_suffix_added(path, ".npz").with_suffix(".checkpoint.npz")


#: how the command is run (the start of every command line it prints or records)
COMMAND = "python -m lrgym.baselines.train_controller"


def command_line(args: argparse.Namespace, **changes) -> str:
    """The command line of the parsed ``args`` with ``changes`` (``generations="M"``,
    ``stop_after=None``, ...): each option by its full name and only where it is not the default,
    values quoted for the shell, one that starts with ``-`` joined to its option (``--out=-x``,
    :func:`~lrgym.baselines.shell_words.shell_option`: ``--out -x`` is an option without its value
    to argparse). Not the words as typed: argparse takes any unambiguous prefix of
    an option (``--gen 40``, ``--stop 2``), so a command rebuilt from them by replacing
    ``--generations`` and removing ``--stop-after`` kept ``--gen 40`` beside the new
    ``--generations M``, and kept ``--stop 2``, which stopped the resumed run at once again."""
    values = {**vars(args), **changes}
    words = [COMMAND]
    if values["config"] != str(DEFAULT_CONFIG):
        words.append(shell_option("--config", values["config"]))
    for name, option in (("seed", "--seed"), ("generations", "--generations"), ("stop_after", "--stop-after"),
                         ("out", "--out")):
        if values[name] is not None and not (name == "seed" and values[name] == 0):
            words.append(shell_option(option, values[name]))
    words += ["--ship"] * bool(values["ship"])
    if values["resume"]:  # alone: this output's checkpoint
        words.append("--resume" if values["resume"] is True else shell_option("--resume", values["resume"]))
    return " ".join(words)


def resume_command(args: argparse.Namespace, **changes) -> str:
    """The command that goes on from the checkpoint of the run of ``args`` (:func:`command_line`
    with ``--resume`` alone, so from the checkpoint the run writes beside its output, not from the
    one it may have resumed from; without ``--stop-after``; ``changes``: e.g. ``generations="M"``)."""
    return command_line(args, **{"resume": True, "stop_after": None, **changes})


def resume_source(resume: str | bool | None, checkpoint: Path) -> Path | None:
    """The checkpoint a run given ``--resume`` (``resume``: None without it, True given alone, else
    its path) goes on from: ``checkpoint``, the run's own beside its output, for ``--resume`` alone
    or a path naming that file; the path given otherwise (a run of other files: its weights,
    record and checkpoint are left as they are, and this run writes its own at ``checkpoint``)."""
    if resume is None:
        return None
    if resume is True:
        return checkpoint
    given = Path(resume)
    same = given.resolve() == checkpoint.resolve() or (given.exists() and checkpoint.exists()
                                                       and given.samefile(checkpoint))
    return checkpoint if same else given


def kept_generation(best: int, generations: int) -> str:
    """The line that says which generation's parameters a run keeps (the best on the holdout).
    Generation 0 is the start, all parameters 0: each family's base LR, kept, with no change a
    step. A short run (``--generations 5``) often keeps it, and the weights it writes are then
    the untrained controller, which nothing else in its output said."""
    line = f"kept generation {best} of {generations} (the best on the holdout)"
    if best == 0:
        line += ("; that is the start, the untrained controller (every parameter 0: each family's base LR, "
                 "unchanged): no later generation scored better on the holdout; train longer (--generations)")
    return line


def submission_name(path: Path) -> str:
    """The entry name of the submission file written beside weights ``path``: its stem
    (``runs/controller_mixed.npz`` → ``controller_mixed``, ``runs/c0.5`` → ``c0.5``), with every
    character an entry name cannot hold (letters, digits, space and ``. _ + -``) made ``_``."""
    stem = with_suffix_added(path, ".npz").stem
    name = re.sub(r"[^A-Za-z0-9 ._+-]", "_", stem).strip()
    return (name if name[:1].isalnum() else f"controller-{name}")[:64].strip()


if __name__ == "__main__":
    from lrgym.baselines.interrupts import run_command

    raise SystemExit(run_command(main, COMMAND, exiting=True))
