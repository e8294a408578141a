"""A policy that is a small MLP in NumPy: how RLlib-trained agents are graded.

:mod:`lrgym.baselines.train_rllib` and :mod:`lrgym.baselines.rllib_export` export the greedy path
of a trained RLlib module (PPO: actor encoder → policy head, whose argmax is the greedy action, or
for ``log_lr`` actions the Gaussian's mean clipped to [−1, 1]; DQN: encoder → advantage head, whose
argmax is the greedy action of the dueling Q = V + A − mean(A)) as plain weight matrices, checked
at export against RLlib's own ``forward_inference``. Acting needs NumPy only — no Ray, no torch —
so the leaderboard grades it in its sandbox like any submission::

    policy = MLPPolicy.load("runs/rllib_ppo_mixed.npz")
    lrgym leaderboard submit runs/rllib_ppo_mixed.py:RLlibPolicy      # the exported submission file

Layers are ``(W, b, activation)`` with ``y = act(x @ W + b)``; observations are clipped as in
training (``meta["obs_clip"]``: train_rllib's ±10, :func:`lrgym.baselines.wrappers.clip_obs`; an
export of one's own run: none).
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np

from lrgym.baselines.outputs import replace_file, trained_on_lines, weights_literal
from lrgym.baselines.wrappers import OBS_CLIP
from lrgym.brief import brief
from lrgym.settings import POLICY_CHOICES
from lrgym.tasks.base import is_real, real_float

__all__ = ["ACTION_MODES", "ACTIVATIONS", "CHOICES", "MLPPolicy", "SUBMISSION_CLASS", "policy_choices"]

#: the class of the submission file :meth:`MLPPolicy.submission_source` writes (train_rllib's export)
SUBMISSION_CLASS = "RLlibPolicy"

#: the action modes a policy acts in: the argmax of its outputs, or its first output clipped to [−1, 1]
ACTION_MODES = ("discrete", "log_lr")

#: what the policy may choose of its episodes, kept in its ``meta["choices"]``
#: (:data:`lrgym.settings.POLICY_CHOICES`, the grader's; checked there)
CHOICES = POLICY_CHOICES

ACTIVATIONS = {
    "linear": lambda x: x,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
}


def policy_choices(settings: dict) -> dict:
    """The policy's own choices (:data:`CHOICES`) among the env keywords it trained with: its
    ``meta["choices"]``."""
    return {k: settings[k] for k in CHOICES if k in settings}


class MLPPolicy:
    """Greedy policy: ``argmax(mlp(clip(obs)))`` (first index on ties) in ``discrete`` mode;
    in ``log_lr`` mode (``meta["action_mode"]``, :mod:`lrgym.baselines.rllib_export`) the first
    output, a Gaussian's mean, clipped to [−1, 1]. ``meta["obs_clip"]``: the observation clip it
    trained with (default ±10, train_rllib's; None: the raw observation); ``meta["choices"]``: its
    ``optimizer``, ``lr_init`` and env options (``factors``, ``rejection_threshold``)."""

    optimizer = "sgd"
    action_mode = "discrete"

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray, str]], name: str = "mlp", meta: dict | None = None):
        for w, b, act in layers:
            if act not in ACTIVATIONS:
                raise ValueError(f"unknown activation {act!r}; valid choices: {', '.join(ACTIVATIONS)}")
            if w.ndim != 2 or b.shape != (w.shape[1],):
                raise ValueError(f"layer shapes {w.shape} and {b.shape} do not fit")
        self.layers = [(np.asarray(w, np.float64), np.asarray(b, np.float64), a) for w, b, a in layers]
        self.name = name
        self.meta = meta or {}
        self.action_mode = self.meta.get("action_mode", "discrete")
        if self.action_mode not in ACTION_MODES:
            raise ValueError(f"unknown action_mode {self.action_mode!r}; valid choices: {', '.join(ACTION_MODES)}")
        clip = self.meta.get("obs_clip", OBS_CLIP)
        if clip is not None and not (is_real(clip) and 0 < real_float(clip) < math.inf):
            raise ValueError(f"obs_clip={brief(clip)} invalid; valid: a finite number > 0 (the observation clip "
                             f"the policy trained with, train_rllib's {OBS_CLIP:g}) or None (the raw observation)")
        #: the policy sees the observation clipped to ±obs_clip, as it trained (None: the raw observation)
        self.obs_clip = None if clip is None else float(clip)
        choices = dict(self.meta.get("choices") or {})
        self.optimizer = choices.pop("optimizer", "sgd")
        self.lr_init = choices.pop("lr_init", None)
        choices.pop("action_mode", None)
        self.env_options = choices

    def outputs(self, obs: np.ndarray) -> np.ndarray:
        """The network's outputs (logits, advantages, or a Gaussian's mean and log std) for a batch
        or a single observation."""
        x = np.asarray(obs) if self.obs_clip is None else np.clip(np.asarray(obs), -self.obs_clip, self.obs_clip)
        x = x.astype(np.float32).astype(np.float64)  # (as the module saw it: float32)
        for w, b, act in self.layers:
            x = ACTIVATIONS[act](x @ w + b)
        return x

    def reset(self, info: dict) -> None:
        pass

    def act(self, obs: np.ndarray, info: dict):
        if self.action_mode == "log_lr":
            return np.array([np.clip(self.outputs(obs)[0], -1.0, 1.0)], dtype=np.float32)
        return int(np.argmax(self.outputs(obs)))

    # -- files ---------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        arrays = {}
        for i, (w, b, _) in enumerate(self.layers):
            arrays[f"w{i}"], arrays[f"b{i}"] = w, b
        meta = {**self.meta, "name": self.name, "activations": [a for _, _, a in self.layers]}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "MLPPolicy":
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            layers = [(z[f"w{i}"], z[f"b{i}"], a) for i, a in enumerate(meta["activations"])]
        return cls(layers, name=meta.get("name", "mlp"), meta=meta)

    def save(self, path: str | Path) -> Path:
        return replace_file(path, self.to_bytes())

    @classmethod
    def load(cls, path: str | Path) -> "MLPPolicy":
        return cls.from_bytes(Path(path).read_bytes())

    def submission_source(self, class_name: str = SUBMISSION_CLASS) -> str:
        """A self-contained submission file (the weights inline, base64): what ``lrgym
        leaderboard submit FILE.py:RLlibPolicy`` grades; it imports only lrgym and NumPy. Its
        ``TRAINED_ON`` line records the settings it trained at (``meta["trained_on"]``:
        :func:`~lrgym.baselines.outputs.trained_on_lines`)."""
        return (f'"""{self.name}: exported by lrgym.baselines.train_rllib (NumPy inference of the trained '
                f'module).\n\nlrgym leaderboard submit THIS_FILE.py:{class_name}\n"""\n\n'
                "import base64\n\nfrom lrgym.baselines.mlp_policy import MLPPolicy\n\n"
                f"{trained_on_lines(self.meta.get('trained_on'))}"
                f"{weights_literal(self.to_bytes())}\n\n"
                f"class {class_name}(MLPPolicy):\n"
                f"    name = {self.name!r}\n\n"
                "    def __init__(self, family=None):\n"
                "        loaded = MLPPolicy.from_bytes(base64.b64decode(WEIGHTS))\n"
                "        super().__init__(loaded.layers, name=self.name, meta=loaded.meta)\n")
