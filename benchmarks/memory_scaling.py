"""Why a vector env over many *different* instances is slower per env step than one env: the
per-env-step time of the vector env (1 thread) against the number of sub-envs, with every
sub-env on its own instance or all on one instance (same arithmetic, different memory footprint).

    python -m benchmarks.memory_scaling [--families linreg,recsys]
"""

from __future__ import annotations

import argparse

from benchmarks import harness as h

SIZES = (1, 4, 16, 32, 64)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--families", default="linreg,recsys")
    p.add_argument("--seconds", type=float, default=0.3)
    p.add_argument("--blocks", type=int, default=3)
    args = p.parse_args(argv)
    print("| family | sub-envs | µs per env step, own instances | µs per env step, one instance |")
    print("|---|---:|---:|---:|")
    for name in args.families.split(","):
        fam = h.FAMILIES[name.strip()]
        for n in SIZES:
            own = h.rate(h.vector(fam, n=n), seconds=args.seconds, blocks=args.blocks)
            one = h.rate(h.vector(fam, n=n, shared=True), seconds=args.seconds, blocks=args.blocks)
            print(f"| {fam.name} | {n} | {1e6 / own:.1f} | {1e6 / one:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
