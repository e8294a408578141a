"""Rendering: ``render_mode="ansi"`` (a line per step) and ``"rgb_array"`` (the run as an image),
the unknown-mode error, and Stable-Baselines3's ``make_vec_env`` on every registered id."""

from __future__ import annotations

import math
import re

import gymnasium as gym
import numpy as np
import pytest

import lrgym  # noqa: F401  (registers the ids)
from lrgym.env import LRControlEnv
from lrgym.registry import ENV_IDS
from lrgym.render import (
    FRAME_SHAPE,
    LR_COLOUR,
    RENDER_MODES,
    TRAIN_COLOUR,
    VAL_COLOUR,
    RenderModeError,
    panel_boxes,
)

LINE = re.compile(r"^step +(\d+)/(\d+)  lr (\S+)  train (\S+)  val (\S+)  metric (\S+)(  diverged)?(  rejected)?\n$")
#: log_lr actions of a short episode (LR moves up and down across the range)
ACTIONS = [-0.6, -0.2, 0.1, -0.4, -0.5, -0.3]


def run(render_mode, actions=ACTIONS, **kwargs):
    env = LRControlEnv(family="linreg", action_mode="log_lr", horizon=len(actions), render_mode=render_mode, **kwargs)
    _, info = env.reset(seed=3, options={"instance": 5})
    infos, frames = [info], [env.render()]
    for a in actions:
        _, _, terminated, truncated, info = env.step(np.array([a], dtype=np.float32))
        infos.append(info)
        frames.append(env.render())
        if terminated or truncated:
            break
    return env, infos, frames


def test_metadata_lists_the_modes():
    assert LRControlEnv.metadata["render_modes"] == ["ansi", "rgb_array"] == list(RENDER_MODES)
    assert LRControlEnv.metadata["render_fps"] > 0
    from lrgym.registry import make_env  # the ids' entry point states them without importing the env

    assert make_env.metadata == LRControlEnv.metadata
    assert LRControlEnv().render_mode is None and LRControlEnv().render() is None


def test_a_sync_vector_env_of_the_id_leaves_the_env_classs_metadata_alone():
    """gymnasium's SyncVectorEnv writes its autoreset mode into its first env's ``metadata``;
    each env has its own copy, so the class (and every other env) is unchanged."""
    import gymnasium as gym
    from gymnasium.vector import AutoresetMode

    before = dict(LRControlEnv.metadata)
    envs = gym.make_vec("LRControl-v1", num_envs=2, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})
    try:
        assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
        assert LRControlEnv.metadata == before and "autoreset_mode" not in LRControlEnv().metadata
    finally:
        envs.close()


@pytest.mark.parametrize("mode", ["human", "rgb", "", "ANSI", np.array(["ansi", "rgb_array"])],  # the array was NumPy's "ambiguous"
                         ids=repr)
def test_unknown_mode_is_a_clear_error_sb3_can_catch(mode):
    with pytest.raises(RenderModeError, match=r"unknown render_mode .*valid choices: None, 'ansi', 'rgb_array'") as err:
        LRControlEnv(render_mode=mode)
    assert isinstance(err.value, ValueError) and isinstance(err.value, TypeError)
    # SB3's make_vec_env retries without a render mode on TypeError only
    try:
        LRControlEnv(render_mode=mode)
    except TypeError:
        env = LRControlEnv()
    assert env.render_mode is None


def test_ansi_is_one_line_per_step_with_the_info_values():
    env, infos, lines = run("ansi")
    assert len(lines) == len(ACTIONS) + 1
    for info, line in zip(infos, lines):
        assert isinstance(line, str) and line.count("\n") == 1
        m = LINE.match(line)
        assert m, line
        assert int(m[1]) == info["step"] and int(m[2]) == env.horizon
        for got, key, digits in ((m[3], "lr", 4), (m[4], "train_loss", 5), (m[5], "val_loss", 5)):
            assert float(got) == pytest.approx(info[key], rel=10.0 ** -(digits - 1)), key
        assert float(m[6]) == pytest.approx(info["val_metric"], abs=1e-4)
        assert (m[7] is not None) == bool(info["diverged"])
    # the LR of step t is the one the action set: 10^(-6 + (a+1)/2 · 7)
    for a, line in zip(ACTIONS, lines[1:]):
        assert float(LINE.match(line)[3]) == pytest.approx(10 ** (-6 + (a + 1) / 2 * 7), rel=1e-3)


def test_ansi_marks_the_diverging_step():
    env, infos, lines = run("ansi", actions=[1.0, 1.0, 1.0])  # LR 10 on a linear regression
    assert infos[-1]["diverged"]
    assert lines[-1].rstrip().endswith("diverged")
    assert not any("diverged" in line for line in lines[:-1])


def expected_pixel(box, step, value, horizon, lo, hi):
    """Where a point lands: columns step/horizon across, rows value up the panel (closed form)."""
    r0, r1, c0, c1 = box
    return round(r1 - (value - lo) / (hi - lo) * (r1 - r0)), round(c0 + step / horizon * (c1 - c0))


def test_rgb_array_draws_the_lr_and_losses_where_they_are():
    env, infos, frames = run("rgb_array")
    for f in frames:
        assert f.shape == (*FRAME_SHAPE, 3) and f.dtype == np.uint8
    img = frames[-1]
    top, bottom = panel_boxes()
    lo, hi = math.log10(env.lr_min), math.log10(env.lr_max)
    for info in infos:
        row, col = expected_pixel(top, info["step"], math.log10(info["lr"]), env.horizon, lo, hi)
        assert tuple(img[row, col]) == LR_COLOUR, info["step"]
    logs = [math.log10(i[k]) for i in infos for k in ("train_loss", "val_loss")]
    pad = 0.05 * (max(logs) - min(logs))
    for info in infos:
        row, col = expected_pixel(bottom, info["step"], math.log10(info["train_loss"]), env.horizon,
                                  min(logs) - pad, max(logs) + pad)
        assert tuple(img[row, col]) == TRAIN_COLOUR, info["step"]
    r0, r1, c0, c1 = bottom
    assert (img[r0:r1, c0:c1] == VAL_COLOUR).all(axis=-1).sum() > 20
    # the picture grows with the episode: the first frame holds only the start point
    assert (frames[0] == LR_COLOUR).all(axis=-1).sum() < (img == LR_COLOUR).all(axis=-1).sum()


def test_rgb_array_is_deterministic_and_survives_divergence():
    a = run("rgb_array")[2]
    b = run("rgb_array")[2]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    env, infos, frames = run("rgb_array", actions=[1.0, 1.0, 1.0])
    assert infos[-1]["diverged"] and frames[-1].shape == (*FRAME_SHAPE, 3)


def test_render_before_reset():
    assert LRControlEnv(render_mode="ansi").render().startswith("(no episode")
    assert LRControlEnv(render_mode="rgb_array").render().shape == (*FRAME_SHAPE, 3)


def test_gym_make_collects_frames_of_an_episode():
    env = gym.make("LRControl-LinReg-v1", render_mode="ansi_list", horizon=4)
    env.reset(seed=0)
    for _ in range(4):
        env.step(2)
    lines = env.render()
    assert [int(LINE.match(line)[1]) for line in lines] == [0, 1, 2, 3, 4]
    frame = gym.make("LRControl-LinReg-v1", render_mode="rgb_array")
    frame.reset(seed=0)
    assert frame.render().shape == (*FRAME_SHAPE, 3)


@pytest.mark.parametrize("env_id", sorted(ENV_IDS))
def test_sb3_make_vec_env_works_on_every_id(env_id):
    from stable_baselines3.common.env_util import make_vec_env

    vec = make_vec_env(env_id, n_envs=4, seed=0)
    obs = vec.reset()
    assert obs.shape == (4, len(LRControlEnv().feature_names))
    assert vec.render_mode == "rgb_array"  # SB3 asked for frames, and got them
    obs, rewards, dones, infos = vec.step(np.full(4, 2))
    assert np.isfinite(obs).all() and len(infos) == 4 and all(i["step"] == 1 for i in infos)
    images = vec.get_images()
    assert len(images) == 4 and all(im.shape == (*FRAME_SHAPE, 3) for im in images)
    vec.close()


@pytest.mark.parametrize("mode", RENDER_MODES)
def test_vector_env_frames_equal_the_single_envs(mode):
    """gymnasium's vector API: render() is a tuple of one frame per sub-env, each the single env's."""
    from lrgym.vector import LRControlVectorEnv

    kwargs = dict(family="linreg", action_mode="log_lr", horizon=3, render_mode=mode)
    vec = gym.make_vec("LRControl-LinReg-v1", num_envs=2, vectorization_mode="vector_entry_point",
                       action_mode="log_lr", horizon=3, render_mode=mode)
    assert isinstance(vec.unwrapped, LRControlVectorEnv) and vec.render_mode == mode
    singles = [LRControlEnv(**kwargs) for _ in range(2)]
    vec.reset(seed=7)
    for i, env in enumerate(singles):
        env.reset(seed=7 + i)
    actions = [[-0.5, -0.1], [0.2, -0.6], [-0.3, 0.0], [-0.2, -0.2]]  # the 4th step restarts both (NEXT_STEP)
    for a in actions:
        vec.step(np.array(a, dtype=np.float32).reshape(2, 1))
        for env, x in zip(singles, a):
            if env._done:
                env.reset()
            else:
                env.step(np.array([x], dtype=np.float32))
        frames = vec.render()
        assert len(frames) == 2
        for frame, env in zip(frames, singles):
            if mode == "ansi":
                assert frame == env.render()
            else:
                assert np.array_equal(frame, env.render())
    with pytest.raises(RenderModeError):
        LRControlVectorEnv(2, render_mode="human")


def test_human_mode_on_the_vector_env_names_the_wrapper_that_gives_a_window():
    """``gym.make(id, render_mode="human")`` wraps the single env in gymnasium's ``HumanRendering``
    itself; the native vector env cannot be, and its refusal said only the valid modes: now it
    names the wrapper to use (``gymnasium.wrappers.vector.HumanRendering``, which takes this
    env's rgb_array frames: one per sub-env, ``render_fps`` in its metadata)."""
    import gymnasium as gym
    from gymnasium.wrappers.vector import HumanRendering

    with pytest.raises(RenderModeError, match=r"unknown render_mode 'human'; valid choices: None, 'ansi', 'rgb_array'; "
                                              r"for a window, make it with render_mode='rgb_array' and wrap it in "
                                              r"gymnasium\.wrappers\.vector\.HumanRendering"):
        gym.make_vec("LRControl-v1", 2, vectorization_mode="vector_entry_point", render_mode="human")
    envs = gym.make_vec("LRControl-v1", 2, vectorization_mode="vector_entry_point", render_mode="rgb_array")
    assert envs.render_mode in HumanRendering.ACCEPTED_RENDER_MODES and "render_fps" in envs.metadata
    envs.reset(seed=0)
    frames = envs.render()
    assert len(frames) == 2 and all(isinstance(f, np.ndarray) and f.dtype == np.uint8 for f in frames)
    envs.close()


def test_lrgym_sb3_vec_env_returns_frames():
    """lrgym's batched SB3 VecEnv (lrgym.sb3) renders like DummyVecEnv: get_images() and the tiled render()."""
    from lrgym.sb3 import make_sb3_vec_env

    venv = make_sb3_vec_env("LRControl-LinReg-v1", n_envs=2, seed=0, render_mode="rgb_array", horizon=3)
    venv.reset()
    venv.step(np.array([2, 3]))
    images = venv.get_images()
    single = LRControlEnv(family="linreg", horizon=3, render_mode="rgb_array")
    for i, image in enumerate(images):
        single.reset(seed=i)
        single.step([2, 3][i])
        np.testing.assert_array_equal(image, single.render())
    assert venv.render(mode="rgb_array").shape[2] == 3  # SB3 tiles the frames
    # the default is make_vec_env's rgb_array; without a render mode, no frames and DummyVecEnv's warning
    assert make_sb3_vec_env("LRControl-LinReg-v1", n_envs=2).render_mode == "rgb_array"
    with pytest.warns(UserWarning, match="The render mode is None"):
        assert make_sb3_vec_env("LRControl-LinReg-v1", n_envs=2, render_mode=None).get_images() == [None, None]
