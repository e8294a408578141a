"""The README's Python examples run as printed (the ones that need no store or long training of
the reader's; the SB3 one with a shorter ``learn``, the PyTorch one with a small model of ours).

A block is found by text only it has, so a block that moves still runs and one that is
rewritten fails here until this list follows it.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

#: what the PyTorch example assumes of the reader's code: a model, its losses and 500 minibatches
TORCH_READER = """
import torch
torch.manual_seed(0)
X = torch.randn(256, 8)
Y = (X[:, 0] + 0.5 * X[:, 1] > 0).long()
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
objective = lambda m: torch.nn.functional.cross_entropy(m(X), Y).item()
val_loss = lambda m: torch.nn.functional.cross_entropy(m(X[:64]), Y[:64]).item()
val_accuracy = lambda m: (m(X[:64]).argmax(1) == Y[:64]).float().mean().item()
batches = [(X[k % 8 * 32 : (k % 8 + 1) * 32], Y[k % 8 * 32 : (k % 8 + 1) * 32]) for k in range(500)]
"""

#: text of the block that no other block has → (what the block assumes is already defined, replacements)
EXAMPLES = {
    'env = gym.make("LRControl-LinReg-v1")': ("", {}),
    "from lrgym.baselines.registry import BASELINES, LEARNED, HAND_DESIGNED, make_baseline": ("", {}),
    'envs = gym.make_vec("LRControl-v1", num_envs=64, vectorization_mode="vector_entry_point")':
        ("import gymnasium as gym\nimport lrgym\n", {}),
    'env = gym.make("LRControl-v1", build_ahead=16)':
        ("import gymnasium as gym\nimport lrgym\nfrom lrgym.sb3 import make_sb3_vec_env\n", {}),
    'DQN("MlpPolicy", make_sb3_vec_env("LRControl-v1", n_envs=8, seed=0))': ("", {".learn(10_000)": ".learn(64)"}),
    "from lrgym.torch import PolicyScheduler": (TORCH_READER, {}),
}


def python_blocks() -> list[str]:
    return [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S)]


@pytest.mark.parametrize("marker", list(EXAMPLES))
def test_readme_example_runs(marker):
    found = [b for b in python_blocks() if marker in b]
    assert len(found) == 1, f"{len(found)} README Python blocks hold {marker!r} (want exactly one)"
    prelude, replacements = EXAMPLES[marker]
    [code] = found
    for old, new in replacements.items():
        assert old in code, f"{old!r} is no longer in the example"
        code = code.replace(old, new)
    if "torch" in code:
        import torch

        torch.set_num_threads(1)
    namespace: dict = {}
    try:
        exec(compile(prelude + code, f"README example {marker!r}", "exec"), namespace)
    finally:  # the example's envs (and their builder threads) end with it
        import gymnasium as gym

        for value in namespace.values():
            if isinstance(value, (gym.Env, gym.vector.VectorEnv)) or type(value).__name__.endswith("VecEnv"):
                value.close()


#: modules the README mentions without a command line of their own to check
NOT_COMMANDS = {"lrgym.leaderboard.worker"}  # started by the grader's pool, not by a user


def readme_commands() -> dict[str, set[str]]:
    """{command: the flags the README gives it}: every ``python -m lrgym…`` and
    ``lrgym leaderboard SUB`` line of the README's shell blocks and inline code."""
    text = README.read_text()
    commands: dict[str, set[str]] = {}
    for match in re.finditer(r"(python -m (lrgym[\w.]+)|lrgym leaderboard ([a-z-]+))([^`\n]*)", text):
        command = match.group(2) or f"leaderboard {match.group(3)}"
        if command in NOT_COMMANDS:
            continue
        flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", match.group(4).split("#")[0]))
        commands.setdefault(command, set()).update(flags)
    return commands


def test_every_readme_command_runs_its_help_and_knows_the_readmes_flags():
    """A command the README tells users to run parses its arguments (a training script's
    ``--help`` once crashed on a missing import) and has every flag the README gives it."""
    import os
    import subprocess
    import sys

    commands = readme_commands()
    assert {"lrgym.baselines.train_rllib", "lrgym.baselines.train_sb3", "leaderboard submit"} <= set(commands)
    env = {**os.environ, "COLUMNS": "300"}
    for command, flags in sorted(commands.items()):
        if command.startswith("leaderboard "):
            argv = [sys.executable, "-m", "lrgym.leaderboard.cli", *command.split(), "--help"]
        else:
            argv = [sys.executable, "-m", command, "--help"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
        assert out.returncode == 0, f"{command} --help failed:\n{out.stderr[-2000:]}"
        # a module without a parser exits 0 too, having taken "--help" for an argument
        assert "usage:" in out.stdout.lower(), f"{command} --help printed no usage:\n{out.stdout[-500:]}"
        missing = sorted(f for f in flags if f not in out.stdout)
        assert not missing, f"the README gives {command} flags its --help does not know: {missing}"
