"""The memory peak of loading a policy's checkpoint (``lrgym.torch.checkpoint.from_checkpoint``)
holding a net and its Adam optimizer, against torch's own ``load_state_dict`` of both.

    python -m benchmarks.checkpoint_load_memory [--layers 12]

A policy object with a net of LAYERS ``Linear(1000, 1000)`` (1 M float32 parameters each) and an
Adam optimizer stepped once; its checkpoint (``to_checkpoint``) is loaded into a second such
policy. Each way runs in a process of its own and reports its resident peak (``VmHWM`` of
/proc/self/status, reset before the load) above the resident size before it, as a multiple of the
parameters' bytes:

* ``torch``: ``net.load_state_dict`` and ``opt.load_state_dict`` of the stored state dicts (copies
  into the parameters; the optimizer keeps the given tensors): the reference, about 0;
* ``before``: lrgym's load as it was: the optimizer's check on a deep copy of the live optimizer
  (its parameters and state copied) and its undo's deep copy of its state;
* ``copied``: both share the tensors torch's ``Optimizer.load_state_dict`` replaces
  (``_checkpoint_actions.replaced_tensors``), the net's stored state restored as a fresh copy
  (lrgym until stop 48);
* ``after``: the net's stored state handed to its ``load_state_dict`` as it is, since torch's
  own load only copies from it (``_checkpoint_actions.loads_by_copy``).

What remains is Adam's restored state (fresh copies of the checkpoint's: 2, which the optimizer keeps)
and the undo's copy of the net's weights (1: ``load_state_dict`` writes into them). Linux only
(``/proc/self/clear_refs``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_RUN = r"""
import gc, json, sys
import torch
from lrgym.torch import _checkpoint_actions, _checkpoint_restore
from lrgym.torch.checkpoint import from_checkpoint, to_checkpoint

torch.set_num_threads(1)
way, layers = sys.argv[1], int(sys.argv[2])
if way in ("before", "copied"):  # the net's stored state was copied before the load
    _checkpoint_restore.loads_by_copy = lambda module: False
if way == "before":  # the tensors the load replaces were deep-copied too
    _checkpoint_actions.replaced_tensors = _checkpoint_restore.replaced_tensors = lambda live: {}

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))

class Policy:
    def __init__(self):
        self.net = torch.nn.Sequential(*[torch.nn.Linear(1000, 1000) for _ in range(layers)])
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        self.net(torch.ones(2, 1000)).sum().backward()
        self.opt.step()

stored = to_checkpoint(Policy(), "policy")
live = Policy()
params = sum(p.numel() * p.element_size() for p in live.net.parameters())
gc.collect()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
base = status("VmRSS:")
if way == "torch":
    live.net.load_state_dict(stored["state"]["net"]["state"])
    live.opt.load_state_dict(stored["state"]["opt"]["state"])
else:
    from_checkpoint(stored, live, "policy")
print(json.dumps({"way": way, "peak": (status("VmHWM:") - base) / params, "params_mb": params / 2**20}))
"""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=12)
    args = parser.parse_args(argv)
    rows = {}
    for way in ("torch", "before", "copied", "after"):
        out = subprocess.run([sys.executable, "-c", _RUN, way, str(args.layers)], check=True,
                             capture_output=True, text=True).stdout
        rows[way] = json.loads(out.strip().splitlines()[-1])
    print(f"{rows['after']['params_mb']:.0f} MiB of float32 parameters, Adam; resident peak above the start, "
          "in parameters' bytes:")
    for way, row in rows.items():
        print(f"  {way:7s} {row['peak']:5.2f}")
    print(f"  before / after: {rows['before']['peak'] / rows['after']['peak']:.2f}, "
          f"copied / after: {rows['copied']['peak'] / rows['after']['peak']:.2f}")


if __name__ == "__main__":
    main()
