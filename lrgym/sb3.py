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
``set_options`` apply to the next ``reset()`` only (the automatic resets take their instances as
the env's ``instances=`` and ``instance_order=`` say: drawn, or in turn; with ``"each_once"`` every
``reset()`` starts a pass that ``evaluate_policy(..., n_eval_episodes=len(instances))`` counts
once, :mod:`lrgym.tasks.instance_order`); ``step_wait()`` returns ``(obs, rewards
float32, dones, infos)`` with ``dones = terminated | truncated``, and a finished sub-environment
is reset at once, its last observation in ``infos[i]["terminal_observation"]`` and
``infos[i]["TimeLimit.truncated"] = truncated and not terminated``.

Per-step infos are ``DummyVecEnv``'s too: each sub-environment's step info holds every key of the
single env's info schema (:data:`lrgym.info.INFO_KEYS`, 22 NumPy scalars: ``train_loss``, ``lr``,
``val_metric``, ...) besides the two SB3 keys above, so a callback that reads
``info["train_loss"]`` works as it does over ``DummyVecEnv``. Building them costs ≈ 5 µs per
env step, small beside an env step of the default ids (≈ 0.7 ms on ``LRControl-v1``) but up to a
quarter of the rate on the cheapest fixed problems. ``info_keys`` chooses: ``"all"`` (default)
every key; ``info_keys=("train_loss", "lr")`` those keys only; ``info_keys=()`` none, only the
SB3 keys (the fastest; ``VecMonitor``'s episode statistics and ``EvalCallback`` need no more).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from lrgym.extras import import_extra
from lrgym.info import INFO_KEYS
from lrgym.keywords import check_keywords
from lrgym.settings import MAX_NUM_ENVS, check_seed, positive_int
from lrgym.vector import LRControlVectorEnv
from lrgym.vector.vector_env import check_settable, vector_keyword_names

# Stable-Baselines3 is the rl extra: without it, an ImportError that says what to install
_sb3_vec_env = import_extra("stable_baselines3.common.vec_env.base_vec_env", "rl", "lrgym.sb3", torch_first=True)
VecEnv, VecEnvIndices = _sb3_vec_env.VecEnv, _sb3_vec_env.VecEnvIndices

__all__ = ["LRControlSB3VecEnv", "lrgym_env_kwargs", "make_sb3_vec_env"]

_PER_ENV = ("none: the sub-envs run batched in one env, not as gym.make envs; wrap the adapter in a "
            "VecEnv wrapper (VecNormalize, VecFrameStack, ...), or use SB3's make_vec_env")
_ONE_VEC_ENV = "none: the adapter is the VecEnv (DummyVecEnv's semantics); SubprocVecEnv: SB3's make_vec_env"
#: the keywords of SB3's ``make_vec_env`` that :func:`make_sb3_vec_env` has no use for, and what to do instead
#: (they went on to the env as its keywords and were refused naming the env's, not the way to get them)
MAKE_VEC_ENV_ONLY = {
    "env_kwargs": "the env's keywords as keywords of make_sb3_vec_env itself",
    "num_envs": "n_envs",
    "start_index": "seed (sub-env i gets seed + i)",
    "monitor_dir": "VecMonitor(make_sb3_vec_env(...), filename=...)",
    "monitor_kwargs": "VecMonitor(make_sb3_vec_env(...), ...)",
    "wrapper_class": _PER_ENV,
    "wrapper_kwargs": _PER_ENV,
    "vec_env_cls": _ONE_VEC_ENV,
    "vec_env_kwargs": _ONE_VEC_ENV,
}


class LRControlSB3VecEnv(VecEnv):
    """SB3 ``VecEnv`` over ``LRControlVectorEnv(num_envs, autoreset_mode=SAME_STEP, **kwargs)``.

    ``info_keys``: which of the single env's info keys each step's info dicts hold besides SB3's
    ``TimeLimit.truncated`` (and ``terminal_observation`` when an episode ends): ``"all"``
    (default, as ``DummyVecEnv`` gives them: all 22 keys of :data:`lrgym.info.INFO_KEYS`), a
    sequence of keys, or ``()`` for none (≈ 5 µs per env step faster; see the module docstring).
    ``reset_infos`` always hold every key. ``parallel`` and the other keywords go to
    :class:`LRControlVectorEnv` (``family``, ``horizon``, ``action_mode``, ...).
    """

    def __init__(self, num_envs: int = 1, *, info_keys: Iterable[str] | str = "all", **kwargs: Any):
        check_keywords("LRControlSB3VecEnv()", kwargs, adapter_keyword_names("num_envs"))
        self.info_keys = _check_info_keys(info_keys)
        mode = kwargs.get("autoreset_mode", AutoresetMode.SAME_STEP)
        if mode not in (AutoresetMode.SAME_STEP, AutoresetMode.SAME_STEP.value):  # it was replaced silently
            raise ValueError(f"autoreset_mode={mode!r} invalid; valid: AutoresetMode.SAME_STEP (SB3's convention: "
                             "a finished sub-environment restarts within its step), or leave it out")
        kwargs["autoreset_mode"] = AutoresetMode.SAME_STEP
        self.venv_gym = LRControlVectorEnv(num_envs, **kwargs)
        v = self.venv_gym
        super().__init__(v.num_envs, v.single_observation_space, v.single_action_space)
        # DummyVecEnv's metadata is its first env's (render_fps: VecVideoRecorder's frame rate), not
        # VecEnv's default of the render modes alone
        self.metadata = v.sub_env(0).metadata
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

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """SB3's ``seed``: sub-env i gets ``seed + i`` at the next reset. A seed that is no integer
        >= 0 (:func:`lrgym.settings.check_seed`) is refused here, not at that reset (or as a
        ``TypeError`` of ``'x' + 0``)."""
        return super().seed(None if seed is None else check_seed("seed", seed))

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        obs, rewards, terminated, truncated, infos = self.venv_gym.step(self._actions)
        dones = terminated | truncated
        time_limit = (truncated & ~terminated).tolist()
        keys = self.info_keys
        if keys:  # DummyVecEnv's infos: the single env's keys in its order, then SB3's
            columns = [list(infos[key]) for key in keys]  # NumPy scalars, as the single env's
            finished = infos.get("_final_info")
            if finished is not None:  # a finished sub-env's info is its last step's, not its reset's
                final = infos["final_info"]
                for i in np.flatnonzero(finished):
                    for column, key in zip(columns, keys):
                        column[i] = final[key][i]
            out = [dict(zip(keys, values)) for values in zip(*columns)]
            for info, t in zip(out, time_limit):
                info["TimeLimit.truncated"] = t
        else:
            out = [{"TimeLimit.truncated": t} for t in time_limit]
        if dones.any():
            final_obs = infos["final_obs"]
            for i in np.flatnonzero(dones):
                out[i]["terminal_observation"] = final_obs[i]
                self.reset_infos[i] = _unbatch(infos, i)
        return obs, rewards.astype(np.float32), dones, out

    def close(self) -> None:
        self.venv_gym.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self.venv_gym.sub_env(i), attr_name) for i in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        check_settable(attr_name)  # the batched env's step state and settings are its own
        indices = self._indices(indices)
        self.venv_gym.set_attr_at(indices, attr_name, [value] * len(indices))  # (all or nothing)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        """Call a method of the sub-environments ``indices`` (all by default), as ``DummyVecEnv``'s.

        ``env_method("reset", seed=s, options=o, indices=...)`` resets those sub-environments for
        real, as ``DummyVecEnv``'s does (the batched step goes on from the new episodes; each gets
        the same ``seed`` and ``options``; ``reset_infos`` are left as they were, as there); it
        returns each one's ``(obs, info)``. Methods that would desynchronise the batched env
        (``step``, private methods, ...) raise ``ValueError`` naming what to use instead
        (:func:`lrgym.vector.vector_env.check_call`).
        """
        return self.venv_gym.call_at(self._indices(indices), method_name, method_args, method_kwargs,
                                     via="env_method", attributes=False)

    def _indices(self, indices: VecEnvIndices) -> list[int]:
        """SB3's ``indices`` (None: all; an int; an iterable of ints) as sub-environment indices in
        0..n-1, in order; negative ones count from the end, as ``DummyVecEnv``'s list of envs does.
        An index out of range raises ``IndexError`` (as indexing that list does), one that is no
        integer (a bool, a float) ``TypeError``."""
        n = self.num_envs
        out = []
        for i in self._get_indices(indices):
            if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
                raise TypeError(f"indices={indices!r} invalid: {i!r} is not an integer; valid: None, an int or "
                                f"a sequence of ints in -{n}..{n - 1}")
            if not -n <= i < n:
                raise IndexError(f"indices={indices!r} invalid: {i} out of range; valid: None, an int or a "
                                 f"sequence of ints in -{n}..{n - 1}")
            out.append(int(i) % n)
        return out

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        """One ``rgb_array`` frame per sub-env (created with ``render_mode="rgb_array"``), else None
        each, with ``DummyVecEnv``'s warning."""
        if self.render_mode != "rgb_array":
            import warnings

            warnings.warn(f"The render mode is {self.render_mode}, but this method assumes it is `rgb_array` to "
                          "obtain images.")
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


def _check_info_keys(info_keys) -> tuple[str, ...]:
    """``info_keys`` as a tuple of schema keys (``"all"``: every key), or ``ValueError``."""
    valid = f"'all', () or a sequence of keys from {', '.join(INFO_KEYS)}"
    if isinstance(info_keys, str):
        if info_keys != "all":
            raise ValueError(f"info_keys={info_keys!r} invalid; valid: {valid} (one key: ({info_keys!r},))")
        return INFO_KEYS
    try:
        keys = tuple(info_keys)
    except TypeError:
        raise ValueError(f"info_keys={info_keys!r} invalid; valid: {valid}") from None
    unknown = [k for k in keys if k not in INFO_KEYS]
    if unknown:
        raise ValueError(f"unknown info_keys {unknown}; valid: {valid}")
    return keys


def lrgym_env_kwargs(env_id: str) -> dict:
    """The :class:`~lrgym.env.LRControlEnv` keywords an lrgym id stands for.

    ``env_id`` is a registered id whose entry point is lrgym's :func:`~lrgym.registry.make_env`
    (every id of :data:`lrgym.registry.ENV_IDS`: ``"LRControl-v1"``, ``"LRControl-LinReg-v1"``,
    ...) or the class ``LRControlEnv`` itself (an id of your own may register either), optionally
    in gymnasium's ``"module:id"`` form (``"lrgym:LRControl-v1"``; the module is imported first, as
    ``gym.make`` does, so a package that registers its own family's id can name itself). Any
    other id (``"CartPole-v1"``) raises ``ValueError`` naming the lrgym ids: the batched adapter
    runs lrgym's envs only (SB3's ``make_vec_env`` takes the others). An id's own family options
    (``LRControl-Digits-v1``'s data set) are in ``family_options``.
    """
    from lrgym.tasks import with_id_options

    return with_id_options(_lrgym_spec(env_id).kwargs)


def _lrgym_spec(env_id: str) -> gym.envs.registration.EnvSpec:
    """The registered spec of an lrgym id (see :func:`lrgym_env_kwargs`), or ``ValueError``."""
    import importlib

    from lrgym.env import LRControlEnv
    from lrgym.registry import CLASS_ENTRY_POINT, ENTRY_POINT, ENV_IDS, make_env

    if not isinstance(env_id, str):
        raise ValueError(f"env_id={env_id!r} invalid; valid: an lrgym id string, e.g. 'LRControl-v1'")
    module, sep, name = env_id.rpartition(":")
    if sep:
        importlib.import_module(module)  # may register ids (lrgym itself is imported already)
    spec = gym.registry.get(name)
    if spec is None or spec.entry_point not in (ENTRY_POINT, CLASS_ENTRY_POINT, make_env, LRControlEnv):
        what = "is not a registered id" if spec is None else f"is not an lrgym id (entry point {spec.entry_point!r})"
        raise ValueError(
            f"env_id {env_id!r} {what}; make_sb3_vec_env batches lrgym's envs only — valid choices: "
            f"{', '.join(sorted(ENV_IDS))} (also as 'lrgym:<id>'); for other envs use "
            "stable_baselines3.common.env_util.make_vec_env"
        )
    return spec


def adapter_keyword_names(*own: str) -> list[str]:
    """The keywords the SB3 adapter takes after ``own`` (its count and seed: ``num_envs`` of
    :class:`LRControlSB3VecEnv`, ``n_envs, seed`` of :func:`make_sb3_vec_env`): ``info_keys`` and
    the vector env's keywords but its count (:func:`~lrgym.vector.vector_env.vector_keyword_names`).
    A misspelt keyword is checked against these, so its error names the function called and
    suggests what it takes (``n_env`` was told "did you mean 'num_envs'", which
    ``make_sb3_vec_env`` then refused, and ``info_key`` got a list without ``info_keys``)."""
    return [*own, "info_keys", *(k for k in vector_keyword_names() if k != "num_envs")]


def _refuse_make_vec_env_keywords(env_id, n_envs, kwargs: dict) -> None:
    """:class:`~lrgym.keywords.UnknownKeywordError` for a keyword of SB3's ``make_vec_env`` that
    :func:`make_sb3_vec_env` does not take (:data:`MAKE_VEC_ENV_ONLY`), naming what to use instead;
    ``env_kwargs={'horizon': 20}`` is shown as the call that takes it (``horizon=20``)."""
    from lrgym.keywords import UnknownKeywordError

    given = [k for k in kwargs if k in MAKE_VEC_ENV_ONLY]
    if not given:
        return
    name = given[0]
    instead = MAKE_VEC_ENV_ONLY[name]
    if name == "env_kwargs" and isinstance(kwargs[name], dict) and kwargs[name]:
        passed = ", ".join(f"{k}={v!r}" for k, v in kwargs[name].items())
        instead += f": make_sb3_vec_env({env_id!r}, n_envs={n_envs!r}, {passed})"
    also = f" (also {', '.join(repr(k) for k in given[1:])}: see lrgym.sb3.MAKE_VEC_ENV_ONLY)" if given[1:] else ""
    raise UnknownKeywordError(f"make_sb3_vec_env() got an unexpected keyword argument {name!r}{also}: SB3's "
                              f"make_vec_env takes it, the batched adapter does not; valid instead: {instead}")


def make_sb3_vec_env(env_id: str, n_envs: int = 1, seed: int | None = None, **kwargs: Any) -> LRControlSB3VecEnv:
    """``stable_baselines3.common.env_util.make_vec_env`` for lrgym ids, batched.

    ``env_id``: an lrgym id, plain or module-prefixed (``"LRControl-v1"``,
    ``"lrgym:LRControl-v1"``); another env's id raises ``ValueError`` (see :func:`lrgym_env_kwargs`).
    ``kwargs`` override the id's registered arguments (``horizon``, ``family_options``,
    ``instances``, ``parallel``, ``info_keys``, ...): given directly, where ``make_vec_env`` takes
    ``env_kwargs={...}``; its other keywords (``wrapper_class``, ``monitor_dir``, ``vec_env_cls``,
    ...) are refused, naming what does their job here (:data:`MAKE_VEC_ENV_ONLY`). An id registered
    with ``max_episode_steps`` truncates there, as ``gym.make``'s ``TimeLimit`` does (the keyword
    overrides it). Step infos hold every
    info key, as ``DummyVecEnv``'s do; ``info_keys=()`` drops them for speed (module docstring).
    As ``make_vec_env``'s envs of an id: ``render_mode`` is ``"rgb_array"`` unless given
    (``render()`` tiles the sub-envs' frames; ``render_mode=None`` records no episode for them),
    and ``get_attr("spec")`` is each sub-env's ``EnvSpec`` as ``gym.make`` records it. ``seed``:
    sub-env i resets with ``seed + i`` (:meth:`LRControlSB3VecEnv.seed`) and its action space is
    seeded with ``seed + i`` now, as ``make_vec_env`` seeds each env's (``action_space.sample()``,
    of the VecEnv — env 0's — or ``get_attr("action_space")[i]``'s, draws what it draws there).
    """
    import copy
    import dataclasses

    import lrgym  # noqa: F401  (registers the ids)
    from lrgym.tasks import with_id_options
    from lrgym.vector.vector_env import sub_env_spec

    spec = _lrgym_spec(env_id)  # first: another env's id is told to use make_vec_env, whatever its keywords
    _refuse_make_vec_env_keywords(env_id, n_envs, kwargs)
    check_keywords("make_sb3_vec_env()", kwargs, adapter_keyword_names("n_envs", "seed"))
    n_envs = positive_int("n_envs", n_envs, MAX_NUM_ENVS)
    kwargs = {"render_mode": "rgb_array", **kwargs}  # make_vec_env asks an id's envs for rgb_array frames
    limit = {} if spec.max_episode_steps is None else {"max_episode_steps": spec.max_episode_steps}
    venv = LRControlSB3VecEnv(n_envs, **with_id_options({**limit, **spec.kwargs, **kwargs}))
    # each sub-env's spec as gym.make(env_id, **kwargs) records it: the id's keywords updated with
    # the env's own (not the adapter's info_keys, parallel, ...), its max_episode_steps
    made = sub_env_spec(dataclasses.replace(spec, kwargs={**spec.kwargs, **kwargs}))
    for i in range(n_envs):
        venv.venv_gym.sub_env(i).spec = copy.deepcopy(made)
    if seed is not None:
        venv.seed(seed)  # checked: an integer >= 0
        for i in range(n_envs):  # as make_vec_env: each env's action space (the VecEnv's is env 0's)
            venv.venv_gym.sub_env(i).action_space.seed(int(seed) + i)
    return venv
