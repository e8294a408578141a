"""``LRControlVectorEnv``: N learning-rate-control environments stepped by one compiled call.

Each sub-environment is an :class:`~lrgym.env.LRControlEnv` (same arguments, same instances,
same seeds); the vector env only replaces the per-environment Python work of a step. A step is

1. the new learning rates of all sub-environments from the batch of actions (one compiled loop,
   the single env's formula),
2. per kernel kind (:mod:`lrgym.tasks.batched`; one kind for a single-family id, up to five for
   ``LRControl-v1``), **one** compiled call that runs every sub-environment's inner training with
   the family's own ``run_*`` kernel,
3. one compiled loop computing the observation features and rewards
   (:func:`lrgym.step.observe`, the single env's function),

so N sub-environments with seeds s₀, …, s_{N−1} produce exactly — to the bit — what N
:class:`LRControlEnv` with the same seeds and actions produce, including across automatic resets
(``tests/test_vector.py`` checks it). Resets go through the sub-environments' own
:meth:`LRControlEnv.reset`, so instance sampling, initial parameters and reset infos are theirs.

Gymnasium 1.x vector API: ``num_envs``, batched ``observation_space`` / ``action_space``,
``single_observation_space`` / ``single_action_space``, ``reset(seed=int | list | None,
options=...)``, ``step(actions)`` returning batched arrays and infos in gymnasium's vector
format (every key an array over sub-environments plus a boolean mask ``"_key"``).
``metadata["autoreset_mode"]`` is ``AutoresetMode.NEXT_STEP`` by default (gymnasium's default,
required by its vector observation wrappers); ``SAME_STEP`` (infos carry ``final_obs`` and
``final_info``) and ``DISABLED`` (reset finished sub-environments with
``reset(options={"reset_mask": mask})``) are available.

Threads: ``parallel=True`` runs the sub-environments of a kind in a Numba ``prange`` loop
(threads from Numba's pool; ``numba.set_num_threads`` or ``NUMBA_NUM_THREADS`` set how many).
It is opt-in: with two cores it nearly doubles the rate on an idle machine, but loses when the
other core is busy (see ``benchmarks/RESULTS.md``). Results do not depend on it.

Example::

    import gymnasium as gym
    import lrgym

    envs = gym.make_vec("LRControl-LinReg-v1", num_envs=64, vectorization_mode="vector_entry_point")
    obs, infos = envs.reset(seed=0)            # sub-env i is seeded with 0 + i
    obs, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
"""

from lrgym.vector.vector_env import LRControlVectorEnv, vector_entry_point

__all__ = ["LRControlVectorEnv", "vector_entry_point"]
