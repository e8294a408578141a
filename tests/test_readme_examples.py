"""The README's Python examples run as printed (the ones that need no model, store or long
training of the reader's; the SB3 one with a shorter ``learn``).

A block is found by its first line, so a block that moves still runs and one that is rewritten
fails here until this list follows it.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

#: first line of the block → (what the block assumes is already imported, replacements)
EXAMPLES = {
    "import gymnasium as gym": ("", {}),
    "from lrgym.baselines.registry import BASELINES, LEARNED, HAND_DESIGNED, make_baseline": ("", {}),
    'envs = gym.make_vec("LRControl-v1", num_envs=64, vectorization_mode="vector_entry_point")':
        ("import gymnasium as gym\nimport lrgym\n", {}),
    'env = gym.make("LRControl-v1", build_ahead=16)':
        ("import gymnasium as gym\nimport lrgym\nfrom lrgym.sb3 import make_sb3_vec_env\n", {}),
    "from stable_baselines3 import DQN": ("", {".learn(10_000)": ".learn(64)"}),
}


def python_blocks() -> dict[str, str]:
    blocks = [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S)]
    return {b.splitlines()[0].strip(): b for b in blocks}


@pytest.mark.parametrize("first_line", list(EXAMPLES))
def test_readme_example_runs(first_line):
    blocks = python_blocks()
    assert first_line in blocks, f"no README Python block starts with {first_line!r} any more"
    prelude, replacements = EXAMPLES[first_line]
    code = blocks[first_line]
    for old, new in replacements.items():
        assert old in code, f"{old!r} is no longer in the example"
        code = code.replace(old, new)
    if "stable_baselines3" in code:
        import torch

        torch.set_num_threads(1)
    namespace: dict = {}
    try:
        exec(compile(prelude + code, f"README example {first_line!r}", "exec"), namespace)
    finally:  # the example's envs (and their builder threads) end with it
        import gymnasium as gym

        for value in namespace.values():
            if isinstance(value, (gym.Env, gym.vector.VectorEnv)) or type(value).__name__.endswith("VecEnv"):
                value.close()
