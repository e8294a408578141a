"""The fixed info schema (lrgym/info.py): same keys, same NumPy types, at every reset and step,
on every family, in the single env and the vector env — checked against the env's own task,
spec and arguments (the independent source of each value)."""

import math
import re

import gymnasium as gym
import numpy as np
import pytest

import lrgym  # noqa: F401
from lrgym.env import LRControlEnv
from lrgym.info import ACTION_MODES, FAMILY_NAMES, INFO_KEYS, INFO_SCHEMA, family_index, family_name
from lrgym.optim import OPTIMIZERS
from lrgym.vector import LRControlVectorEnv

#: every family, and the data-set instances of the two families that have them
CASES = {
    "linreg": dict(family="linreg"),
    "linreg-diabetes": dict(family="linreg", family_options={"dataset": "diabetes"}),
    "quadratic": dict(family="quadratic"),
    "mlp": dict(family="mlp"),
    "mlp-digits": dict(family="mlp", family_options={"dataset": "digits"}),
    "mlp-breast_cancer": dict(family="mlp", family_options={"dataset": "breast_cancer"}),
    "recsys": dict(family="recsys", family_options={"n_users": 200, "n_items": 100}),
    "mixed": dict(family="mixed"),
}
SCALAR_TYPE = {np.dtype(np.float64): np.float64, np.dtype(np.int64): np.int64, np.dtype(np.bool_): np.bool_}


def same(a, b) -> bool:
    """Equal, with NaN equal to NaN."""
    if isinstance(a, (float, np.floating)) and math.isnan(a):
        return isinstance(b, (float, np.floating)) and math.isnan(b)
    return a == b


def check_single_info(env: LRControlEnv, info: dict, step: int) -> None:
    """``info`` has exactly the schema's keys and types, and values that agree with the env."""
    assert tuple(info) == INFO_KEYS
    for key, value in info.items():
        assert type(value) is SCALAR_TYPE[INFO_SCHEMA[key]], (key, type(value))
    task = env.task
    assert FAMILY_NAMES[info["family"]] == task.spec.family
    assert info["instance"] == task.spec.instance and info["step"] == step == env.t
    assert info["lr"] == env.lr and info["updates"] == env.updates
    if math.isnan(task.optimal_loss):  # mlp, recsys: no known optimum
        assert task.spec.family in ("mlp", "recsys") and math.isnan(info["excess_loss"])
    else:
        assert info["excess_loss"] == info["train_loss"] - task.optimal_loss
    assert (info["horizon"], info["inner_steps"]) == (env.horizon, env.inner_steps)
    assert (info["lr_min"], info["lr_max"]) == (env.lr_min, env.lr_max)
    assert OPTIMIZERS[info["optimizer"]] == env.optimizer.name
    assert ACTION_MODES[info["action_mode"]] == env.action_mode
    if step == 0:  # the step statistics of a fresh run
        assert info["batch_loss"] == info["grad_norm"] == info["grad_dot"] == 0.0
        assert not info["diverged"] and not info["rejected"] and info["updates"] == 0


@pytest.mark.parametrize("case", list(CASES))
def test_single_env_info_schema_at_reset_and_every_step(case):
    env = LRControlEnv(**CASES[case], horizon=4, inner_steps=2, optimizer="adam", action_mode="log_lr")
    rng = np.random.default_rng(0)
    for episode in range(3):
        obs, info = env.reset(seed=episode)
        check_single_info(env, info, 0)
        done, t = False, 0
        while not done:
            obs, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, size=1).astype(np.float32))
            t += 1
            check_single_info(env, info, t)
            done = terminated or truncated


def test_a_diverging_and_a_rejected_step_keep_the_schema():
    env = LRControlEnv(family="linreg", horizon=4, inner_steps=1, rejection_threshold=0.0, lr_init=5.0)
    env.reset(seed=0, options={"instance": 0})
    _, _, _, _, info = env.step(2)  # LR 5 on this instance raises the loss: the step is undone
    assert info["rejected"] is np.True_ and not info["diverged"]
    check_single_info(env, info, 1)
    env = LRControlEnv(family="quadratic", horizon=4, inner_steps=5, lr_max=1e6, lr_init=1e6)
    env.reset(seed=0, options={"instance": 1})
    _, _, terminated, _, info = env.step(2)
    assert terminated and info["diverged"] is np.True_
    check_single_info(env, info, 1)


def test_family_table_matches_the_mixed_family_and_name_helpers():
    mixed = LRControlEnv(family="mixed").family
    assert mixed.members == FAMILY_NAMES
    for i, name in enumerate(FAMILY_NAMES):
        assert family_index(name) == i and family_name(np.int64(i)) == name
    assert family_name(-1) == "unknown"  # no family (lrgym.torch's training)
    # a family outside the table: 2**32 + the CRC-32 of its name; its name once registered
    import zlib

    assert family_index("my_family") == 2 ** 32 + zlib.crc32(b"my_family")
    with pytest.raises(ValueError, match="not registered in this process"):
        family_name(family_index("my_family"))


def check_vector_infos(vec: LRControlVectorEnv, infos: dict, mask: np.ndarray) -> None:
    assert set(infos) >= {k for key in INFO_KEYS for k in (key, "_" + key)}
    for key in INFO_KEYS:
        assert infos[key].dtype == INFO_SCHEMA[key] and infos[key].shape == (vec.num_envs,), key
        assert infos["_" + key].dtype == np.bool_ and (infos["_" + key] == mask).all(), key


@pytest.mark.parametrize("case", list(CASES))
def test_vector_env_infos_follow_the_schema_and_equal_the_single_envs(case):
    n, seed = 3, 7
    kwargs = dict(**CASES[case], horizon=2, inner_steps=2)
    vec = LRControlVectorEnv(n, **kwargs)
    singles = [LRControlEnv(**kwargs) for _ in range(n)]
    _, infos = vec.reset(seed=seed)
    check_vector_infos(vec, infos, np.ones(n, dtype=bool))
    expected = [env.reset(seed=seed + i)[1] for i, env in enumerate(singles)]
    finished = np.zeros(n, dtype=bool)
    for step in range(5):  # crosses two NEXT_STEP autoresets
        for i in range(n):
            assert all(same(infos[key][i], expected[i][key]) for key in INFO_KEYS), (step, i)
        actions = np.full(n, 2)
        _, _, te, tr, infos = vec.step(actions)
        check_vector_infos(vec, infos, np.ones(n, dtype=bool))
        for i, env in enumerate(singles):
            expected[i] = env.reset()[1] if finished[i] else env.step(2)[4]
            finished[i] = te[i] or tr[i]
    # a masked reset: the keys are all there, the masks name the reset sub-environments
    mask = np.array([False, True, False])
    _, infos = vec.reset(seed=[None, 3, None], options={"reset_mask": mask})
    check_vector_infos(vec, infos, mask)


def test_same_step_autoreset_final_info_follows_the_schema():
    vec = LRControlVectorEnv(2, family="mixed", horizon=1, inner_steps=1, autoreset_mode="SameStep")
    vec.reset(seed=0)
    _, _, _, truncated, infos = vec.step(np.array([2, 2]))
    assert truncated.all()
    check_vector_infos(vec, infos, np.ones(2, dtype=bool))
    check_vector_infos(vec, infos["final_info"], np.ones(2, dtype=bool))
    assert (infos["final_info"]["step"] == 1).all() and (infos["step"] == 0).all()


def test_gymnasium_sync_vector_env_batches_the_schema_consistently():
    """gymnasium's own SyncVectorEnv: every key at every step, numeric dtypes (np.bool_ flags
    become object arrays there: gymnasium's rule for non-``np.number`` scalars)."""
    envs = gym.make_vec("LRControl-v1", num_envs=2, vectorization_mode="sync", horizon=2, inner_steps=1)
    _, infos = envs.reset(seed=0)
    for step in range(4):
        assert set(INFO_KEYS) <= set(infos)
        for key in INFO_KEYS:
            column = infos[key]
            if INFO_SCHEMA[key] == np.bool_:
                assert all(type(v) is np.bool_ for v in column), key
            else:
                assert column.dtype == INFO_SCHEMA[key], key
        _, _, _, _, infos = envs.step(np.array([2, 2]))


def test_env_from_one_config_mapping_as_rllib_passes_it():
    """RLlib calls ``env_class(env_context)`` with its EnvContext, a dict subclass."""

    class EnvContext(dict):  # RLlib's shape: a dict with extra attributes
        worker_index = 1
        num_workers = 2

    config = EnvContext(family="mixed", horizon=3, inner_steps=2, action_mode="log_lr")
    env = LRControlEnv(config)
    reference = LRControlEnv(family="mixed", horizon=3, inner_steps=2, action_mode="log_lr")
    a, b = env.reset(seed=5), reference.reset(seed=5)
    assert a[0].tobytes() == b[0].tobytes() and a[1]["instance"] == b[1]["instance"]
    assert env.step(np.array([0.5], dtype=np.float32))[0].tobytes() == reference.step(np.array([0.5], dtype=np.float32))[0].tobytes()
    assert LRControlEnv({}).family.name == LRControlEnv().family.name  # empty config: the defaults
    with pytest.raises(ValueError, match=r"config mapping and the keyword arguments \['horizon'\]"):
        LRControlEnv({"family": "mixed"}, horizon=5)
    with pytest.raises(ValueError, match="unknown family 'cnn'"):
        LRControlEnv({"family": "cnn"})
    # an unknown key is named as gym.make names it (it was Python's bare TypeError; an audit, 2026-12-05)
    with pytest.raises(TypeError, match=r"LRControlEnv\(config\) got an unexpected keyword argument 'horizn' "
                                        r"\(did you mean 'horizon'\?\); valid: family, family_options, "):
        LRControlEnv(EnvContext(horizn=10))
    # RLlib's vector_entry_point mode asks the class for num_envs sub-envs: the vector env is named
    # (it was 'unexpected keyword argument num_envs', in each remote runner; an RLlib audit, 2026-12-06)
    with pytest.raises(ValueError, match=r"got num_envs=4: RLlib's gym_env_vectorize_mode='vector_entry_point' .* "
                                         r"lrgym.vector.LRControlVectorEnv; valid: the id"):
        LRControlEnv(EnvContext(family="mixed", num_envs=4))


def test_module_prefixed_ids_resolve_in_a_fresh_process():
    """``"lrgym:LRControl-v1"`` makes gymnasium import lrgym: what subprocess envs need."""
    import subprocess
    import sys

    code = (
        "import gymnasium as gym\n"
        "env = gym.make('lrgym:LRControl-v1', horizon=2, inner_steps=1)\n"
        "obs, info = env.reset(seed=0)\n"
        "print(env.spec.id, obs.shape)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["LRControl-v1", "(12,)"]


def test_make_info_reads_every_stat_from_its_named_index():
    """The one info builder (env and TrainingMonitor) unpacks the kernels' stats array by
    position: each entry must come from its S_* index."""
    from lrgym.info import episode_constants, info_constants, make_info
    from lrgym.tasks import base

    stats = np.arange(1.0, base.N_STATS + 1.0)
    stats[base.S_DIVERGED] = 0.0
    info = make_info(stats, 0.5, False, 7, 3, episode_constants(2, 11, 0.25), info_constants(50, 10, 1e-6, 10.0, 3, 1))
    for key in ("train_loss", "val_loss", "val_metric", "batch_loss", "loss_var", "grad_norm", "grad_dot", "grad_cos"):
        assert info[key] == stats[getattr(base, "S_" + key.upper())], key
    assert info["excess_loss"] == stats[base.S_TRAIN_LOSS] - 0.25 and not info["diverged"]
    assert (info["updates"], info["step"], info["family"], info["instance"], info["optimizer"]) == (7, 3, 2, 11, 3)
    stats[base.S_DIVERGED] = 1.0
    assert make_info(stats, 0.5, True, 7, 3, episode_constants(2, 11, 0.0), info_constants(50, 10, 1e-6, 10.0, 3, 1))[
        "diverged"
    ]


@pytest.mark.parametrize("diverged", [False, True])
def test_step_info_equals_make_info_bit_for_bit(diverged):
    """The single env's fast step builds its info from compiled-written values
    (lrgym.info.write_step_values, step_info); it must equal the one builder's info key by key,
    dtype by dtype and bit by bit — NaN, inf and negative zero included."""
    from lrgym.info import STEP_FLOAT_KEYS, episode_constants, info_constants, make_info, step_info, write_step_values
    from lrgym.tasks import base

    rng = np.random.default_rng(0)
    constants = info_constants(50, 10, 1e-6, 10.0, 3, 1)
    for optimal_loss in (0.25, float("nan"), -0.0):
        episode = episode_constants(1, 17, optimal_loss)
        for stats in (rng.standard_normal(base.N_STATS), np.array([np.inf, np.nan, -0.0, 1e-310, 5, 6, 7, 8, 0, 10.0])):
            stats[base.S_DIVERGED] = 1.0 if diverged else 0.0
            lr = float(rng.uniform(1e-6, 10.0))
            reference = make_info(stats, lr, False, 123, 9, episode, constants)
            template = make_info(rng.standard_normal(base.N_STATS), 0.1, False, 0, 0, episode, constants)
            values = np.zeros(len(STEP_FLOAT_KEYS))
            write_step_values(stats, lr, optimal_loss, values)
            info = step_info(template, values, np.array([123, 9]), diverged)
            assert tuple(info) == tuple(reference) == INFO_KEYS
            for key in INFO_KEYS:
                assert type(info[key]) is type(reference[key]), key
                assert np.asarray(info[key]).tobytes() == np.asarray(reference[key]).tobytes(), key
            assert info is not template and template["step"] == 0  # the template is copied, not changed


def test_the_stats_to_info_table_names_every_statistic_by_its_index():
    """lrgym.info.STEP_STAT_KEYS is the one stats → info table: each key reports S_<KEY>, every
    statistic but S_DIVERGED / S_UPDATES is in it, and it runs in INFO_SCHEMA's order."""
    from lrgym.info import N_STEP_VALUES, STEP_FLOAT_KEYS, STEP_STAT_KEYS
    from lrgym.tasks import base

    for key, index in STEP_STAT_KEYS:
        assert index == getattr(base, "S_" + key.upper()), key
    indices = sorted(index for _, index in STEP_STAT_KEYS)
    assert indices + [base.S_DIVERGED, base.S_UPDATES] == list(range(base.N_STATS))
    assert STEP_FLOAT_KEYS == ("lr", *(k for k, _ in STEP_STAT_KEYS), "excess_loss") == INFO_KEYS[:N_STEP_VALUES]


def test_the_fast_step_writes_every_value_to_its_key():
    """write_step_values (compiled) and step_info (keys written out for speed) against the table:
    distinct values, so a swapped pair of keys is caught (the bit-for-bit test above shares one
    layout between the two and would not see a swap there)."""
    from lrgym.info import N_STEP_VALUES, STEP_FLOAT_KEYS, STEP_STAT_KEYS, step_info, write_step_values
    from lrgym.tasks import base

    stats = np.arange(10.0, 10.0 + base.N_STATS)
    values = np.full(N_STEP_VALUES, np.nan)
    write_step_values(stats, 0.5, 2.0, values)
    assert values[0] == 0.5 and values[-1] == stats[base.S_TRAIN_LOSS] - 2.0
    for j, (_, index) in enumerate(STEP_STAT_KEYS):
        assert values[1 + j] == stats[index]
    template = dict.fromkeys(INFO_KEYS)
    values = np.arange(1.0, N_STEP_VALUES + 1.0)
    info = step_info(template, values, np.array([7, 3]), True)
    assert [info[key] for key in STEP_FLOAT_KEYS] == list(values)
    assert tuple(info) == INFO_KEYS and (info["updates"], info["step"], info["diverged"]) == (7, 3, True)


def test_vector_info_columns_read_the_table():
    """InfoColumns.step: each stat column from its table index, keys in the schema's order, each
    followed by its mask (as before the table)."""
    from lrgym.info import STEP_STAT_KEYS
    from lrgym.tasks import base

    n = 3
    vec = LRControlVectorEnv(n, family="linreg", horizon=2, inner_steps=1)
    stats = np.arange(n * base.N_STATS, dtype=np.float64).reshape(n, base.N_STATS)
    stats[:, base.S_DIVERGED] = [0.0, 1.0, 0.0]
    ints = np.arange(n, dtype=np.int64)
    infos = vec._infos.step(stats, np.full(n, 0.1), 0.5, np.zeros(n, dtype=bool), ints, ints, ints, ints)
    for key, index in STEP_STAT_KEYS:
        assert (infos[key] == stats[:, index]).all(), key
    assert (infos["excess_loss"] == stats[:, base.S_TRAIN_LOSS] - 0.5).all()
    assert infos["diverged"].tolist() == [False, True, False]
    assert list(infos)[:2 * len(INFO_KEYS)] == [k for key in INFO_KEYS for k in (key, "_" + key)]
    check_vector_infos(vec, infos, np.ones(n, dtype=bool))
    vec.close()


def test_the_leaderboard_takes_the_action_modes_of_the_info_schema():
    from lrgym.info import ACTION_MODES as schema
    from lrgym.leaderboard import settings

    assert settings.ACTION_MODES is schema


@pytest.mark.parametrize("index", [-2, 4, 7, 1.0, 2.5, True, "1", None])
def test_family_name_refuses_what_no_env_gives(index):
    """The indices an env can put in ``info["family"]`` are ``family_index`` of the registered
    families (−1: no family); anything else raised nothing and read "unknown"."""
    from lrgym.tasks import FAMILIES

    members = [name for name in FAMILIES if name != "mixed"]  # a mixture's episodes report their member's
    assert all(family_name(family_index(name)) == name for name in members) and family_name(-1) == "unknown"
    with pytest.raises(ValueError, match=rf"family index {re.escape(repr(index))} invalid; valid: -1 .* 0 \(linreg\)") as caught:
        family_name(index)
    assert "(mixed)" not in str(caught.value)  # no env gives the mixture's own index: not named as valid


def test_family_name_names_a_family_added_by_a_line_in_families(monkeypatch):
    """README, "Adding a task family": a family inside lrgym is one line of ``lrgym.tasks.FAMILIES``
    (without ``mixed_v1``: outside the info schema's table, so its ``info["family"]`` is
    2**32 + the CRC-32 of its name). ``family_name`` named only the families registered from
    outside the package (those not in ``BUILT_IN``), so such a family's own index was refused as
    "invalid" (the controller's refusal then named no family). Here the toy family of
    tests/tasks/toy_family.py stands in for that line: in ``FAMILIES`` and in ``BUILT_IN``, as a
    line of the package's table puts it."""
    import os

    import lrgym.tasks as tasks

    monkeypatch.syspath_prepend(os.path.join(os.path.dirname(os.path.abspath(__file__)), "tasks"))
    monkeypatch.setitem(tasks.FAMILIES, "toy", tasks.FamilyEntry("toy_family:ToyFamily"))
    monkeypatch.setattr(tasks, "BUILT_IN", (*tasks.BUILT_IN, "toy"))
    env = LRControlEnv(family="toy")
    _, info = env.reset(seed=0)
    assert info["family"] == family_index("toy") == tasks.OWN_FAMILY_BASE + __import__("zlib").crc32(b"toy")
    assert family_name(info["family"]) == "toy"
    with pytest.raises(ValueError, match=rf"valid: -1 .*, {family_index('toy')} \(toy\)") as caught:
        family_name(family_index("toy") + 1)
    assert "(mixed)" not in str(caught.value)


def test_family_name_takes_the_integers_clients_hold():
    """``info["family"]`` as clients hand it back: a NumPy 0-d array, a one-element integer tensor
    (TorchRL stacks infos as tensors); int() of them worked before the check, which refused them.
    The reference is FAMILY_NAMES itself; floats and bools stay refused."""
    torch = pytest.importorskip("torch")
    for i, name in enumerate(FAMILY_NAMES):
        assert family_name(np.array(i)) == name == family_name(torch.tensor(i)) == family_name(torch.tensor([i]))
    assert family_name(torch.tensor(-1)) == "unknown"
    for bad in (torch.tensor(1.0), torch.tensor(True), np.array(True), np.array(1.0), torch.tensor([0, 1])):
        with pytest.raises(ValueError, match=r"family index .* invalid; valid: -1"):
            family_name(bad)
