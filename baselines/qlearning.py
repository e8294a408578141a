"""Tabular Q-learning over a few discretised observation features.

The agent sees a coarse state (which bin each of a few features falls in) and picks one of the
env's ``discrete`` actions (multiply the LR by 0.5, 0.8, 1, 1.25 or 2). It learns with
ε-greedy exploration and the one-step Bellman (Q-learning) update (Watkins & Dayan 1992)::

    Q(s, a) ← Q(s, a) + α [ r + γ · (1 − done) · max_a' Q(s', a') − Q(s, a) ]

``done`` is true at the end of every episode, truncation included: the horizon is the end of
the task (and ``progress`` is part of the state), not a time limit on an endless one.

State features and bin edges (:class:`Discretiser`)::

    grad_cos               (−0.25, 0.05, 0.4, 0.8)   do consecutive gradients agree (LR too
                                                      small) or alternate (LR too large)?
    delta_log_train_loss   (−0.1, −0.01, 0)          fast / slow progress, or the loss rose
    progress               (1/3, 2/3)                early, middle, late in the run

Rewards are the env's ``log_improvement``, clipped per step to [−10, 1] during training (see
:class:`lrgym.baselines.wrappers.ClipReward`); each train instance serves 4 consecutive episodes
(:class:`lrgym.baselines.wrappers.RepeatInstances`).

Train a table on the train instances of the default mixed env (outputs go to ``runs/`` unless
``--ship`` or ``--out``; see :mod:`lrgym.baselines.outputs`)::

    python -m lrgym.baselines.qlearning              # → runs/qlearning_mixed.npz
    python -m lrgym.baselines.qlearning --ship       # → baselines/weights/qlearning_mixed.npz (shipped)
"""

from __future__ import annotations

import argparse
import io
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from lrgym.baselines.code_version import made_by
from lrgym.baselines.outputs import replace_file
from lrgym.baselines.wrappers import ClipReward, RepeatInstances, check_reward_clip
from lrgym.env import LRControlEnv
from lrgym.features import FEATURE_NAMES
from lrgym.settings import DEFAULT_FACTORS, check_seed, positive_int, seed_argument


@dataclass(frozen=True)
class Discretiser:
    """obs → one integer state: the bin of each chosen feature, combined row-major."""

    features: tuple[str, ...] = ("grad_cos", "delta_log_train_loss", "progress")
    edges: tuple[tuple[float, ...], ...] = ((-0.25, 0.05, 0.4, 0.8), (-0.1, -0.01, 0.0), (1 / 3, 2 / 3))

    def __post_init__(self):
        if len(self.features) != len(self.edges):
            raise ValueError("features and edges must have the same length")
        for f in self.features:
            if f not in FEATURE_NAMES:
                raise ValueError(f"unknown feature {f!r}; valid choices: {', '.join(FEATURE_NAMES)}")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(e) + 1 for e in self.edges)

    @property
    def n_states(self) -> int:
        return int(np.prod(self.shape))

    def bins(self, obs: np.ndarray) -> tuple[int, ...]:
        """Bin of each feature: the number of edges ≤ the value (``np.searchsorted``, right)."""
        return tuple(
            int(np.searchsorted(e, float(obs[FEATURE_NAMES.index(f)]), side="right"))
            for f, e in zip(self.features, self.edges)
        )

    def __call__(self, obs: np.ndarray) -> int:
        return int(np.ravel_multi_index(self.bins(obs), self.shape))


def q_update(q: np.ndarray, s: int, a: int, r: float, s_next: int, done: bool, alpha: float, gamma: float) -> float:
    """One Q-learning update of ``q`` in place; returns the TD error."""
    target = r if done else r + gamma * float(np.max(q[s_next]))
    td = target - q[s, a]
    q[s, a] += alpha * td
    return float(td)


class QLearningPolicy:
    """Greedy policy of a Q-table: argmax_a Q(s, a); "keep the LR" in states never visited."""

    name = "qlearning"
    optimizer = "sgd"
    action_mode = "discrete"
    lr_init = None

    def __init__(self, q: np.ndarray, discretiser: Discretiser = Discretiser(),
                 factors: tuple[float, ...] = DEFAULT_FACTORS, visits: np.ndarray | None = None,
                 meta: dict | None = None):
        self.q = np.asarray(q, dtype=np.float64)
        self.discretiser = discretiser
        self.factors = tuple(float(f) for f in factors)
        if self.q.shape != (discretiser.n_states, len(self.factors)):
            raise ValueError(f"Q-table shape {self.q.shape} != ({discretiser.n_states}, {len(self.factors)})")
        self.visits = np.zeros(self.q.shape, dtype=np.int64) if visits is None else np.asarray(visits)
        self.keep = self.factors.index(1.0) if 1.0 in self.factors else len(self.factors) // 2
        self.env_options = {"factors": self.factors}
        self.meta = dict(meta or {})

    def reset(self, info: dict) -> None:
        pass

    def act(self, obs: np.ndarray, info: dict) -> int:
        s = self.discretiser(obs)
        if not self.visits[s].any():
            return self.keep
        return int(np.argmax(self.q[s]))

    def save(self, path: str | Path) -> Path:
        """Write the table to ``path`` (``.npz`` appended when missing, NumPy's rule); returns the
        file written."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        buf = io.BytesIO()
        np.savez_compressed(
            buf, q=self.q, visits=self.visits, factors=np.array(self.factors),
            features=np.array(self.discretiser.features),
            edges=json.dumps([list(e) for e in self.discretiser.edges]), meta=json.dumps(self.meta),
        )
        return replace_file(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> "QLearningPolicy":
        with np.load(path, allow_pickle=False) as z:  # explicit: a weights file runs no pickle, whatever NumPy's default
            disc = Discretiser(tuple(str(f) for f in z["features"]),
                               tuple(tuple(e) for e in json.loads(str(z["edges"]))))
            return cls(z["q"], disc, tuple(z["factors"].tolist()), z["visits"], json.loads(str(z["meta"])))


@dataclass
class QLearningConfig:
    """Training run of the tabular agent. ``env_kwargs`` are :class:`LRControlEnv` keywords."""

    env_kwargs: dict = field(default_factory=lambda: {"family": "mixed"})
    instance_set: str = "train"
    episodes: int = 4000
    alpha: float = 0.1
    gamma: float = 0.95
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_decay_frac: float = 0.5  # ε decays linearly over this fraction of the episodes
    reward_clip: tuple[float, float] | None = (-10.0, 1.0)  # clip per-step rewards (None: off)
    repeats: int = 4  # episodes per train instance (lrgym.baselines.wrappers.RepeatInstances)
    seed: int = 0
    discretiser: Discretiser = field(default_factory=Discretiser)

    def __post_init__(self):
        for key in ("episodes", "repeats"):  # lrgym.settings' rule: a Python or NumPy integer, not a bool
            setattr(self, key, positive_int(key, getattr(self, key)))
        self.seed = check_seed("seed", self.seed)  # NumPy's generators take no negative seed
        self.reward_clip = check_reward_clip(self.reward_clip)  # ClipReward's rule, before training, not at it


def train(config: QLearningConfig, progress: bool = False) -> QLearningPolicy:
    """Q-learning on ``config.instance_set`` (instances drawn uniformly by the env)."""
    base = LRControlEnv(**{**config.env_kwargs, "instance_set": config.instance_set, "action_mode": "discrete"})
    env = RepeatInstances(base, config.repeats, seed=config.seed)
    if config.reward_clip is not None:
        env = ClipReward(env, *config.reward_clip)
    disc = config.discretiser
    n_actions = int(env.action_space.n)
    q = np.zeros((disc.n_states, n_actions))
    visits = np.zeros((disc.n_states, n_actions), dtype=np.int64)
    rng = np.random.default_rng(config.seed)
    decay = max(1, int(config.eps_decay_frac * config.episodes))
    bar = _progress(config.episodes, "Q-learning") if progress else None
    returns = []
    for episode in range(config.episodes):
        eps = config.eps_end + (config.eps_start - config.eps_end) * max(0.0, 1.0 - episode / decay)
        obs, _ = env.reset(seed=int(rng.integers(2**31)))
        s, done, ret = disc(obs), False, 0.0
        while not done:
            if rng.random() < eps:
                a = int(rng.integers(n_actions))
            else:
                best = np.flatnonzero(q[s] == q[s].max())
                a = int(rng.choice(best))
            obs, r, terminated, truncated, _ = env.step(a)
            done = terminated or truncated
            s_next = disc(obs)
            q_update(q, s, a, r, s_next, done, config.alpha, config.gamma)
            visits[s, a] += 1
            s, ret = s_next, ret + r
        returns.append(ret)
        if bar is not None:
            bar.update(1)
            if episode % 50 == 0:
                bar.set_postfix(eps=f"{eps:.2f}", ret=f"{np.mean(returns[-50:]):.2f}")
    if bar is not None:
        bar.close()
    meta = {k: v for k, v in asdict(config).items() if k != "discretiser"} | made_by()  # (the code that trained it)
    return QLearningPolicy(q, disc, tuple(base.factors.tolist()), visits, meta)


def _progress(total: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc)


def main(argv=None) -> None:
    from lrgym.baselines import outputs
    from lrgym.baselines.families import env_kwargs_for
    from lrgym.rewards import REWARDS
    from lrgym.tasks import FAMILIES

    p = argparse.ArgumentParser(prog="python -m lrgym.baselines.qlearning", description=__doc__.split("\n\n")[0])
    p.add_argument("--family", default=None, choices=FAMILIES,
                   help="task family (default: the mixed family of LRControl-v1)")
    p.add_argument("--episodes", type=int, default=QLearningConfig.episodes,
                   help="training episodes (a positive integer; default %(default)s)")
    p.add_argument("--reward", default="log_improvement", choices=REWARDS, help="env reward (default %(default)s)")
    low, high = QLearningConfig.reward_clip
    p.add_argument("--no-reward-clip", action="store_true",
                   help=f"do not clip per-step rewards (default: clipped to [{low:g}, {high:g}])")
    p.add_argument("--seed", type=seed_argument, default=0, help="random seed (an integer >= 0; default 0)")
    outputs.add_output_arguments(p, "Q-table (.npz)")
    args = p.parse_args(argv)
    try:
        config = QLearningConfig(env_kwargs={**env_kwargs_for(args.family), "reward": args.reward},
                                 episodes=args.episodes, seed=args.seed)
    except ValueError as exc:
        p.error(f"--{exc}")
    if args.no_reward_clip:
        config.reward_clip = None
    try:
        out = outputs.output_path(outputs.SHIPPED_WEIGHTS / f"qlearning_{args.family or 'mixed'}.npz",
                                  ship=args.ship, out=args.out)
    except ValueError as exc:
        p.error(str(exc))
    if out.is_dir():  # before minutes of training, not after
        p.error(f"--out {out} is a folder; valid: a file path, e.g. {out / ('qlearning_' + (args.family or 'mixed') + '.npz')}")
    start = time.time()
    policy = train(config, progress=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out = policy.save(out)  # .npz appended when missing
    print(f"saved {out} ({out.stat().st_size} bytes) after {time.time() - start:.0f} s; "
          f"states visited {int((policy.visits.sum(1) > 0).sum())}/{policy.q.shape[0]}")


if __name__ == "__main__":
    main()
