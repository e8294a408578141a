"""A submission that draws from the global random streams without seeding them gets the same
grade at every grading and on any number of workers (a determinism audit, 2026-12: an ε-greedy
probe on ``random.random()`` got 0.358 and 0.461), and each of its episodes draws its own numbers
(with one seed for all, every episode made the same draws: the board's intervals left out the
policy's own variance): the job's process starts from
:data:`~lrgym.leaderboard.global_streams.POLICY_RANDOM_SEED`, each episode's from its run's
:func:`~lrgym.leaderboard.global_streams.episode_stream_seed` (:mod:`lrgym.leaderboard.global_streams`).

``GlobalDraws`` picks each step's factor from Python's ``random`` and NumPy's legacy global
stream, shifted by what its module drew at import; its reference for each run is a replay of the
factors that fresh generators give (computed here, in the test's process): the module's draws
from ``POLICY_RANDOM_SEED``, the episode's from the run's stream seed. Graded on 1 and 2 workers
(jobs of 2 episodes, then of 1), every run equals its replay. torch's default generator likewise,
imported at the module's import or only in ``__init__`` (a finder seeds it at its import, with
the episode's seed). What the seed tells a policy: nothing it could compute on a private suite
(:func:`test_a_private_runs_stream_seed_is_none_a_policy_can_compute`).
"""

from __future__ import annotations

import random
import sys

import numpy as np
import pytest
from lb_helpers import graded_runs, tiny_suite

from lrgym.leaderboard.global_streams import POLICY_RANDOM_SEED, STREAM_SEEDS, episode_stream_seed
from lrgym.leaderboard.references import load_references
from lrgym.leaderboard.runner import job_layout, run_suite, submission_spec

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
'''

REPLAY = '''
class Replay{k}:
    name = "replay"
    FACTORS = {factors!r}

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


def _expected_factors(stream_seed: int) -> list[int]:
    """The factors ``GlobalDraws`` plays in an episode seeded with ``stream_seed``: its module's
    draws from fresh streams seeded with POLICY_RANDOM_SEED (the job process), each step's from
    fresh streams seeded with ``stream_seed`` (the episode's)."""
    at_import = int(random.Random(POLICY_RANDOM_SEED).random() * 1000) + int(
        np.random.RandomState(POLICY_RANDOM_SEED).random_sample() * 1000)
    py, legacy = random.Random(stream_seed), np.random.RandomState(stream_seed)
    return [(at_import + int(py.random() * 1000) + int(legacy.random_sample() * 1000)) % 5 for _ in range(HORIZON)]


def test_each_episode_draws_its_runs_own_streams_on_any_number_of_workers(tmp_path):
    suite = tiny_suite("global-streams", families=("quadratic",), n_instances=2, seeds=(0, 1), horizon=HORIZON,
                       inner_steps=2)
    runs = [("quadratic", t.instance, s) for t in suite.tasks() for s in suite.seeds]
    # one worker runs two episodes in a job, two workers one (the seeds apart in either)
    assert {len(tasks) for tasks, _ in job_layout(suite, 1, seeds_apart=True)} == {2}
    assert {len(tasks) for tasks, _ in job_layout(suite, 2, seeds_apart=True)} == {1}
    factors = [_expected_factors(episode_stream_seed(suite, *run)) for run in runs]
    assert len({tuple(f) for f in factors}) == len(runs)  # each run its own draws (else the test shows nothing)
    (tmp_path / "draws.py").write_text(POLICIES + "".join(REPLAY.format(k=k, factors=f) for k, f in enumerate(factors)))
    refs = load_references(suite, n_workers=1)
    draws = f"{tmp_path}/draws.py:GlobalDraws"
    outcomes = run_suite([submission_spec(draws, name="global-draws")] + [submission_spec(f"{tmp_path}/draws.py:Replay{k}", name=f"replay-{k}")
                                    for k in range(len(runs))], suite, references=refs, n_workers=1, time_limit=300)
    graded = graded_runs(outcomes[0])
    assert {run: graded[run] for run in runs} == {run: graded_runs(outcomes[1 + k])[run] for k, run in enumerate(runs)}
    again, = run_suite([submission_spec(draws, name="global-draws-2")], suite, references=refs,
                       n_workers=2, time_limit=300)
    assert graded_runs(again) == graded


def test_a_private_runs_stream_seed_is_none_a_policy_can_compute(tmp_path):
    """A private run's stream seed is keyed with the hidden rest of its family's part of the suite:
    a policy knowing its own run (family, instance, seed) and the suite's version still cannot
    compute it, since other instances or other seeds (of another key) give the run another seed,
    spread over the whole range. A suite restricted to some families (same version) keeps its
    runs' seeds, and every run of the suite has a seed of its own."""
    from dataclasses import replace

    import os

    from lrgym.leaderboard.private import private_suite
    from lrgym.leaderboard.suite import FamilySuite

    key = tmp_path / "grader.key"  # a fixed key (the test is the same at every run), as create_key writes one
    key.write_text("5e" * 32 + "\n")
    os.chmod(key, 0o600)
    suite = private_suite(key)
    seeds = {(t.family, t.instance, s): episode_stream_seed(suite, t.family, t.instance, s)
             for t in suite.tasks() for s in suite.seeds}
    assert len(set(seeds.values())) == len(seeds) and all(0 <= v < STREAM_SEEDS for v in seeds.values())
    family = suite.families[0].family
    known = (family, suite.families[0].instances[0], suite.seeds[0])  # all a policy could know of its run
    rng = random.Random(1)
    others = []
    for _ in range(40):  # the hidden rest drawn anew: the other instances, or the other seeds
        instances = (known[1],) + tuple(rng.randrange(2**40, 2**62) for _ in suite.families[0].instances[1:])
        fams = (FamilySuite(family, instances),) + suite.families[1:]
        others.append(episode_stream_seed(replace(suite, families=fams), *known))
        hidden_seeds = (known[2],) + tuple(rng.randrange(2**31) for _ in suite.seeds[1:])
        others.append(episode_stream_seed(replace(suite, seeds=hidden_seeds), *known))
    assert seeds[known] not in others and len(set(others)) == len(others)
    assert min(others) < STREAM_SEEDS // 8 and max(others) > STREAM_SEEDS * 7 // 8
    alone = suite.restrict([family])
    assert all(episode_stream_seed(alone, *run) == v for run, v in seeds.items() if run[0] == family)


def test_the_hosts_stream_seeds_are_one_int_per_episode():
    """The seeds the sandbox's host takes for a job (the grader's): one int in [0, 2**32) per
    episode, or None (the default); anything else is refused naming it."""
    from lrgym.leaderboard.episode_host import stream_seeds

    assert stream_seeds([0, 2**32 - 1], 2) == [0, 2**32 - 1] and stream_seeds(None, 3) is None
    for bad in ([1], [1, 2, 3], [-1, 0], [2**32, 0], [True, 0], ["1", 0], 7):
        with pytest.raises(ValueError, match=r"stream seeds .* valid: 2 ints in \[0, 2\*\*32\), or None"):
            stream_seeds(bad, 2)


def test_torchs_generator_is_seeded_where_the_policy_imports_torch(tmp_path):
    torch = pytest.importorskip("torch")
    (tmp_path / "torch_draws.py").write_text(TORCH_AT_IMPORT)
    (tmp_path / "torch_later.py").write_text(TORCH_IN_INIT)  # a module that does not import torch
    suite = tiny_suite("global-streams-torch", families=("quadratic",), n_instances=1, seeds=(0,), horizon=HORIZON,
                       inner_steps=2)
    refs = load_references(suite, n_workers=1)

    def fresh(seed):
        return torch.Generator().manual_seed(seed)

    episode = episode_stream_seed(suite, "quadratic", suite.families[0].instances[0], 0)
    assert episode != POLICY_RANDOM_SEED
    at_import = int(torch.rand((), generator=fresh(POLICY_RANDOM_SEED)) * 1000)  # the job's process
    at_module, in_init = fresh(episode), fresh(episode)  # the episode's, torch imported before it or in it
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
    (tmp_path / "replay.py").write_text(REPLAY.format(k="", factors=[3] * HORIZON))
    suite = tiny_suite("global-streams-own-torch", families=("quadratic",), n_instances=1, seeds=(0,),
                       horizon=HORIZON, inner_steps=2)
    own, replay = run_suite(
        [submission_spec(f"{tmp_path}/pol.py:OwnTorch", name="own-torch"),
         submission_spec(f"{tmp_path}/replay.py:Replay", name="own-torch-replay")],
        suite, references=load_references(suite, n_workers=1), n_workers=1, time_limit=300)
    assert graded_runs(own) == graded_runs(replay)


@pytest.mark.parametrize("stub", ["SystemExit", "ImportError('install torch')"])
def test_a_torch_stub_whose_getattr_raises_is_left_unseeded_and_one_whose_seed_raises_is_named(tmp_path, stub):
    """A submission's own ``torch`` stub with a lazy ``__getattr__`` raising anything but
    AttributeError (the usual "install torch" stub): ``hasattr(torch, "manual_seed")`` ran it and
    the entry failed with ``error: SystemExit``, of a lookup the policy never made. It has no
    generator to seed: graded as the replay of its factor, imported in the module (the finder's
    check) or before the episode's seeding. A stub whose own ``manual_seed`` raises fails the
    entry with a reason naming the module and the error."""
    (tmp_path / "torch.py").write_text(f"FACTOR = 3\n\n\ndef __getattr__(name):\n    raise {stub}\n")
    (tmp_path / "pol.py").write_text(
        "import torch\n\n\nclass StubTorch:\n    name = 'stub-torch'\n\n    def reset(self, info):\n        pass\n\n"
        "    def act(self, obs, info):\n        return torch.FACTOR\n")
    (tmp_path / "replay.py").write_text(REPLAY.format(k="", factors=[3] * HORIZON))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "torch.py").write_text("FACTOR = 3\n\n\ndef manual_seed(seed):\n    raise SystemExit(7)\n")
    (bad / "pol.py").write_text((tmp_path / "pol.py").read_text())
    suite = tiny_suite("global-streams-stub-torch", families=("quadratic",), n_instances=1, seeds=(0,),
                       horizon=HORIZON, inner_steps=2)
    stubbed, replay, seeded_badly = run_suite(
        [submission_spec(f"{tmp_path}/pol.py:StubTorch", name="stub-torch"),
         submission_spec(f"{tmp_path}/replay.py:Replay", name="stub-torch-replay"),
         submission_spec(f"{bad}/pol.py:StubTorch", name="bad-seed-torch")],
        suite, references=load_references(suite, n_workers=1), n_workers=1, time_limit=300)
    assert graded_runs(stubbed) == graded_runs(replay)
    assert not seeded_badly.ok
    reason = seeded_badly.entry.failure_reason
    assert "the module 'torch' the policy imported" in reason and "torch.py" in reason
    assert "raised 'SystemExit: 7' in manual_seed(" in reason and "valid: torch, or a module named torch" in reason


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


@pytest.mark.parametrize("seeds", [(), (1234,)], ids=["job-process", "episode"])
def test_torch_is_seeded_after_a_check_for_it_that_imports_nothing(seeds):
    """A policy that tests for torch before importing it (``importlib.util.find_spec("torch")``,
    the usual check of an optional dependency: every finder is asked, nothing imported) still gets
    torch at the seed: the finder took itself out when first asked, so the import after the check
    found no finder and torch started from the OS's entropy (its draws at the module's import, or
    in an episode's ``__init__``, changed from one grading to the next). The job process's seed,
    then an episode's given after it; in a fresh process, torch not imported yet."""
    import subprocess

    pytest.importorskip("torch")
    expected = seeds[-1] if seeds else POLICY_RANDOM_SEED
    code = (
        "import importlib.util, sys\n"
        "from lrgym.leaderboard.global_streams import seed_global_streams\n"
        "assert 'torch' not in sys.modules\n"
        "seed_global_streams()\n"
        "assert importlib.util.find_spec('torch') is not None\n"
        f"for seed in {list(seeds)!r}:\n"
        "    seed_global_streams(seed)\n"
        "    assert importlib.util.find_spec('torch') is not None\n"
        "import torch\n"
        f"assert torch.initial_seed() == {expected}, torch.initial_seed()\n"
        "assert 'exec_module' not in vars(torch.__spec__.loader)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
