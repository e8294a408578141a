"""lrgym: Gymnasium environments for benchmarking learning-rate control policies.

``import lrgym`` registers every environment id (see :data:`lrgym.registry.ENV_IDS`)::

    import gymnasium as gym
    import lrgym

    env = gym.make("LRControl-LinReg-v0")
"""

from lrgym.env import LRControlEnv
from lrgym.registry import ENV_IDS, register_all

__version__ = "0.1.0"

register_all()

__all__ = ["ENV_IDS", "LRControlEnv", "__version__"]
