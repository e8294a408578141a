"""Stable-Baselines3 adapter: the batched :class:`~lrgym.vector.LRControlVectorEnv` as an SB3 ``VecEnv``.

SB3 algorithms take a ``VecEnv``; its usual ``DummyVecEnv`` steps N gymnasium envs one by one
in Python. :class:`LRControlSB3VecEnv` gives SB3 the same interface over one
:class:`LRControlVectorEnv` (created with ``autoreset_mode=SAME_STEP``, which is SB3's
convention), so the N inner trainings run in one compiled call::

    from stable_baselines3 import PPO
    from lrgym.sb3 import make_sb3_vec_env

    venv = make_sb3_vec_env("LRControl-LinReg-v1", n_envs=16, seed=0)
    PPO("MlpPolicy", venv, n_steps=64).learn(10_000)

Semantics are ``DummyVecEnv``'s, value for value: ``reset()`` returns the observations (infos in
``reset_infos``); seeds set with ``seed(s)`` (sub-env i gets ``s + i``) and options set with
``set_options`` apply to the next ``reset()`` only; ``step_wait()`` returns ``(obs, rewards
float32, dones, infos)`` with ``dones = terminated | truncated``, and a finished sub-environment
is reset at once, its last observation in ``infos[i]["terminal_observation"]`` and
``infos[i]["TimeLimit.truncated"] = truncated and not terminated``.

Per-step infos: building N dicts of 16 entries costs more than a linear-regression step, so by
default (``info_keys=()``) a step's info dicts hold only the SB3 keys above. ``info_keys=("train_loss", "lr", ...)`` adds those keys every step, ``info_keys="all"``
gives the single env's full info (as ``DummyVecEnv`` would).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

from lrgym.info import INFO_KEYS
from lrgym.vector import LRControlVectorEnv

__all__ = ["LRControlSB3VecEnv", "make_sb3_vec_env"]

_ALL_KEYS = INFO_KEYS


class LRControlSB3VecEnv(VecEnv):
    """SB3 ``VecEnv`` over ``LRControlVectorEnv(num_envs, autoreset_mode=SAME_STEP, **kwargs)``.

    ``info_keys``: which single-env info keys to copy into each step's info dicts (``()`` for
    none, ``"all"`` for every key). ``parallel`` and the other keywords go to
    :class:`LRControlVectorEnv` (``family``, ``horizon``, ``action_mode``, ...).
    """

    def __init__(self, num_envs: int = 1, *, info_keys: Iterable[str] | str = (), **kwargs: Any):
        kwargs["autoreset_mode"] = AutoresetMode.SAME_STEP
        self.venv_gym = LRControlVectorEnv(num_envs, **kwargs)
        if info_keys == "all":
            info_keys = _ALL_KEYS
        self.info_keys = tuple(info_keys)
        unknown = set(self.info_keys) - set(_ALL_KEYS)
        if unknown:
            raise ValueError(f"unknown info_keys {sorted(unknown)}; valid choices: {', '.join(_ALL_KEYS)} or 'all'")
        v = self.venv_gym
        super().__init__(v.num_envs, v.single_observation_space, v.single_action_space)
        self._actions = None

    # ---- VecEnv API ----------------------------------------------------------------------

    def reset(self):
        seeds = list(self._seeds)
        options = [dict(o) if o else {} for o in self._options]
        v = self.venv_gym
        if all(o == options[0] for o in options):
            obs, infos = v.reset(seed=seeds, options=options[0] or None)
            for i in range(self.num_envs):
                self.reset_infos[i] = _unbatch(infos, i)
        else:  # different options per env: one masked reset each
            obs = None
            for i in range(self.num_envs):
                mask = np.zeros(self.num_envs, dtype=np.bool_)
                mask[i] = True
                seed_i = [seeds[i] if j == i else None for j in range(self.num_envs)]
                obs, infos = v.reset(seed=seed_i, options={**options[i], "reset_mask": mask})
                self.reset_infos[i] = _unbatch(infos, i)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        obs, rewards, terminated, truncated, infos = self.venv_gym.step(self._actions)
        dones = terminated | truncated
        time_limit = (truncated & ~terminated).tolist()
        out = [{"TimeLimit.truncated": t} for t in time_limit]
        if self.info_keys:
            source = infos
            finished = infos.get("_final_info")
            for key in self.info_keys:
                column = source[key]
                final_column = infos["final_info"][key] if finished is not None else None
                for i in range(self.num_envs):
                    value = final_column[i] if finished is not None and finished[i] else column[i]
                    out[i][key] = value  # NumPy scalars, as the single env's
        if dones.any():
            final_obs = infos["final_obs"]
            for i in np.flatnonzero(dones):
                out[i]["terminal_observation"] = final_obs[i]
                self.reset_infos[i] = _unbatch(infos, i)
        return obs, rewards.astype(np.float32), dones, out

    def close(self) -> None:
        self.venv_gym.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self.venv_gym.sub_env(i), attr_name) for i in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        for i in self._get_indices(indices):
            setattr(self.venv_gym.sub_env(i), attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        return [
            getattr(self.venv_gym.sub_env(i), method_name)(*method_args, **method_kwargs)
            for i in self._get_indices(indices)
        ]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        """One ``rgb_array`` frame per sub-env (created with ``render_mode="rgb_array"``), else None."""
        if self.render_mode != "rgb_array":
            return [None for _ in range(self.num_envs)]
        return list(self.venv_gym.render())


def _unbatch(infos: dict, i: int) -> dict:
    """Sub-env i's entries of a gymnasium vector info dict (keys whose mask is set)."""
    out = {}
    for key, value in infos.items():
        if key.startswith("_") or key in ("final_obs", "final_info"):
            continue
        mask = infos.get("_" + key)
        if mask is None or mask[i]:
            out[key] = value[i]  # NumPy scalars, as the single env's (lrgym.info)
    return out


def make_sb3_vec_env(env_id: str, n_envs: int = 1, seed: int | None = None, **kwargs: Any) -> LRControlSB3VecEnv:
    """``stable_baselines3.common.env_util.make_vec_env`` for lrgym ids, batched.

    ``kwargs`` override the id's registered arguments (``horizon``, ``family_options``,
    ``parallel``, ``info_keys``, ...).
    """
    import lrgym  # noqa: F401  (registers the ids)

    spec = gym.spec(env_id)
    venv = LRControlSB3VecEnv(n_envs, **{**spec.kwargs, **kwargs})
    if seed is not None:
        venv.seed(seed)
    return venv
