"""lrgym: Gymnasium environments for benchmarking learning-rate control policies.

``import lrgym`` registers every environment id (see :data:`lrgym.registry.ENV_IDS`)::

    import gymnasium as gym
    import lrgym

    env = gym.make("LRControl-LinReg-v1")

It registers the ids by their entry points' names and imports neither the env nor Numba:
:class:`LRControlEnv` (``lrgym.LRControlEnv``) and the kernels are imported at their first use
(``gym.make``, ``lrgym.env``), so a process that only hosts a policy or reads a store (the
grader's sandboxed policy host) starts without them.
"""

# First, before any kernel is decorated: cached kernels are invalidated by a change anywhere in
# the package, not only in the file that defines them (see lrgym.kernel_cache). Installed when
# Numba is imported, by whichever module imports it first.
from lrgym import kernel_cache

kernel_cache.install_with_numba()

from lrgym.registry import ENV_IDS, register_all  # noqa: E402

__version__ = "0.1.0"

register_all()

__all__ = ["ENV_IDS", "LRControlEnv", "__version__"]


def __getattr__(name: str):
    """``lrgym.LRControlEnv``: imported at its first use (PEP 562), with Numba and the kernels."""
    if name == "LRControlEnv":
        from lrgym.env import LRControlEnv

        return LRControlEnv
    raise AttributeError(f"module 'lrgym' has no attribute {name!r}")
