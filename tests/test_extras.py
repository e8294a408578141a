"""Optional extras stay optional: the core imports none of them, and a missing one is named.

DESIGN (lrgym's founding notes) and README: the core, ``import lrgym`` and every id through
``gym.make`` / ``gym.make_vec``, needs numpy, numba, gymnasium (with scipy, threadpoolctl and
scikit-learn); PyTorch, Stable-Baselines3, Ray, matplotlib, rich, ... are extras imported where
they are used. ``tests/test_core_install.py`` runs the ids in a venv *without* the extras; the
first test here checks, in this environment where they are all installed, that the core still
does not import them (an eager ``import torch`` would cost seconds and gigabytes per process).
The second checks that a missing ``rl`` extra (Stable-Baselines3) is an ``ImportError`` naming the
extra to install, as the ``torch``, ``ray``, ``report`` and ``analysis`` extras' are: it was
Python's bare ``No module named 'stable_baselines3'`` (``lrgym.sb3``, ``train_sb3``, the SB3
baselines), and SB3 brings torch, whose unpinned install is a multi-GB CUDA build.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lrgym.extras import import_extra

REPO = Path(__file__).resolve().parents[1]
#: the optional extras' libraries (pyproject's optional-dependencies and what they bring)
OPTIONAL = ("torch", "stable_baselines3", "ray", "matplotlib", "rich", "typer", "tqdm", "pandas", "tensorboard",
            "torchrl")

CORE_SCRIPT = """
import json, sys
import gymnasium as gym
import numpy as np
import lrgym, lrgym.vector, lrgym.policy, lrgym.monitor, lrgym.baselines, lrgym.leaderboard
env = gym.make("LRControl-v1", horizon=2)
env.reset(seed=0)
env.step(2)
envs = gym.make_vec("LRControl-LinReg-v1", num_envs=2, horizon=2)
envs.reset(seed=0)
envs.step(np.array([2, 2]))
print(json.dumps(sorted(m for m in {optional!r} if m in sys.modules)))
"""


def run_python(script: str) -> str:
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=REPO.parent)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


def test_the_core_imports_no_optional_extra():
    loaded = json.loads(run_python(CORE_SCRIPT.format(optional=OPTIONAL)))
    assert loaded == [], f"import lrgym / gym.make / gym.make_vec imported optional extras: {loaded}"


#: hides Stable-Baselines3 as an environment without the rl extra sees it (importlib's own error)
HIDE_SB3 = """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "stable_baselines3":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Hide())
"""

MISSING_SB3_SCRIPT = HIDE_SB3 + """
import json
messages = {}
try:
    import lrgym.sb3
except ImportError as exc:
    messages["lrgym.sb3"] = str(exc)
from lrgym.baselines.train_sb3 import TrainConfig, train
try:
    train(TrainConfig(total_timesteps=1, progress=False))
except ImportError as exc:
    messages["train_sb3"] = str(exc)
from lrgym.baselines.registry import make_baseline
try:
    make_baseline("dqn").reset({})
except ImportError as exc:
    messages["dqn"] = str(exc)
print(json.dumps(messages))
"""


def test_a_missing_rl_extra_is_named():
    messages = json.loads(run_python(MISSING_SB3_SCRIPT))
    assert sorted(messages) == ["dqn", "lrgym.sb3", "train_sb3"], messages
    for where, message in messages.items():
        assert 'pip install "lrgym[rl]"' in message and "torch==2.13.0" in message, (where, message)
        assert "stable_baselines3" in message, (where, message)


def test_import_extra():
    assert import_extra("json", "none", "x") is json
    with pytest.raises(ImportError, match=r"'my tool' needs lrgym_no_such_package, from the optional extra 'report': "
                                          r'pip install "lrgym\[report\]"') as info:
        import_extra("lrgym_no_such_package.sub", "report", "'my tool'")
    assert info.value.name == "lrgym_no_such_package"


def test_import_extra_leaves_a_broken_install_s_own_error(tmp_path, monkeypatch):
    """A library that is there but fails importing something else keeps its own error."""
    (tmp_path / "lrgym_broken_extra.py").write_text("import lrgym_dependency_that_is_missing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError, match="No module named 'lrgym_dependency_that_is_missing'") as info:
        import_extra("lrgym_broken_extra", "rl", "x")
    assert "optional extra" not in str(info.value)
