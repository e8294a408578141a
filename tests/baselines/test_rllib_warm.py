"""``train_rllib`` fills Numba's disk cache once before RLlib builds its env runners, and its
``.json`` history says what its timers are.

A first run on a machine (or after an upgrade or an edit of lrgym) had every env runner compile
the same kernels at once on the cores they share: 239 s of sampling for 2,000 steps on two
runners, the next run 34 s in all (an RLlib user's audit). And the history's ``sample_s`` /
``learn_s`` were RLlib's moving averages, which a resume restores: a resumed run said 5.15 s of
sampling for iterations of ~100 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import types

import pytest

from lrgym.baselines import rllib_env

# A runner's process, given the env config and its seed: make_env as RLlib calls it, reset with
# the runner's seed, two episodes of random actions, then every sub-env reset onto another
# instance of each kind than the warm-up's (the last of each kind among the first 400) and an
# episode more. Prints what lrgym's Numba dispatchers loaded from the disk cache and compiled
# (cache_use: _CACHE_USE, put before it).
_RUNNER = """
import json, sys
import numpy as np
from lrgym.baselines.rllib_env import make_env
from lrgym.vector.warm import KIND_FIELDS

config, seed = json.loads(sys.argv[1]), int(sys.argv[2])
env = make_env({**config, "num_envs": 3})
env.action_space.seed(seed)
env.reset(seed=seed)
for _ in range(2 * config["horizon"] + 2):
    env.step(env.action_space.sample())
settings = env.unwrapped.settings
last = {}
for k in list(settings.instances)[:400]:
    spec = settings.family.sample(k)
    last[tuple(getattr(spec, f, None) for f in KIND_FIELDS)] = k
others = list(last.values())
for start in range(0, len(others), 3):
    picks = (others[start:start + 3] * 3)[:3]
    env.reset(seed=seed + 1, options={"instance": picks})
    for _ in range(config["horizon"] + 1):
        env.step(env.action_space.sample())
print(json.dumps({**cache_use(), "kinds": len(last)}))
"""

# What lrgym's Numba dispatchers of this process loaded from the disk cache (hits) and compiled
# (misses); defined first in both processes of the test, the warm-up's and the runner's.
_CACHE_USE = """
def cache_use():
    import sys
    from numba.core.dispatcher import Dispatcher
    hits, loaded, misses = 0, set(), set()
    for name, module in list(sys.modules.items()):
        if name.startswith("lrgym"):
            for attr, obj in list(vars(module).items()):
                if isinstance(obj, Dispatcher):
                    kernel = f"{obj.py_func.__module__}.{obj.py_func.__qualname__}"
                    hits += sum(obj.stats.cache_hits.values())
                    loaded.update(kernel for _ in obj.stats.cache_hits)
                    misses.update(kernel for _ in obj.stats.cache_misses)
    return {"hits": hits, "loaded": sorted(loaded), "misses": sorted(misses)}
"""


def _python(code: str, *args: str, cache) -> str:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.parametrize("family", ["linreg", pytest.param(None, marks=pytest.mark.slow)])  # mixed: 2.5 min
def test_a_runner_after_the_warm_up_compiles_nothing(family, tmp_path):
    """In an empty Numba cache, :func:`rllib_env.warm_runner_kernels` run in one process, then a
    runner's env in another (as RLlib's env runner builds and steps it, on every kind of the
    family): the runner loads every lrgym kernel it calls from the cache and compiles none.
    The check is not empty: the warm-up's process, on the empty cache, is seen compiling by the
    same count (what a runner without the warm-up would do: each kernel the runner loaded, a
    hit, is one it compiles on an empty cache). A third process, the runner on an empty cache,
    showed that too, by compiling the family's kernels a second time (≈ 40 % of the test's time)."""
    from lrgym.baselines.train_rllib import RLlibConfig

    env_config = {**RLlibConfig(family=family, env_kwargs={"horizon": 4}).full_env_kwargs(),
                  "reward_clip": [-10.0, 1.0], "num_envs": 8, rllib_env.RESUMED_AT: 400}  # as algo_config's
    cache = tmp_path / "numba"
    warm_up = json.loads(_python(_CACHE_USE + "import json, sys\nfrom lrgym.baselines.rllib_env import warm_runner_kernels\n"
                                 "picks = warm_runner_kernels(json.loads(sys.argv[1]))\n"
                                 "print(json.dumps({'picks': picks, **cache_use()}))", json.dumps(env_config),
                                 cache=cache))
    runner_config = {k: v for k, v in env_config.items() if k != "num_envs"}
    runner = json.loads(_python(_CACHE_USE + _RUNNER, json.dumps(runner_config), "3", cache=cache))
    assert len(warm_up["picks"]) == runner["kinds"] > 1  # one instance of each kind stepped
    assert runner["misses"] == [] and runner["hits"] > 0, runner
    # the count sees compiles: the warm-up compiled, on the empty cache, every kernel the runner then loaded
    assert set(warm_up["misses"]) >= set(runner["loaded"]) and warm_up["hits"] == 0, (warm_up, runner)


class _Algo:
    """RLlib's algorithm stood in for: each iteration takes ``seconds`` and reports RLlib's timers
    as a resumed run restores them (moving averages of the earlier iterations)."""

    def __init__(self, seconds: float, built: list):
        self.seconds, self.steps = seconds, 0
        built.append("algorithm")

    def train(self):
        time.sleep(self.seconds)
        self.steps += 64
        return {"env_runners": {"num_env_steps_sampled_lifetime": self.steps},
                "timers": {"env_runner_sampling_timer": 0.0515, "learner_update_timer": 0.0012}}

    def save_to_path(self, path):
        os.makedirs(path, exist_ok=True)

    def get_module(self):
        return None

    def stop(self):
        pass

    class env_runner_group:
        @staticmethod
        def foreach_env_runner(func, local_env_runner=True):
            return []


class _Exported:
    def to_bytes(self):
        return b"x"

    def submission_source(self):
        return "# x\n"


def _stand_ins(monkeypatch, built: list, seconds: float = 0.0):
    pytest.importorskip("ray.rllib")
    from lrgym.baselines import backend, train_rllib

    fake_ray = types.SimpleNamespace(__version__="test", cluster_resources=lambda: {"CPU": 4.0})
    monkeypatch.setattr(backend, "connect", lambda address=None, verbose=False: fake_ray)
    monkeypatch.setattr(train_rllib, "algo_config", lambda config: types.SimpleNamespace(
        build_algo=lambda: _Algo(seconds, built)))
    monkeypatch.setattr(train_rllib, "export_policy", lambda *args: _Exported())
    return train_rllib


@pytest.mark.parametrize("address, runners, where", [
    (None, 2, "driver"), ("10.0.0.1:6379", 2, "each node"), (None, 1, None), (None, 0, None)])
def test_the_kernels_are_warmed_once_before_the_runners_are_built(address, runners, where, tmp_path, monkeypatch):
    """With two env runners or more: on the driver for a Ray instance of this machine, with
    ``--address`` in one task on each node (:func:`backend.on_each_node`), with the runners' env
    config, before the algorithm (its runners) is built; with fewer, nowhere."""
    from lrgym.baselines import backend

    built: list = []
    train_rllib = _stand_ins(monkeypatch, built)
    monkeypatch.setattr(rllib_env, "warm_runner_kernels",
                        lambda env_config: built.append(("driver", env_config)) or [0])  # (the instances stepped)
    monkeypatch.setattr(backend, "on_each_node",
                        lambda fn, job, address: built.append(("each node", job, address)) or [[0]])
    monkeypatch.setattr(backend, "check_address_form", lambda address: None)
    config = train_rllib.RLlibConfig(total_timesteps=64, env_runners=runners, family="quadratic", address=address,
                                     out=str(tmp_path / "run"), progress=False)
    train_rllib.train(config, log=lambda m: None, wrote=lambda m: None)
    if where is None:
        assert built == ["algorithm"]
        return
    assert built[0][0] == where and built[1:] == ["algorithm"]
    assert built[0][1] == config.full_env_kwargs()  # the runners' env, as make_env builds it
    if where == "each node":
        assert built[0][2] == address
    assert json.loads((tmp_path / "run.json").read_text())["warm_up_s"] >= 0


def test_the_history_records_each_iterations_own_time_and_names_rllibs_timers(tmp_path, monkeypatch):
    """``iteration_s`` is this run's wall time of each iteration; RLlib's timers (moving averages
    a resume restores: 0.0515 s here for iterations of 0.2 s) are recorded under names that say
    so, not as ``sample_s`` / ``learn_s``."""
    built: list = []
    train_rllib = _stand_ins(monkeypatch, built, seconds=0.2)
    config = train_rllib.RLlibConfig(total_timesteps=128, env_runners=0, family="quadratic",
                                     out=str(tmp_path / "run"), progress=False)
    train_rllib.train(config, log=lambda m: None, wrote=lambda m: None)
    history = json.loads((tmp_path / "run.json").read_text())["history"]
    assert [h["iteration"] for h in history] == [1, 2]
    for h in history:
        assert 0.2 <= h["iteration_s"] < 5.0
        assert (h["rllib_sample_ema_s"], h["rllib_learn_ema_s"]) == (0.0515, 0.0012)
        assert "sample_s" not in h and "learn_s" not in h


def _warm_config(train_rllib, tmp_path, address=None):
    return train_rllib.RLlibConfig(total_timesteps=64, env_runners=2, family="quadratic", address=address,
                                   out=str(tmp_path / "run"), progress=False)


@pytest.mark.parametrize("address, where", [(None, "this machine"), ("10.0.0.1:6379", "2 nodes")])
def test_the_warm_up_says_what_it_warmed_where_and_how_long(address, where, tmp_path, monkeypatch):
    """The warm-up ran without a word (a minute on a cold cache looked like a hang). It now says
    one line through the run's ``log`` (stderr): the kinds of instances stepped, on this machine
    or on how many nodes, and its seconds, which are the ``.json``'s ``warm_up_s``."""
    from lrgym.baselines import backend

    built: list = []
    train_rllib = _stand_ins(monkeypatch, built)

    def warm(env_config):
        time.sleep(0.2)
        return [11, 12, 13]

    monkeypatch.setattr(rllib_env, "warm_runner_kernels", warm)
    monkeypatch.setattr(backend, "on_each_node", lambda fn, job, address: [fn(job), fn(job)])
    monkeypatch.setattr(backend, "check_address_form", lambda address: None)
    told: list = []
    train_rllib.train(_warm_config(train_rllib, tmp_path, address), log=told.append, wrote=lambda m: None)
    said = [m for m in told if "warm" in m]
    seconds = json.loads((tmp_path / "run.json").read_text())["warm_up_s"]
    assert said == [f"warmed lrgym's kernels for the env runners (3 kinds of quadratic instances) on {where} in "
                    f"{seconds} s"], told
    assert seconds >= 0.2 * (1 if address is None else 2)


@pytest.mark.parametrize("address, failure, named", [
    (None, ValueError("no kernel"), "on this machine: ValueError: no kernel"),
    ("10.0.0.1:6379", "node", "on the Ray node 3f2a9c1e at 10.0.0.7 (gpu-07): ValueError: no kernel")])
def test_a_warm_up_that_fails_is_named_and_the_run_goes_on_cold(address, failure, named, tmp_path, monkeypatch):
    """lrgym's own error in the warm-up (here a ValueError; on a node: raised there, or that node's
    Ray worker lost) stopped the run with a traceback, though the warm-up only saves time. It is
    now one line naming where and the error, saying the run goes on cold; the runners are built
    and train, and the ``.json`` has no ``warm_up_s``."""
    from lrgym.baselines import backend

    built: list = []
    train_rllib = _stand_ins(monkeypatch, built)

    def fails(env_config):
        raise failure

    def fails_on_a_node(fn, job, address):
        raise backend.NodeTaskFailed("3f2a9c1e at 10.0.0.7 (gpu-07)", ValueError("no kernel"))

    monkeypatch.setattr(rllib_env, "warm_runner_kernels", fails)
    monkeypatch.setattr(backend, "on_each_node", fails_on_a_node)
    monkeypatch.setattr(backend, "check_address_form", lambda address: None)
    told: list = []
    train_rllib.train(_warm_config(train_rllib, tmp_path, address), log=told.append, wrote=lambda m: None)
    assert [m for m in told if "warm" in m] == [
        f"warning: warming lrgym's kernels for the env runners failed {named}; continuing cold: each env runner "
        "compiles the kernels it needs itself (on a cold cache, minutes at its first sample)"], told
    assert built == ["algorithm"]
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["warm_up_s"] is None and meta["env_steps"] == 64


@pytest.mark.parametrize("stop", ["RayCannotRun", "NodeMismatch"])
def test_a_node_that_cannot_run_the_warm_up_stops_the_command_in_one_line(stop, tmp_path, monkeypatch, capsys):
    """A node whose runtime environment Ray cannot set up (``RuntimeEnvSetupError``:
    :class:`backend.RayCannotRun` naming the node and the fix) would fail RLlib's env runners
    placed there too, so it stops the run before anything is built, as a node with other code
    does: one line on stderr, exit 1, no traceback (it was Ray's traceback, naming no node)."""
    from lrgym.baselines import backend

    built: list = []
    _stand_ins(monkeypatch, built)
    from lrgym.baselines import train_rllib

    error = {"RayCannotRun": backend.RayCannotRun("Ray cannot run warm_runner_kernels on each node: the Ray node "
                                                  "3f2a9c1e at 10.0.0.7 (gpu-07) cannot set up the runtime environment"),
             "NodeMismatch": backend.NodeMismatch("the Ray node 3f2a9c1e at 10.0.0.7 (gpu-07) differs")}[stop]

    def cannot(fn, job, address):
        raise error

    monkeypatch.setattr(backend, "on_each_node", cannot)
    monkeypatch.setattr(backend, "check_address_form", lambda address: None)
    with pytest.raises(SystemExit) as stopped:
        train_rllib.main(["--env-runners", "2", "--family", "quadratic", "--steps", "64", "--address", "10.0.0.1:6379",
                          "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert stopped.value.code == 1 and built == []
    assert err == f"python -m lrgym.baselines.train_rllib: error: {error}\n"
    assert list(tmp_path.iterdir()) == []


def test_help_says_the_warm_up_and_the_exit_statuses_main_gives(capsys):
    """``--help`` said nothing of the warm-up's line nor of the one-line stop (exit 1) of a node that
    cannot run the job; the statuses it states are main's (2: an option error here; 1: the test
    above)."""
    from lrgym.baselines import train_rllib

    with pytest.raises(SystemExit) as shown:
        train_rllib.main(["--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert shown.value.code == 0
    assert "once per machine (with --address: on each node), said in one line on stderr ('warmed lrgym's kernels" in said
    assert ("Exit status: 0 when trained; 2 for an option or --config error; 1 when a Ray node runs other code than "
            "this one or cannot set up the run's runtime environment") in said
    with pytest.raises(SystemExit) as refused:
        train_rllib.main(["--steps", "many"])
    assert refused.value.code == 2 and "--steps: invalid int value: 'many'" in capsys.readouterr().err


@pytest.mark.parametrize("found", ["NodeMismatch", "RayCannotRun", "nothing"])
def test_a_failed_build_names_the_node_the_task_of_nothing_finds(found, monkeypatch):
    """A failed RLlib build runs a task of nothing on each node (``_runner_failures_named``): a node
    that cannot set up the runtime environment was named, but a node with other code (which that
    task checks as the warm-up does; no warm-up runs with one env runner) was passed over and
    RLlib's own error raised, naming neither the node nor what differs. Each is the command's
    one-line error now; with every node sound RLlib's own error is raised as it was."""
    from lrgym.baselines import backend, train_rllib

    errors = {"NodeMismatch": backend.NodeMismatch("the Ray node 3f2a9c1e at 10.0.0.7 (gpu-07) has lrgym 0.1"),
              "RayCannotRun": backend.RayCannotRun("Ray cannot run _nothing on each node: the Ray node 3f2a9c1e")}

    def each_node(fn, job, address, num_cpus=1):
        assert fn is train_rllib._nothing and num_cpus == 0
        if found in errors:
            raise errors[found]
        return [None]

    monkeypatch.setattr(backend, "on_each_node", each_node)
    expected = type(errors[found]) if found in errors else IndexError
    with pytest.raises(expected) as raised:
        with train_rllib._runner_failures_named(types.SimpleNamespace(address="10.0.0.1:6379")):
            raise IndexError("list index out of range")  # RLlib's own, when no runner answered
    if found in errors:
        assert str(raised.value) == f"RLlib could not start its env runners: {errors[found]}"
