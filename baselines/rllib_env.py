"""The env ``train_rllib``'s env runners step, and what moves its instances apart: code that runs
on every Ray node with an env runner, so it lives outside the driver-only ``train_*.py`` files
(:data:`lrgym.baselines.node_check.DRIVER_ONLY`) and the node check compares it (a node with
another copy would train other episodes: other seeds, cycles or clipping, without a word).
:mod:`lrgym.baselines.train_rllib` re-exports every name here.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RESUMED_AT", "RUN_KEYS", "RUN_SEED", "make_env", "resumed_seed", "runner_cycle_offset", "runner_seeds",
           "spread_cycles", "training_view", "warm_runner_kernels"]

#: the env config key of a resumed run: the env steps its checkpoint had sampled
#: (``train_rllib.resumed_algo_config`` sets it), from which its runners' seeds are drawn anew
#: (:func:`runner_seeds`); :func:`make_env` takes it off before building the env
RESUMED_AT = "resumed_at"
#: the env config key of a resumed run: the run's own ``--seed``, as the config's ``seed`` (RLlib's)
#: is then the one drawn from it and :data:`RESUMED_AT` (``train_rllib.rllib_seed``); what a
#: checkpoint of the resumed run reads back as its seed (``train_rllib.checkpoint_settings``)
RUN_SEED = "run_seed"
#: train_rllib's own env config keys that are no env keywords: taken off before the env is built,
#: and neither a run's settings nor an export reads them as the user's
RUN_KEYS = (RESUMED_AT, RUN_SEED)


def resumed_seed(seed: int, resumed_at: int, bits: int = 63) -> int:
    """The seed that takes the place of ``seed`` in a run resumed from a checkpoint of
    ``resumed_at`` env steps: the top ``bits`` bits of a 64-bit word NumPy's ``SeedSequence``
    draws from ``(seed mod 2⁶⁴, resumed_at)``. The one derivation of a resumed run's randomness: its
    sub-envs' seeds (:func:`runner_seeds`, 63 bits) and RLlib's seed (``train_rllib.rllib_seed``,
    31 bits: RLlib seeds NumPy's global generator, which takes seeds below 2³², with it plus the
    runner index plus 10⁶ on evaluation runners). The same ``(seed, resumed_at)`` gives the same
    seed (a checkpoint resumed twice is the same run); another ``resumed_at`` another, unrelated one."""
    if not 1 <= int(bits) <= 64:
        raise ValueError(f"bits={bits!r} out of range; valid: 1 to 64")
    word = np.random.SeedSequence([int(seed) % 2**64, int(resumed_at)]).generate_state(1, np.uint64)[0]
    return int(word) >> (64 - int(bits))


def make_env(config: dict):
    """RLlib's env creator: the batched vector env with ``num_envs`` (RLlib adds it) sub-envs,
    seen as in training (:func:`training_view`); without ``num_envs`` (RLlib reading the spaces)
    the same vector env with one sub-env. :data:`RESUMED_AT` (a resumed run's) moves its seeds
    (:func:`runner_seeds`)."""
    import lrgym.env
    import lrgym.vector

    config = dict(config)
    n, clip = config.pop("num_envs", None), config.pop("reward_clip", None)
    resumed_at = int(config.pop(RESUMED_AT, 0) or 0)
    config.pop(RUN_SEED, None)
    return training_view(lrgym.vector.LRControlVectorEnv(1 if n is None else int(n), **config), clip, resumed_at)


def warm_runner_kernels(env_config: dict) -> list[int]:
    """Fill this machine's Numba cache with every kernel an env runner given ``env_config``
    (:func:`make_env`'s; ``num_envs``, ``reward_clip`` and :data:`RUN_KEYS` change no kernel)
    can need (:func:`lrgym.vector.warm.warm_kernels`); returns the instances stepped, one of each
    kind. Run once per node before RLlib builds the runners (``train_rllib``): runners that
    start on a cold cache each compile the same kernels at once, on shared cores."""
    from lrgym.vector.warm import warm_kernels

    config = {k: v for k, v in env_config.items() if k not in ("num_envs", "reward_clip", *RUN_KEYS)}
    return warm_kernels(**config)


def runner_seeds(seed, num_envs: int, resumed_at: int = 0):
    """The sub-environments' seeds of a runner that RLlib resets with ``seed``: ``seed·n + i`` for
    sub-env i of n. RLlib seeds env runner k with ``seed + k`` (an evaluation runner ``+ 10⁶``) and
    gymnasium's vector convention (lrgym's vector env, ``SyncVectorEnv``) gives sub-env i ``seed + i``:
    runner k's sub-env i and runner k+1's sub-env i−1 had one seed, so they drew the same
    instances in the same order (2 runners × 3 sub-envs: 4 streams of instances, not 6; 150 × 16:
    165, not 2,400). Blocks of n keep every runner's sub-envs apart. In a run resumed from a
    checkpoint of ``resumed_at`` > 0 env steps, each is a 63-bit seed drawn from ``(seed·n + i,
    resumed_at)`` (:func:`resumed_seed`): RLlib builds a resumed run's runners anew and resets
    them with ``seed + k`` again, so they replayed the instances the run had started with, in the
    same order (a run trained in segments of S steps trained the first segment's instances in
    every one); the same checkpoint resumed again is still the same episodes. (A resumed run's
    ``seed`` is already its own, drawn from the run's and ``resumed_at``; the sub-envs' seeds are
    drawn again from it, as before.) ``None`` (RLlib's
    later resets) and a sequence are passed on as given."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        seeds = [int(seed) * num_envs + i for i in range(num_envs)]
        if not resumed_at:
            return seeds
        return [resumed_seed(s, resumed_at) for s in seeds]
    return seed


def runner_cycle_offset(worker_index: int, num_envs: int) -> int:
    """Where env runner ``worker_index``'s sub-envs start an ``instance_order="cycle"`` list: the
    global index of its first sub-env, ``(k − 1)·n`` for remote runner k ≥ 1 of n sub-envs each
    (0 for the local runner 0, which samples only with ``num_env_runners=0``), so runner k's
    sub-env i starts at the list's ``(k − 1)·n + i``-th seed, as sub-env ``(k − 1)·n + i`` of one
    vector env of all the runners' sub-envs does. The cycle start knew the sub-env index alone:
    every runner walked the list in lockstep (2 runners × 2 sub-envs over ``[0, 1, 2, 3]``
    trained 0 and 1 twice at once, 2 and 3 never at the same time), wasted samples."""
    return max(int(worker_index) - 1, 0) * int(num_envs)


def spread_cycles(*, env_runner, env, **_kwargs) -> None:
    """RLlib's ``on_environment_created`` callback that moves each runner's sub-env cycles to
    their global place (:func:`runner_cycle_offset`): ``.callbacks(on_environment_created=spread_cycles)``.
    RLlib's env creator cannot do it, since RLlib drops the :class:`EnvContext` (and its
    ``worker_index``) when it adds ``num_envs`` in ``gym_env_vectorize_mode="vector_entry_point"``.
    ``env`` is the runner's unwrapped vector env: lrgym's (``vector_entry_point``; sub-env i
    already starts at i), gymnasium's ``SyncVectorEnv`` of lrgym envs (``sync``; each starts at
    0) or its ``AsyncVectorEnv`` of them (``async``, each in a process of its own: moved through
    ``set_attr("cycle_position", ...)``, one value each). With ``instance_order="draw"`` nothing
    changes, nor with ``"each_once"``: a runner's resets (RLlib's first, and each of its
    evaluation rounds counted in episodes) start passes over the list, each runner the whole
    list: lrgym's vector env's sub-envs at their blocks of it (:mod:`lrgym.tasks.instance_order`);
    a ``sync`` or ``async`` one's, single envs, each at the list's first seed (their seeded resets
    start passes there, their unseeded ones go on as the cycle: together, not apart). It runs before
    the runner's first reset; a reset that gives every sub-env one listed seed moves the cycles
    as lrgym's vector env says (RLlib resets with no options)."""
    from gymnasium.vector import AsyncVectorEnv, SyncVectorEnv

    from lrgym.env import LRControlEnv
    from lrgym.vector import LRControlVectorEnv

    offset = runner_cycle_offset(env_runner.worker_index, env.num_envs)
    if isinstance(env, LRControlVectorEnv):
        if env.settings.instance_order == "cycle":
            env.call("shift_cycle", offset)
        return
    valid = ("valid: lrgym's vector env (gym_env_vectorize_mode='vector_entry_point' with an lrgym id or "
             "train_rllib.make_env), or a SyncVectorEnv or AsyncVectorEnv of lrgym envs "
             "(gym_env_vectorize_mode='sync' or 'async')")
    if isinstance(env, AsyncVectorEnv):
        try:  # the sub-envs live in other processes: asked what they are by name
            orders = env.get_attr("instance_order")
            positions = env.get_attr("cycle_position")
        except AttributeError:
            raise ValueError(f"spread_cycles got an AsyncVectorEnv of envs without lrgym's instance_order and "
                             f"cycle_position; {valid}") from None
        if all(order == "cycle" for order in orders):
            env.set_attr("cycle_position", [int(p) + offset + i for i, p in enumerate(positions)])
        return
    subs = [sub.unwrapped for sub in getattr(env, "envs", ())] if isinstance(env, SyncVectorEnv) else []
    if not subs or not all(isinstance(sub, LRControlEnv) for sub in subs):
        raise ValueError(f"spread_cycles got {type(env).__name__}; {valid}")
    if subs[0].instance_order != "cycle":
        return
    for i, sub in enumerate(subs):
        sub.shift_cycle(offset + i)


def training_view(env, reward_clip, resumed_at: int = 0):
    """The vector env as the agent trains on it: observations clipped to ±10
    (:func:`lrgym.baselines.wrappers.clip_obs`, applied again when the exported policy acts),
    the horizon counted as termination, rewards clipped; a runner's seed spread over its
    sub-envs so that no two runners share one, and drawn anew in a resumed run
    (:func:`runner_seeds`)."""
    import gymnasium as gym
    from gymnasium.vector import VectorWrapper

    from lrgym.baselines.wrappers import OBS_CLIP, clip_obs

    class TrainingView(VectorWrapper):
        def __init__(self, env):
            super().__init__(env)
            low = np.maximum(env.single_observation_space.low, -OBS_CLIP)
            high = np.minimum(env.single_observation_space.high, OBS_CLIP)
            self.single_observation_space = gym.spaces.Box(low, high, dtype=np.float32)
            self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, env.num_envs)

        def reset(self, *, seed=None, options=None):
            obs, info = self.env.reset(seed=runner_seeds(seed, self.num_envs, resumed_at), options=options)
            return clip_obs(obs), info

        def step(self, actions):
            obs, reward, terminated, truncated, info = self.env.step(actions)
            if reward_clip is not None:
                reward = np.clip(reward, *reward_clip)
            return clip_obs(obs), reward, terminated | truncated, np.zeros_like(truncated), info

    return TrainingView(env)
