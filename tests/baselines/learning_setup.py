"""The learning test of the issue: a quadratic family whose best constant LR is known, started
from an LR 100× too small.

Every instance is a noisy quadratic with the same spectrum (dim 32, L = 1, κ = 10, σ = 0.1,
batch 4); only the rotation and the initial point differ. The expected loss after n SGD updates
at a constant LR follows the exact second-moment recursion m_i ← (1 − ηλ_i)² m_i + η² σ²/b
(:func:`lrgym.tasks.quadratic.expected_second_moments`), so the best constant LR for the
episode is computed, not guessed.
"""

import numpy as np

from lrgym.tasks.linreg import spectrum
from lrgym.tasks.quadratic import expected_second_moments

FAMILY_OPTIONS = {"dim": 32, "scale": 1.0, "condition": 10.0, "noise": 0.1, "batch_size": 4}
HORIZON, INNER_STEPS = 50, 10
HELD_OUT = list(range(10_000, 10_012))  # val instances: never trained on


def expected_final_loss(lr: float, n_updates: int = HORIZON * INNER_STEPS) -> float:
    o = FAMILY_OPTIONS
    lam = spectrum(o["dim"], o["condition"], o["scale"])
    m = np.full(o["dim"], 1.0 / o["dim"])  # x0 ~ N(0, I/d)
    for _ in range(n_updates):
        m = expected_second_moments(lam, m, lr, o["noise"] ** 2 / o["batch_size"])
    return 0.5 * float(np.sum(lam * m))


def best_constant_lr() -> float:
    grid = np.logspace(-3, np.log10(1.99), 120)
    return float(grid[np.argmin([expected_final_loss(lr) for lr in grid])])


def env_kwargs() -> dict:
    return {"family": "quadratic", "family_options": dict(FAMILY_OPTIONS), "horizon": HORIZON,
            "inner_steps": INNER_STEPS, "lr_init": best_constant_lr() / 100}


class KeepLR:
    """The untrained baseline: keep the (100× too small) initial LR."""

    name = "keep"
    optimizer = "sgd"
    action_mode = "discrete"

    def reset(self, info):
        pass

    def act(self, obs, info):
        return 2  # factor 1.0 of the default factors (0.5, 0.8, 1.0, 1.25, 2.0)


def mean_final_log_loss(trajectories) -> float:
    return float(np.mean([np.log(t.final_loss) for t in trajectories]))
