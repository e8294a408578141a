"""lrgym: Gymnasium environments for benchmarking learning-rate control policies.

``import lrgym`` registers every environment id (see :data:`lrgym.registry.ENV_IDS`)::

    import gymnasium as gym
    import lrgym

    env = gym.make("LRControl-LinReg-v1")
"""

# First, before any kernel is decorated: cached kernels are invalidated by a change anywhere in
# the package, not only in the file that defines them (see lrgym.kernel_cache).
from lrgym import kernel_cache

kernel_cache.install()

from lrgym.env import LRControlEnv  # noqa: E402
from lrgym.registry import ENV_IDS, register_all  # noqa: E402

__version__ = "0.1.0"

register_all()

__all__ = ["ENV_IDS", "LRControlEnv", "__version__"]
