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
            "torchrl", "lightning", "pytorch_lightning")

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


#: hides the libraries named in HIDDEN as an environment without their extras sees them
HIDE = """
import sys
HIDDEN = {hidden!r}
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Hide())
"""

MISSING_OTHERS_SCRIPT = HIDE.format(hidden=("torch", "ray", "pandas")) + """
import json
messages = {}
try:
    from lrgym.torch import PolicyScheduler
except ImportError as exc:
    messages["torch"] = str(exc)
from lrgym.baselines.backend import import_ray
try:
    import_ray()
except ImportError as exc:
    messages["ray"] = str(exc)
from lrgym.leaderboard.export import load_results
try:
    load_results("no-such-store.sqlite")
except ImportError as exc:
    messages["analysis"] = str(exc)
print(json.dumps(messages))
"""


def test_the_torch_ray_and_analysis_extras_are_named_as_the_rl_one_is():
    """One refusal for every extra (lrgym.extras.import_extra): lrgym.torch, the ray backend and
    load_results each wrote theirs by hand, in three forms."""
    messages = json.loads(run_python(MISSING_OTHERS_SCRIPT))
    assert messages == {
        "torch": "lrgym.torch needs torch, from the optional extra 'torch': pip install torch==2.13.0 (the CPU "
                 'build) first, then pip install "lrgym[torch]"',
        "ray": "the ray backend needs ray, from the optional extra 'ray': pip install \"lrgym[ray]\"",
        "analysis": "load_results needs pandas, from the optional extra 'analysis': pip install \"lrgym[analysis]\"",
    }, messages


def test_the_cli_without_the_report_extra_says_so_in_one_line():
    """The ``lrgym`` command's shim names the report extra as every other extra is named (it
    wrote its own message, in another form), as one line and exit status 1, not a traceback."""
    script = HIDE.format(hidden=("typer",)) + "from lrgym.leaderboard.entry import main\nmain()\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=REPO.parent)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.strip() == ("the lrgym CLI needs typer, from the optional extra 'report': "
                                  'pip install "lrgym[report]"'), out.stderr
