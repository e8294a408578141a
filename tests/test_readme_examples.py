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

#: what the Lightning example assumes: a network and a DataLoader of the reader's
LIGHTNING_READER = """
import torch
torch.manual_seed(0)
X = torch.randn(128, 8)
Y = (X[:, 0] > 0).long()
net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Y), batch_size=32)
"""

#: what the check_env example assumes: a TorchTrainingEnv of the reader's
TORCH_ENV_READER = """
import torch
from lrgym.torch import TorchTrainingEnv
torch.manual_seed(0)
X, Y = torch.randn(64, 4), torch.randint(0, 2, (64,))
env = TorchTrainingEnv(model=lambda: torch.nn.Linear(4, 2), train_data=(X, Y), batch_size=16, horizon=4,
                       inner_steps=2, loss_fn=torch.nn.CrossEntropyLoss(reduction="none"))
"""

#: text of the block that no other block has → (what the block assumes is already defined, replacements)
EXAMPLES = {
    'env = gym.make("LRControl-LinReg-v1")': ("", {}),
    "from lrgym.baselines.registry import BASELINES, LEARNED, HAND_DESIGNED, make_baseline": ("", {}),
    # these two import what they use themselves: a reader copies a block, not the one above it
    'envs = gym.make_vec("LRControl-v1", num_envs=64, vectorization_mode="vector_entry_point")': ("", {}),
    'env = gym.make("LRControl-v1", build_ahead=16)': ("", {}),
    'DQN("MlpPolicy", make_sb3_vec_env("LRControl-v1", n_envs=8, seed=0))': ("", {".learn(10_000)": ".learn(64)"}),
    "from lrgym.torch import PolicyScheduler": (TORCH_READER, {}),
    "def nan_is_nan(a, b, exact=False):": (TORCH_ENV_READER, {}),
    "from lrgym.torch.lightning import PolicySchedulerCallback": (LIGHTNING_READER, {
        "horizon=50, updates_per_step=10": "horizon=4, updates_per_step=5",
        "L.Trainer(max_steps=500, callbacks=[policy_lr])": (
            "L.Trainer(max_steps=20, callbacks=[policy_lr], accelerator='cpu', logger=False, "
            "enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)")}),
    # "Coming from DACBench's SGD benchmark" (tests/test_readme_dacbench.py checks what they claim)
    'instances=[3, 7, 11],\n               instance_order="cycle")': ("", {}),
    'venv = make_sb3_vec_env("LRControl-MLP-v1", n_envs=8, seed=0, instances=train)': ("", {}),
    "scores = {}  # (policy, family, instance, seed) -> S": ("", {'get_suite("v2")': 'get_suite("quick")'}),
    'envs = LRControlVectorEnv(2, family="linreg", instances=listed': ("", {}),
    "EvalCallback(eval_env, n_eval_episodes=len(listed)": ("", {"n_steps=64)": "n_steps=16)", "learn(5_000,": "learn(64,",
                                                                "eval_freq=250": "eval_freq=8"}),
}


def python_blocks() -> list[str]:
    return [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S)]


def run_readme_block(marker: str, replacements: dict[str, str] | None = None, prelude: str = "",
                     namespace: dict | None = None) -> dict:
    """Run the one README Python block that holds ``marker``, as printed but for ``replacements``
    (``old`` → ``new``, e.g. fewer training steps or a file in a test's folder; each ``old`` must
    still be in the block, so a README edit fails the test rather than running the long original),
    after ``prelude``, torch on one thread; return the namespace it ran in (``namespace`` when
    given, so a caller can close what the block made even when it raises)."""
    found = [b for b in python_blocks() if marker in b]
    assert len(found) == 1, f"{len(found)} README Python blocks hold {marker!r} (want exactly one)"
    [code] = found
    for old, new in (replacements or {}).items():
        assert old in code, f"{old!r} is no longer in the example"
        code = code.replace(old, new)
    if "torch" in code:
        import torch

        torch.set_num_threads(1)
    namespace = {} if namespace is None else namespace
    exec(compile(prelude + code, f"README example {marker!r}", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("marker", list(EXAMPLES))
def test_readme_example_runs(marker):
    prelude, replacements = EXAMPLES[marker]
    namespace: dict = {}
    try:
        run_readme_block(marker, replacements, prelude, namespace)
    finally:  # the example's envs (and their builder threads) end with it
        import gymnasium as gym

        for value in namespace.values():
            if isinstance(value, (gym.Env, gym.vector.VectorEnv)) or type(value).__name__.endswith("VecEnv"):
                value.close()


#: modules the README mentions without a command line of their own to check
NOT_COMMANDS = {"lrgym.leaderboard.worker", "lrgym.leaderboard.worker_template"}  # started by the grader's pool, not by a user


def readme_commands() -> dict[str, set[str]]:
    """{command: the flags the README gives it}: every ``python -m lrgym…``, ``python -m
    benchmarks…`` and ``lrgym leaderboard SUB`` line of the README's shell blocks and inline code."""
    text = README.read_text()
    commands: dict[str, set[str]] = {}
    for match in re.finditer(r"(python -m ((?:lrgym|benchmarks)[\w.]+)|lrgym leaderboard ([a-z-]+))([^`\n]*)", text):
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
    assert {"lrgym.baselines.train_rllib", "lrgym.baselines.train_sb3", "leaderboard submit",
            "benchmarks.report"} <= set(commands)
    env = {**os.environ, "COLUMNS": "300"}
    for command, flags in sorted(commands.items()):
        if command.startswith("leaderboard "):
            argv = [sys.executable, "-m", "lrgym.leaderboard.cli", *command.split(), "--help"]
        else:
            argv = [sys.executable, "-m", command, "--help"]
        # a benchmark runs from the checkout's top, as the README runs it (one whose --help ran the
        # benchmark instead timed out here)
        cwd = README.parent if command.startswith("benchmarks.") else None
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, cwd=cwd)
        assert out.returncode == 0, f"{command} --help failed:\n{out.stderr[-2000:]}"
        # a module without a parser exits 0 too, having taken "--help" for an argument
        assert "usage:" in out.stdout.lower(), f"{command} --help printed no usage:\n{out.stdout[-500:]}"
        missing = sorted(f for f in flags if f not in out.stdout)
        assert not missing, f"the README gives {command} flags its --help does not know: {missing}"


def test_the_vecnormalize_submission_example_normalises_as_vecnormalize_and_is_graded(tmp_path):
    """The README's "Submitting a policy" example: a PPO trained (briefly) under VecNormalize,
    written as a policy class with the model and the statistics in a module beside it. Its
    actions are the model's on VecNormalize's own normalize_obs (the reference), and the
    class is graded through the documented CLI on `quick` in the sandbox: an ok entry, 8 runs."""
    pytest.importorskip("stable_baselines3")
    import sys

    import numpy as np
    import torch

    torch.set_num_threads(1)  # the block names no torch, so run_readme_block leaves the threads
    folder = tmp_path / "my_submission"
    namespace = run_readme_block("class NormalizedPPO", {".learn(50_000)": ".learn(512)", 'Path("my_submission")': f"Path({str(folder)!r})"})
    venv, model = namespace["venv"], namespace["model"]
    assert sorted(p.name for p in folder.iterdir()) == ["policy.py", "weights.py"]
    sys.path.insert(0, str(folder))
    try:
        import importlib

        policy_module = importlib.import_module("policy")
        policy = policy_module.NormalizedPPO()
        venv.training = False
        rng = np.random.default_rng(0)
        observations = [venv.get_original_obs()[i] for i in range(8)] + \
            [rng.normal(0, 3, 12).astype(np.float32) for _ in range(8)]
        for obs in observations:
            reference = venv.normalize_obs(obs[None])[0]
            x = np.clip((obs - policy_module.MEAN) / policy_module.STD, -venv.clip_obs, venv.clip_obs)
            assert np.allclose(x, reference, rtol=1e-5, atol=1e-6)
            policy.reset({})
            assert policy.act(obs, {}) == int(model.predict(reference, deterministic=True)[0])
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("policy", None)
        sys.modules.pop("weights", None)
        venv.close()
    assert_graded_on_quick(tmp_path, f"{folder / 'policy.py'}:NormalizedPPO", "my-ppo-vecnormalize")


def assert_graded_on_quick(tmp_path, target: str, name: str) -> None:
    """``lrgym leaderboard submit TARGET --name NAME --suite quick`` into a store in ``tmp_path``,
    as a reader runs it: an ok entry of 8 runs, with its seeds."""
    import json
    import os
    import sqlite3
    import subprocess
    import sys

    db = tmp_path / "store.sqlite"
    env = {**os.environ, "LRGYM_RUNS": str(tmp_path / "runs"), "COLUMNS": "200"}
    out = subprocess.run([sys.executable, "-m", "lrgym.leaderboard.cli", "leaderboard", "submit", target,
                          "--name", name, "--suite", "quick", "--db", str(db), "-j", "1"],
                         capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    [(status, reason, n_runs, seeds)] = sqlite3.connect(db).execute(
        "select status, failure_reason, n_runs, seeds_json from entries where name = ?", (name,)).fetchall()
    assert (status, reason, n_runs) == ("ok", None, 8) and json.loads(seeds)


def test_the_frame_stack_example_gives_what_vecframestack_gives():
    """The README's ``FrameStack``, reset at each episode's start as a policy's ``reset(info)``
    does, against SB3's ``VecFrameStack`` itself (the reference) over three episodes of
    ``LRControl-v1`` (random actions, new instances): the same observation at every step."""
    pytest.importorskip("stable_baselines3")
    import gymnasium as gym
    import numpy as np
    from stable_baselines3.common.vec_env import DummyVecEnv, VecFrameStack

    import lrgym  # noqa: F401 - registers the ids

    namespace = run_readme_block("class FrameStack")
    stack = namespace["FrameStack"](4)
    venv = VecFrameStack(DummyVecEnv([lambda: gym.make("LRControl-v1", horizon=7)]), n_stack=4)
    venv.seed(3)
    venv.action_space.seed(3)
    stacked = venv.reset()
    first = stacked[0, -12:]
    stack.reset()
    episodes = 0
    while episodes < 3:
        assert np.array_equal(stack(first), stacked[0])
        stacked, _, dones, infos = venv.step(np.array([venv.action_space.sample()]))
        if dones[0]:  # the policy's reset(info) at the next episode's start
            episodes += 1
            stack.reset()
        first = stacked[0, -12:]
    venv.close()


def test_the_own_family_example_is_a_family_lrgym_runs_and_references(tmp_path, monkeypatch):
    """The README's worked example of a family of one's own ("Adding a task family"): its module,
    written where it says (a folder on PYTHONPATH outside the working directory), and its use as
    printed: the contract, gym.make, a baseline and the references, computed in lrgym's worker
    pool (which imports the module through $LRGYM_FAMILIES). Against independent references: the
    loss at w = 0 is log 2 and the task's gradient its loss's central finite difference; the
    references are the best constant LR of a search run here in this process (the same code: to the
    bit); the vector env, which steps a plain-Python task in a loop, gives the single envs'
    observations; and gymnasium's check_env passes with NaN equal to NaN, as the text says."""
    import math
    import sys

    import gymnasium as gym
    import numpy as np

    from lrgym.registry import ENV_IDS
    from lrgym.tasks import FAMILIES

    [module] = [b for b in python_blocks() if b.startswith("# my_pkg/logreg.py")]
    [use] = [b for b in python_blocks() if "import my_pkg.logreg  # registers" in b]
    package = tmp_path / "pkgs" / "my_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "logreg.py").write_text(module)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "pkgs"))
    monkeypatch.setenv("LRGYM_CACHE", str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    families, ids = dict(FAMILIES), dict(ENV_IDS)
    namespace: dict = {}
    try:
        exec(compile(use, "README own-family example", "exec"), namespace)
        namespace["env"].close()
        task = namespace["env"].unwrapped.task
        w = np.random.default_rng(0).normal(size=task.n_params)
        assert math.isclose(task.loss(np.zeros(task.n_params), *task.train), math.log(2.0), rel_tol=1e-14)
        X, y = task.train  # the gradient run applies, on the whole training set, against the loss's
        r = 1.0 / (1.0 + np.exp(-(X @ w[:-1] + w[-1]))) - y
        grad = np.append(X.T @ r / len(y) + task.spec.l2 * w[:-1], r.mean())
        for i in range(task.n_params):
            e = np.zeros(task.n_params)
            e[i] = 1e-6
            numeric = (task.loss(w + e, X, y) - task.loss(w - e, X, y)) / 2e-6
            assert abs(numeric - grad[i]) <= 1e-6 * max(1.0, abs(grad[i]))
        from lrgym.baselines.reference import ConstantLRRuns, search_reference
        from lrgym.leaderboard.references import reference_entry

        suite, refs = namespace["suite"], namespace["refs"]
        for t in suite.tasks():
            runs = ConstantLRRuns(suite.env_kwargs(t.family), t.instance, list(suite.seeds))
            here = reference_entry(search_reference(runs, runs.lr_min, runs.lr_max))
            assert refs.lr(t) == here["lr"] and list(refs.final_loss(t, s) for s in suite.seeds) == here["final_loss"]
        from lrgym.env import LRControlEnv
        from lrgym.vector import LRControlVectorEnv

        actions = np.random.default_rng(1).integers(0, 5, size=(4, 2))
        venv = LRControlVectorEnv(2, family="logreg", horizon=4, inner_steps=3)
        rows = [venv.reset(seed=5)[0]] + [venv.step(a)[0] for a in actions]
        for i in range(2):
            env = LRControlEnv(family="logreg", horizon=4, inner_steps=3)
            single = [env.reset(seed=5 + i)[0]] + [env.step(int(a))[0] for a in actions[:, i]]
            assert np.array_equal(np.array(single), np.array(rows)[:, i])
        from gymnasium.utils import env_checker

        monkeypatch.setattr(env_checker, "data_equivalence", _nan_is_nan(env_checker.data_equivalence))
        env_checker.check_env(gym.make("LRControl-LogReg-v0", horizon=4, inner_steps=2).unwrapped)
    finally:
        FAMILIES.clear()
        FAMILIES.update(families)
        ENV_IDS.clear()
        ENV_IDS.update(ids)
        gym.registry.pop("LRControl-LogReg-v0", None)
        for name in [m for m in sys.modules if m == "my_pkg" or m.startswith("my_pkg.")]:
            sys.modules.pop(name)


def _nan_is_nan(equivalence):
    """gymnasium's data_equivalence, except that a NaN equals a NaN of its type (the README's)."""
    import numpy as np

    def equal(a, b, exact=False):
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(equal(a[k], b[k], exact) for k in a)
        if isinstance(a, np.floating) and type(a) is type(b) and np.isnan(a) and np.isnan(b):
            return True
        return equivalence(a, b, exact)

    return equal


def test_the_readmes_count_of_the_blocks_run_here_is_right():
    """The README's Development section says how many of its Python blocks these tests run: the
    blocks of EXAMPLES, the two submission examples and the own-family example's two blocks checked on
    their own below, and the two TorchRL blocks tests/test_torchrl.py checks. It said "eight of the
    twelve" when 13 of 15 ran."""
    tested = [*EXAMPLES, "class NormalizedPPO", "class FrameStack", "# my_pkg/logreg.py",
              "import my_pkg.logreg  # registers", "GymWrapper(venv, categorical_action_encoding=True)",
              'submission_source("TorchRLPolicy")']
    blocks = python_blocks()
    run = [b for b in blocks if any(marker in b for marker in tested)]
    said = re.search(r"need no store or long training \((\d+) of\s+the (\d+) blocks", README.read_text())
    assert said, "the README no longer says how many of its Python blocks run here"
    assert (int(said.group(1)), int(said.group(2))) == (len(run), len(blocks))
