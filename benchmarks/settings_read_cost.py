"""Does reading an env's settings through :class:`lrgym.settings.Setting` cost step time?

    python -m benchmarks.settings_read_cost --before /path/to/old/tree   # e.g. a worktree of 6101be9

Since aa58ae9 an env's settings (``horizon``, ``lr_min``, ``factors``, ...) are read-only
descriptors that read ``env.settings`` instead of plain attributes, and the Python step reads
some of them on every call. This times, in this tree and in ``--before`` (a source tree run in
a subprocess with that tree first on ``sys.path``, each with its own benchmark harness), per env
step: a single env's step through ``gym.make`` and on the bare :class:`~lrgym.env.LRControlEnv`
(``env.unwrapped``, no wrappers), for ``linreg`` and ``quadratic`` on the harness's reference
configurations; the vector env's step (64 sub-envs, per sub-env step); and the compiled work
of a single step alone (:mod:`benchmarks.step_overhead`'s fused loop, the same code in both
trees), so that ``step − compiled`` is the Python part of a step. The trees alternate process
by process for ``--rounds`` rounds, and the rows within a process block by block, so both see
the same machine load; each value is the best (least CPU time) over all blocks and rounds.

The last table is the change, after − before, per step and against the Python part; a
difference within the rounds' spread is no measurable cost.
"""

from __future__ import annotations

import argparse
import os

from benchmarks.step_overhead import _FUSED, _TIME_RUNS, _run_tree

#: run in a subprocess in the measured tree (its harness, its lrgym)
_MEASURE = _FUSED + '''
import json

from lrgym.env import LRControlEnv

runs = {}
for name in ("linreg", "quadratic"):
    bench = h.FAMILIES[name]
    single, fused = single_and_fused(bench)
    bare_env = LRControlEnv(family=name, **h._env_kwargs(bench))
    bare_env.reset(seed=0, options={"instance": 0})

    def bare(env=bare_env):
        env.step(h.KEEP)  # (horizon 10**9: the episode never ends)
        return 1

    runs[name + " gym.make"] = single
    runs[name + " bare"] = bare
    runs[name + " vector"] = h.vector(bench)
    runs[name + " compiled"] = fused
''' + _TIME_RUNS


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="the older source tree to compare with (interleaved)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=0.2)
    args = ap.parse_args(argv)
    trees = {"after": os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
             "before": os.path.abspath(args.before)}
    samples: dict[str, list[dict]] = {name: [] for name in trees}
    for r in range(args.rounds):
        order = list(trees) if r % 2 == 0 else list(trees)[::-1]  # who goes first alternates too
        for name in order:
            samples[name].append(_run_tree(trees[name], args.blocks, args.seconds, _MEASURE))
    rows = list(samples["after"][0])
    best = {name: {key: min(s[key] for s in runs) for key in rows} for name, runs in samples.items()}
    worst = {name: {key: max(s[key] for s in runs) for key in rows} for name, runs in samples.items()}
    print("| row | before, µs/step (best; worst round) | after, µs/step (best; worst round) | after − before, µs "
          "| of the step | of the Python part |")
    print("|---|---:|---:|---:|---:|---:|")
    for key in rows:
        if key.endswith("compiled"):
            continue
        b, a = best["before"][key], best["after"][key]
        compiled = best["before"][key.split()[0] + " compiled"]
        python = "" if key.endswith("vector") else f"{100 * (a - b) / (b - compiled):+.1f} % of {b - compiled:.2f}"
        print(f"| {key} | {b:.2f} ({worst['before'][key]:.2f}) | {a:.2f} ({worst['after'][key]:.2f}) | {a - b:+.2f} "
              f"| {100 * (a - b) / b:+.1f} % | {python} |")
    for key in rows:
        if key.endswith("compiled"):
            print(f"| {key} (the same code in both) | {best['before'][key]:.2f} | {best['after'][key]:.2f} | | | |")


if __name__ == "__main__":
    main()
