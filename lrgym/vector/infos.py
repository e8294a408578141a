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


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


class InfoColumns:
    """Builds the info dicts of a vector env of ``num_envs`` sub-environments.

    The constant keys (``horizon``, ``inner_steps``, ...; from the settings) are read-only arrays
    shared by every step; ``family`` and ``instance`` change only at resets, so between resets
    every step returns the same read-only arrays for them (:meth:`episode_changed` drops them).
    """

    def __init__(self, num_envs: int, settings: EnvSettings):
        self.num_envs = num_envs
        self.constant = {
            key: _frozen(np.full(num_envs, value, dtype=INFO_SCHEMA[key]))
            for key, value in settings.constant_info_items().items()
        }
        self._episode = None  # read-only copies of the family / instance columns, until a reset

    def episode_changed(self) -> None:
        """A sub-environment was reset: rebuild the ``family`` / ``instance`` columns next step."""
        self._episode = None

    def step(self, stats, lr, optimal_loss, rejected, updates, t, families, instances) -> dict:
        """The infos of a step: columns of one copy of ``stats`` (N, N_STATS) (the statistics of
        :data:`lrgym.info.STEP_STAT_KEYS`) and of the other per-sub-environment arrays, every mask
        True; keys in :data:`~lrgym.info.INFO_SCHEMA`'s order, each followed by its mask."""
        if self._episode is None:
            self._episode = (_frozen(families.copy()), _frozen(instances.copy()))
        family, instance = self._episode
        s = stats.copy()
        every = np.ones(self.num_envs, dtype=np.bool_)  # one all-True mask, shared by the keys
        infos = {"lr": lr.copy(), "_lr": every}
        for key, index in STEP_STAT_KEYS:
            infos[key], infos["_" + key] = s[:, index], every
        infos.update({
            "excess_loss": s[:, S_TRAIN_LOSS] - optimal_loss, "_excess_loss": every,
            "diverged": s[:, S_DIVERGED] > 0.0, "_diverged": every,
            "rejected": rejected.copy(), "_rejected": every,
            "updates": updates.copy(), "_updates": every,
            "family": family, "_family": every,
            "instance": instance, "_instance": every,
            "step": t.copy(), "_step": every,
        })
        for key, column in self.constant.items():
            infos[key], infos["_" + key] = column, every
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
        for key in ("family", "instance"):
            if not infos[key].flags.writeable:
                infos[key] = infos[key].copy()
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
