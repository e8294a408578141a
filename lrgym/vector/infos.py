"""The vector env's infos: the single env's info schema as columns over the sub-environments.

Gymnasium's vector format: every key of :data:`lrgym.info.INFO_SCHEMA` is an array over the
sub-environments (the schema's dtype: float64, int64 or bool) with a boolean mask ``"_key"``
saying which sub-environments it holds a value for. :class:`InfoColumns` assembles them:
:meth:`~InfoColumns.step` after a step (every mask True), :meth:`~InfoColumns.add_reset` for
the sub-environments a ``reset`` reset, :meth:`~InfoColumns.overwrite` for one reset inside a
step (autoreset; its info is its reset info, as ``SyncVectorEnv`` reports it), and
:func:`subset` for ``SAME_STEP``'s ``final_info``.
"""

from __future__ import annotations

import numpy as np

from lrgym.info import INFO_SCHEMA, STEP_STAT_KEYS
from lrgym.settings import CONSTANT_INFO_KEYS, EnvSettings
from lrgym.tasks.base import S_DIVERGED, S_TRAIN_LOSS

#: the info keys that change with the step or the episode (the others are the settings')
EPISODE_KEYS = tuple(k for k in INFO_SCHEMA if k not in CONSTANT_INFO_KEYS)


class InfoColumns:
    """Builds the info dicts of a vector env of ``num_envs`` sub-environments.

    Every array a step returns is the caller's own, writeable and shared with nothing (as
    ``SyncVectorEnv``'s are): a user or wrapper may edit an info in place. The constant keys
    (``horizon``, ``inner_steps``, ...; from the settings) are copies of their columns, and the
    masks are the rows of one all-True block (one allocation for the 22). The constant columns
    and ``family`` / ``instance`` were once shared read-only arrays (an in-place edit raised
    ``assignment destination is read-only``), and every mask one array (``infos["_lr"][0] =
    False`` cleared every key's mask).
    """

    def __init__(self, num_envs: int, settings: EnvSettings):
        self.num_envs = num_envs
        items = settings.constant_info_items()
        #: the constant keys' columns in their schema dtypes (each step returns copies)
        self.constant = {key: np.full(num_envs, value, dtype=INFO_SCHEMA[key]) for key, value in items.items()}

    def step(self, stats, lr, optimal_loss, rejected, updates, t, families, instances) -> dict:
        """The infos of a step: columns of one copy of ``stats`` (N, N_STATS) (the statistics of
        :data:`lrgym.info.STEP_STAT_KEYS`) and of the other per-sub-environment arrays, every mask
        True; keys in :data:`~lrgym.info.INFO_SCHEMA`'s order, each followed by its mask."""
        s = stats.copy()
        masks = iter(np.ones((len(INFO_SCHEMA), self.num_envs), dtype=np.bool_))  # one row per key
        infos = {"lr": lr.copy(), "_lr": next(masks)}
        for key, index in STEP_STAT_KEYS:
            infos[key], infos["_" + key] = s[:, index], next(masks)
        infos.update({
            "excess_loss": s[:, S_TRAIN_LOSS] - optimal_loss, "_excess_loss": next(masks),
            "diverged": s[:, S_DIVERGED] > 0.0, "_diverged": next(masks),
            "rejected": rejected.copy(), "_rejected": next(masks),
            "updates": updates.copy(), "_updates": next(masks),
            "family": families.copy(), "_family": next(masks),
            "instance": instances.copy(), "_instance": next(masks),
            "step": t.copy(), "_step": next(masks),
        })
        for key, column in self.constant.items():
            infos[key], infos["_" + key] = column.copy(), next(masks)
        return infos

    def add_reset(self, infos: dict, info: dict, i: int) -> None:
        """Sub-env i's reset info into a reset's info columns (created empty, schema dtypes)."""
        if not infos:
            for key, dtype in INFO_SCHEMA.items():
                infos[key] = np.zeros(self.num_envs, dtype=dtype)
                infos["_" + key] = np.zeros(self.num_envs, dtype=np.bool_)
        for key in INFO_SCHEMA:
            infos[key][i] = info[key]
            infos["_" + key][i] = True

    @staticmethod
    def overwrite(infos: dict, info: dict, i: int) -> None:
        """Write sub-env i's (reset) info into a step's info columns (every key is there)."""
        for key in EPISODE_KEYS:
            infos[key][i] = info[key]


def subset(infos: dict, mask: np.ndarray) -> dict:
    """A copy of ``infos`` with every mask restricted to ``mask`` (``SAME_STEP``'s ``final_info``)."""
    out = {}
    for key, value in infos.items():
        if key.startswith("_"):
            out[key] = value & mask
        else:
            out[key] = value.copy()
    return out
