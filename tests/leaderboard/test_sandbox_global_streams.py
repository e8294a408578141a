"""A submission that draws from the global random streams without seeding them gets the same
grade at every grading and on any number of workers (a determinism audit, 2026-12: an ε-greedy
probe on ``random.random()`` got 0.358 and 0.461): every submission's process starts from
:data:`~lrgym.leaderboard.global_streams.POLICY_RANDOM_SEED` (:mod:`lrgym.leaderboard.global_streams`).

``GlobalDraws`` picks each step's factor from Python's ``random`` and NumPy's legacy global
stream, shifted by what its module drew at import; its reference is ``Replay``, which plays the
factors that fresh generators seeded with ``POLICY_RANDOM_SEED`` give (computed here, in the test's
process). Graded on 1 and 2 workers (the job cut differs: jobs of 2 instances, then of 1), both
equal the replay on every run. Since the replay plays the same factors on every instance and seed,
the equality also shows that the streams a policy starts with say nothing of its episode (on a
private suite: nothing of the hidden instances and seeds). torch's default generator likewise,
imported at the module's import or only in ``__init__`` (a finder seeds it at its import).
"""

from __future__ import annotations

import random
import sys

import numpy as np
import pytest
from lb_helpers import graded_alike_on_1_and_2_workers, graded_runs, tiny_suite

from lrgym.leaderboard.global_streams import POLICY_RANDOM_SEED
from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import run_suite, submission_spec

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

HORIZON = 6

POLICIES = '''
import random

import numpy as np

AT_IMPORT = int(random.random() * 1000) + int(np.random.random() * 1000)


class GlobalDraws:
    name = "global-draws"

    def reset(self, info):
        pass

    def act(self, obs, info):
        return (AT_IMPORT + int(random.random() * 1000) + int(np.random.random() * 1000)) % 5


class Replay:
    name = "replay"
    FACTORS = {factors}

    def reset(self, info):
        self.t = 0

    def act(self, obs, info):
        self.t += 1
        return self.FACTORS[self.t - 1]
'''

TORCH_AT_IMPORT = '''
import torch

AT_IMPORT = int(torch.rand(()) * 1000)


class TorchAtImport:
    name = "torch-at-import"

    def reset(self, info):
        pass

    def act(self, obs, info):
        return (AT_IMPORT + int(torch.rand(()) * 1000)) % 5
'''

TORCH_IN_INIT = '''
class TorchInInit:
    name = "torch-in-init"

    def __init__(self):
        import torch as t

        self.torch = t

    def reset(self, info):
        pass

    def act(self, obs, info):
        return int(self.torch.rand(()) * 1000) % 5
'''


def _expected_factors() -> list[int]:
    """The factors ``GlobalDraws`` plays from streams seeded with POLICY_RANDOM_SEED: its module's
    draws from fresh streams (the job process), each step's from fresh streams again (the episode's)."""
    at_import = int(random.Random(POLICY_RANDOM_SEED).random() * 1000) + int(
        np.random.RandomState(POLICY_RANDOM_SEED).random_sample() * 1000)
    py, legacy = random.Random(POLICY_RANDOM_SEED), np.random.RandomState(POLICY_RANDOM_SEED)
    return [(at_import + int(py.random() * 1000) + int(legacy.random_sample() * 1000)) % 5 for _ in range(HORIZON)]


def test_unseeded_global_streams_grade_the_same_on_any_number_of_workers(tmp_path):
    (tmp_path / "draws.py").write_text(POLICIES.replace("{factors}", repr(_expected_factors())))
    suite = tiny_suite("global-streams", families=("quadratic",), n_instances=2, seeds=(0, 1), horizon=HORIZON,
                       inner_steps=2)
    refs = load_references(suite, n_workers=1)
    # the draws against their replay from the seeded streams, on either job cut
    assert len(graded_alike_on_1_and_2_workers(f"{tmp_path}/draws.py", ("GlobalDraws", "Replay"), suite, refs)) == 4


def test_torchs_generator_is_seeded_where_the_policy_imports_torch(tmp_path):
    torch = pytest.importorskip("torch")
    (tmp_path / "torch_draws.py").write_text(TORCH_AT_IMPORT)
    (tmp_path / "torch_later.py").write_text(TORCH_IN_INIT)  # a module that does not import torch
    suite = tiny_suite("global-streams-torch", families=("quadratic",), n_instances=1, seeds=(0,), horizon=HORIZON,
                       inner_steps=2)
    refs = load_references(suite, n_workers=1)

    def fresh():
        return torch.Generator().manual_seed(POLICY_RANDOM_SEED)

    at_import = int(torch.rand((), generator=fresh()) * 1000)
    at_module, in_init = fresh(), fresh()
    expected = {
        "TorchAtImport": [(at_import + int(torch.rand((), generator=at_module) * 1000)) % 5 for _ in range(HORIZON)],
        "TorchInInit": [int(torch.rand((), generator=in_init) * 1000) % 5 for _ in range(HORIZON)],
    }
    (tmp_path / "torch_replay.py").write_text("".join(
        f"class {name}Replay:\n    name = 'replay'\n    FACTORS = {factors!r}\n\n"
        "    def reset(self, info):\n        self.t = 0\n\n"
        "    def act(self, obs, info):\n        self.t += 1\n        return self.FACTORS[self.t - 1]\n\n\n"
        for name, factors in expected.items()))
    names = list(expected)
    outcomes = run_suite(
        [submission_spec(f"{tmp_path}/torch_draws.py:TorchAtImport", name="torch-at-import"),
         submission_spec(f"{tmp_path}/torch_later.py:TorchInInit", name="torch-in-init")]
        + [submission_spec(f"{tmp_path}/torch_replay.py:{name}Replay", name=f"{name.lower()}-replay")
           for name in names],
        suite, references=refs, n_workers=1, time_limit=300)
    assert ({name: graded_runs(outcomes[k]) for k, name in enumerate(names)}
            == {name: graded_runs(outcomes[len(names) + k]) for k, name in enumerate(names)})


def test_a_module_of_the_submissions_own_named_torch_is_imported_as_it_is(tmp_path):
    """A helper module beside the policy file that happens to be named ``torch`` (first on the
    policy's ``sys.path``, so ``import torch`` is it) has no generator to seed: the finder left
    it as it is (its import failed: ``partially initialized module 'torch' has no attribute
    'manual_seed'``, out of lrgym's own file). Graded as a replay of the factor it holds."""
    (tmp_path / "torch.py").write_text('"""The submission\'s own helper."""\n\nFACTOR = 3\n')
    (tmp_path / "pol.py").write_text(
        "import torch\n\n\nclass OwnTorch:\n    name = 'own-torch'\n\n    def reset(self, info):\n        pass\n\n"
        "    def act(self, obs, info):\n        return torch.FACTOR\n")
    (tmp_path / "replay.py").write_text(POLICIES.replace("{factors}", repr([3] * HORIZON)))
    suite = tiny_suite("global-streams-own-torch", families=("quadratic",), n_instances=1, seeds=(0,),
                       horizon=HORIZON, inner_steps=2)
    own, replay = run_suite(
        [submission_spec(f"{tmp_path}/pol.py:OwnTorch", name="own-torch"),
         submission_spec(f"{tmp_path}/replay.py:Replay", name="own-torch-replay")],
        suite, references=load_references(suite, n_workers=1), n_workers=1, time_limit=300)
    assert graded_runs(own) == graded_runs(replay)


def test_the_torch_finder_leaves_torchs_loader_as_it_found_it():
    """The finder wraps the loader's ``exec_module`` for torch's import only: after it, the loader
    runs other modules as before (a loader shared by several modules must not seed after each),
    and torch's generator is at the seed. In a fresh process, so that torch is not imported yet."""
    import subprocess

    code = (
        "import sys\n"
        "from lrgym.leaderboard.global_streams import POLICY_RANDOM_SEED, seed_global_streams\n"
        "assert 'torch' not in sys.modules\n"
        "seed_global_streams()\n"
        "import torch\n"
        "loader = torch.__spec__.loader\n"
        "assert 'exec_module' not in vars(loader), vars(loader).get('exec_module')\n"
        "assert torch.initial_seed() == POLICY_RANDOM_SEED, torch.initial_seed()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
