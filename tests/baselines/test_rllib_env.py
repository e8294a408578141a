"""The env ``train_rllib``'s runners step and the env keywords it takes, without Ray: RLlib's
seeds spread so that no two runners draw the same instances, and env keywords a runner would
refuse (or the trainer overrides) refused as the parser's error before Ray starts.

Found by an RLlib user's audit (2026-12-06): RLlib seeds env runner k with ``seed + k`` and the
vector env gives sub-env i ``seed + i``, so runner 1's sub-env 1 and runner 2's sub-env 0 drew the
same instances in the same order, and with ``instance_order="cycle"`` every runner walked the list
in lockstep (the cycle start knew the sub-env's index, not the runner's); ``env_kwargs={"horizn": 5}`` ended in RLlib's bare
``IndexError: list index out of range``; ``{"action_mode": "log_lr"}`` trained discrete actions and ``{"family": "linreg"}`` linreg as
``rllib_ppo_mixed``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from lrgym.baselines import train_rllib
from lrgym.env import LRControlEnv

KWARGS = {"family": "mixed", "horizon": 3}


def first_instances(env_seed: int, n: int) -> list[tuple[int, int]]:
    """(family, instance) of each sub-env's first episode in a runner RLlib resets with ``env_seed``."""
    env = train_rllib.make_env({**KWARGS, "num_envs": n, "reward_clip": None})
    _, info = env.reset(seed=env_seed)
    return [(int(f), int(k)) for f, k in zip(info["family"], info["instance"])]


def single(seed: int) -> tuple[int, int]:
    _, info = LRControlEnv(**KWARGS).reset(seed=seed)
    return int(info["family"]), int(info["instance"])


@pytest.mark.parametrize("n", [1, 3])
def test_each_runners_sub_envs_have_seeds_of_their_own(n):
    """Runner k (RLlib's seed 0 + k) and its sub-env i: the single env seeded k·n + i; over three
    runners, n·3 different seeds, and here n·3 different first instances."""
    runs = {k: first_instances(k, n) for k in (1, 2, 3)}
    for k, drawn in runs.items():
        assert drawn == [single(k * n + i) for i in range(n)]
    everything = [x for drawn in runs.values() for x in drawn]
    assert len(set(everything)) == len(everything)


def test_a_reset_without_seed_goes_on_unseeded():
    env = train_rllib.make_env({**KWARGS, "num_envs": 2, "reward_clip": None})
    env.reset(seed=4)
    seeds = env.unwrapped.np_random_seed
    env.reset()
    assert env.unwrapped.np_random_seed == seeds == (8, 9)


def parse(tmp_path, values: dict, capsys) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(values))
    with pytest.raises(SystemExit) as stop:
        train_rllib.parse_config(["--config", str(path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err
    return err


@pytest.mark.parametrize("env_kwargs, message", [
    ({"horizn": 5}, "env_kwargs got an unexpected keyword argument 'horizn' (did you mean 'horizon'?)"),
    ({"instance_order": "cyc"}, "instance_order='cyc' invalid; valid choices: 'draw', 'cycle'"),
    ({"family_options": {"dimm": 8}}, "unknown mixed family option"),
    ({"instances": [-1]}, "instances[0]=-1"),
    ({"action_mode": "log_lr"}, "env_kwargs sets 'action_mode', which the trainer sets itself"),
    ({"instance_set": "val"}, "env_kwargs sets 'instance_set', which the trainer sets itself"),
    ({"family": "linreg"}, "env_kwargs sets 'family', which the family field sets (--family NAME), as it names the outputs"),
])
def test_env_keywords_a_runner_would_refuse_are_the_parsers_error(env_kwargs, message, tmp_path, capsys):
    err = parse(tmp_path, {"env_kwargs": env_kwargs}, capsys)
    assert message in err, err


def test_env_keywords_an_rllib_user_passes_are_taken(tmp_path):
    path = tmp_path / "config.json"
    kwargs = {"horizon": 10, "instances": [0, 1, 2, 3], "instance_order": "cycle", "family_options": {"dim": 8}}
    path.write_text(json.dumps({"family": "linreg", "env_kwargs": kwargs}))
    config = train_rllib.parse_config(["--config", str(path), "--out", str(tmp_path / "o")])
    assert config.full_env_kwargs() == {"family": "linreg", **kwargs, **train_rllib.TRAINER_SET}
    env = train_rllib.make_env({**config.full_env_kwargs(), "num_envs": 2, "reward_clip": None})
    assert list(env.reset(seed=1)[1]["instance"]) == [0, 1]  # the cycle, from each sub-env's own place


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", "--config {path}: the file holds a JSON list; valid: an object of config fields"),
    ("3", "--config {path}: the file holds a JSON int"),
    ('{"algoo": "ppo"}', "unknown config key(s) ['algoo'] (did you mean: 'algoo' → 'algo'?)"),
    ('{"given": ["algo"]}', "unknown config key(s) ['given']"),
])
def test_a_config_file_that_is_no_object_of_fields_is_the_parsers_error(text, message, tmp_path, capsys):
    """As train_sb3's and train_controller's --config (config_checks.read_config): a JSON list or
    number was a TypeError traceback out of ``dict.update``."""
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(SystemExit) as stop:
        train_rllib.parse_config(["--config", str(path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err
    assert message.format(path=path) in err, err
    if text == '{"given": ["algo"]}':
        assert "given" not in err.partition("valid:")[2]  # (an internal field is no valid choice)


def test_a_config_fifo_is_refused_not_waited_on(tmp_path, capsys):
    """``--config`` naming a FIFO read it, waiting forever for a writer (here a writer that comes
    after 5 s and writes nothing ends such a wait, so the test fails rather than hangs)."""
    import os
    import threading

    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)

    def end_a_wait() -> None:
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # (ENXIO: nobody is reading it)
        except OSError:
            pass

    timer = threading.Timer(5.0, end_a_wait)
    timer.start()
    try:
        with pytest.raises(SystemExit) as stop:
            train_rllib.parse_config(["--config", str(fifo), "--out", str(tmp_path / "o")])
    finally:
        timer.cancel()
    assert stop.value.code == 2 and "FIFO" in capsys.readouterr().err


def test_horizon_beside_env_kwargs_that_are_no_object_is_the_parsers_error(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text('{"env_kwargs": 3}')
    with pytest.raises(SystemExit) as stop:
        train_rllib.parse_config(["--config", str(path), "--horizon", "5", "--out", str(tmp_path / "o")])
    assert stop.value.code == 2 and "env_kwargs=3 invalid; valid: an object of keywords" in capsys.readouterr().err


CYCLE = {"family": "linreg", "horizon": 2, "instances": [0, 1, 2, 3, 4, 5, 6], "instance_order": "cycle",
         **train_rllib.TRAINER_SET}


class Runner:
    """A stand-in for RLlib's env runner: what ``on_environment_created`` reads of it."""

    def __init__(self, worker_index: int):
        self.worker_index = worker_index


def runner_episodes(env, worker_index: int, episodes: int, spread: bool = True) -> list[list[int]]:
    """The instances each sub-env of runner ``worker_index`` trains, episode by episode, after
    ``spread_cycles`` moved its cycles (RLlib seeds runner k with seed + k and steps on through
    the vector env's automatic resets)."""
    if spread:
        train_rllib.spread_cycles(env_runner=Runner(worker_index), env=env.unwrapped, env_context={})
    _, info = env.reset(seed=worker_index)
    seen = [[int(k)] for k in info["instance"]]
    ended = np.zeros(env.num_envs, dtype=bool)
    while min(map(len, seen)) < episodes:
        _, _, terminated, truncated, info = env.step(np.full(env.num_envs, 2))
        for i in np.flatnonzero(ended):  # NEXT_STEP autoreset: this step started the next episode
            seen[i].append(int(info["instance"][i]))
        ended = terminated | truncated
    env.close()  # (an AsyncVectorEnv's processes)
    return [s[:episodes] for s in seen]


def hand_cycle(runners: int, n: int, episodes: int) -> dict[int, list[list[int]]]:
    """The reference: one vector env of all ``runners × n`` sub-envs, remote runner k (1, 2, ...)
    holding its sub-envs ``(k − 1)·n`` to ``k·n − 1``, sub-env g taking the list's seeds from its
    g-th on, one per episode."""
    seeds = CYCLE["instances"]
    return {k: [[seeds[((k - 1) * n + i + e) % len(seeds)] for e in range(episodes)] for i in range(n)]
            for k in range(1, runners + 1)}


@pytest.mark.parametrize("mode", ["vector_entry_point", "sync", "async"])
@pytest.mark.parametrize("runners, n", [(2, 2), (3, 2), (2, 3)])
def test_runners_cycle_apart_as_one_vector_env_of_all_their_sub_envs(mode, runners, n):
    """instance_order="cycle": the cycle start knew only the sub-env's index, so every runner
    walked the list in lockstep (2 runners × 2 sub-envs over 7 seeds trained seeds 0 and 1 twice at
    once, wasted samples). ``spread_cycles`` (train_rllib's ``on_environment_created`` callback)
    starts runner k's sub-env i at the list's (k − 1)·n + i-th seed: the runners' first instances
    differ, and together they walk the list as one vector env of runners × n sub-envs would — in
    lrgym's vector env (``vector_entry_point``) and in gymnasium's ``SyncVectorEnv`` of lrgym envs
    (``sync``, whose sub-envs all start at the first seed), and its ``AsyncVectorEnv`` of them
    (``async``: sub-envs in processes of their own, moved by ``set_attr("cycle_position", ...)``;
    refused until 2026-12-06)."""
    import gymnasium as gym

    import lrgym  # noqa: F401 - the ids

    def build():
        if mode in ("sync", "async"):
            return gym.make_vec("LRControl-v1", num_envs=n, vectorization_mode=mode, **CYCLE)
        return train_rllib.make_env({**CYCLE, "num_envs": n, "reward_clip": None})

    seen = {k: runner_episodes(build(), k, episodes=4) for k in range(1, runners + 1)}
    assert seen == hand_cycle(runners, n, episodes=4)
    firsts = [s[0] for k in seen for s in seen[k]]
    assert len(set(firsts)) == len(firsts) == runners * n  # no two sub-envs of any runner start together


def test_the_local_runner_cycles_as_a_plain_vector_env_and_draws_are_left_alone():
    """Runner 0 (the driver's, sampling only with num_env_runners=0) starts at 0, as the vector
    env does; with instance_order="draw" the callback changes nothing (same draws to the bit)."""
    local = runner_episodes(train_rllib.make_env({**CYCLE, "num_envs": 3, "reward_clip": None}), 0, episodes=3)
    assert local == hand_cycle(1, 3, episodes=3)[1]
    drawn = {**CYCLE, "instance_order": "draw", "reward_clip": None, "num_envs": 2}
    assert (runner_episodes(train_rllib.make_env(drawn), 2, episodes=3)
            == runner_episodes(train_rllib.make_env(drawn), 2, episodes=3, spread=False))


def test_each_once_runners_start_their_passes_at_their_blocks_whatever_their_index():
    """instance_order="each_once": every runner's reset starts a pass over the whole list, sub-env
    i of its n at its block (the (7 + i) // 2 seeds SB3 would count: [0, 1, 2] and [3, 4, 5, 6]);
    spread_cycles moves nothing (its shift would be undone by that reset)."""
    once = {**CYCLE, "instance_order": "each_once", "reward_clip": None, "num_envs": 2}
    for k in (0, 1, 3):
        assert runner_episodes(train_rllib.make_env(once), k, episodes=5) == [[0, 1, 2, 3, 4], [3, 4, 5, 6, 0]]


def test_spread_cycles_names_the_vector_envs_it_takes():
    import gymnasium as gym

    valid = (r"valid: lrgym's vector env \(gym_env_vectorize_mode='vector_entry_point' .*\), or a SyncVectorEnv or "
             r"AsyncVectorEnv of lrgym envs \(gym_env_vectorize_mode='sync' or 'async'\)")
    env = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1")])
    with pytest.raises(ValueError, match=rf"spread_cycles got SyncVectorEnv; {valid}"):
        train_rllib.spread_cycles(env_runner=Runner(1), env=env)
    env = gym.vector.AsyncVectorEnv([lambda: gym.make("CartPole-v1")])
    try:
        with pytest.raises(ValueError, match=rf"spread_cycles got an AsyncVectorEnv of envs without lrgym's "
                                             rf"instance_order and cycle_position; {valid}"):
            train_rllib.spread_cycles(env_runner=Runner(1), env=env)
    finally:
        env.close()


def test_a_resumed_runner_draws_other_instances_than_the_run_started_with():
    """RLlib builds a resumed run's runners anew and resets them with the run's own seeds
    (``seed + k``): they replayed the instances the run had started with, in the same order (a
    run trained in segments trained the first segment's instances in every one). A checkpoint's
    env steps (``resumed_at``, which ``resumed_algo_config`` puts in the env config) draw the
    seeds anew: other instances than a fresh runner's, the same ones again for the same
    checkpoint; none (0) is the fresh run's seeds."""
    def first(resumed_at, seed=1, n=3):
        env = train_rllib.make_env({**KWARGS, "num_envs": n, "reward_clip": None, "resumed_at": resumed_at})
        _, info = env.reset(seed=seed)
        return env.unwrapped.np_random_seed, [(int(f), int(k)) for f, k in zip(info["family"], info["instance"])]

    fresh_seeds, fresh = first(0)
    assert fresh == first_instances(1, 3) and tuple(fresh_seeds) == (3, 4, 5)
    seeds, resumed = first(4000)
    assert first(4000) == (seeds, resumed)  # the same checkpoint resumed again: the same episodes
    assert not set(seeds) & set(fresh_seeds) and resumed != fresh
    assert len(set(seeds)) == 3 and all(0 <= s < 2**63 for s in seeds)
    later_seeds, _ = first(8000)
    assert not set(later_seeds) & set(seeds)
    other_runner, _ = first(4000, seed=2)  # runner 2 of the same resumed run
    assert not set(other_runner) & set(seeds)
    assert train_rllib.runner_seeds(None, 3, 4000) is None  # RLlib's later resets go on unseeded
