"""Tabular Q-learning: the Bellman update by hand, the discretiser, save/load, and learning."""

import numpy as np
import pytest

from lrgym.baselines.evaluation import evaluate
from lrgym.baselines.qlearning import Discretiser, QLearningConfig, QLearningPolicy, q_update, train
from lrgym.features import FEATURE_NAMES
from learning_setup import HELD_OUT, KeepLR, best_constant_lr, env_kwargs, expected_final_loss, mean_final_log_loss


def test_q_update_by_hand():
    q = np.zeros((2, 2))
    q[1] = [2.0, 3.0]
    # target = r + gamma * max Q(s') = 1 + 0.9 * 3 = 3.7; Q <- 0 + 0.5 * (3.7 - 0) = 1.85
    td = q_update(q, s=0, a=1, r=1.0, s_next=1, done=False, alpha=0.5, gamma=0.9)
    assert td == pytest.approx(3.7) and q[0, 1] == pytest.approx(1.85)
    # terminal: no bootstrap; target = -1, Q <- 1.85 + 0.5 * (-1 - 1.85) = 0.425
    q_update(q, s=0, a=1, r=-1.0, s_next=1, done=True, alpha=0.5, gamma=0.9)
    assert q[0, 1] == pytest.approx(0.425)
    np.testing.assert_array_equal(q[1], [2.0, 3.0])  # other entries untouched


def test_discretiser_bins_by_hand():
    d = Discretiser()
    obs = np.zeros(len(FEATURE_NAMES), dtype=np.float32)
    obs[FEATURE_NAMES.index("grad_cos")] = 0.9  # above every edge -> bin 4
    obs[FEATURE_NAMES.index("delta_log_train_loss")] = -0.05  # between -0.1 and -0.01 -> bin 1
    obs[FEATURE_NAMES.index("progress")] = 0.5  # middle third -> bin 1
    assert d.bins(obs) == (4, 1, 1)
    assert d(obs) == 4 * (4 * 3) + 1 * 3 + 1
    assert d.n_states == 5 * 4 * 3


def test_policy_save_load_and_unvisited_states_keep(tmp_path):
    d = Discretiser()
    q = np.random.default_rng(0).normal(size=(d.n_states, 5))
    visits = np.zeros_like(q, dtype=np.int64)
    visits[7] = 1
    policy = QLearningPolicy(q, d, visits=visits)
    policy.save(tmp_path / "q.npz")
    loaded = QLearningPolicy.load(tmp_path / "q.npz")
    np.testing.assert_array_equal(loaded.q, q)
    assert loaded.discretiser == d and loaded.factors == (0.5, 0.8, 1.0, 1.25, 2.0)
    obs = np.zeros(len(FEATURE_NAMES), dtype=np.float32)
    s = d(obs)
    assert s != 7 and loaded.act(obs, {}) == 2  # never visited: keep the LR


def test_training_smoke():
    policy = train(QLearningConfig(env_kwargs={"family": "quadratic", "horizon": 8, "inner_steps": 2}, episodes=5))
    assert 0 < policy.visits.sum() <= 5 * 8  # one visit per step (divergence ends early)
    assert np.isfinite(policy.q).all()
    from lrgym.baselines.code_version import made_by

    assert {k: policy.meta[k] for k in ("commit", "code")} == made_by()  # the code that trained it


def test_learning_setup_best_lr_is_interior():
    lr = best_constant_lr()
    assert 0.01 < lr < 0.1  # far from the stability limit 2/L = 2
    assert expected_final_loss(lr) < 0.01 * expected_final_loss(lr / 100)


@pytest.mark.slow
def test_qlearning_learns_to_raise_a_too_small_lr():
    kwargs = env_kwargs()
    keep = evaluate(KeepLR(), kwargs, instance_set="val", instances=HELD_OUT)
    for seed in (0, 1):
        agent = train(QLearningConfig(env_kwargs=kwargs, episodes=300, seed=seed))
        trained = evaluate(agent, kwargs, instance_set="val", instances=HELD_OUT)
        assert not any(t.diverged for t in trained)
        # keep-LR ends near log L0; the agent must be e^2 ≈ 7x lower in loss on average
        assert mean_final_log_loss(trained) < mean_final_log_loss(keep) - 2.0
        assert np.median([t.lrs[-1] for t in trained]) > 10 * kwargs["lr_init"]


def test_load_runs_no_pickle_whatever_numpys_default(tmp_path, monkeypatch):
    """A Q-table file whose ``features`` is a pickled object array: load relied on np.load's
    default (allow_pickle=False since NumPy 1.16.3, True before) to refuse it; it says so itself."""
    import functools

    policy = QLearningPolicy(np.zeros((Discretiser().n_states, 5)), Discretiser())
    path = policy.save(tmp_path / "q.npz")
    with np.load(path, allow_pickle=False) as z:
        members = {k: z[k] for k in z.files}
    members["features"] = np.array(list(members["features"]), dtype=object)  # pickled when saved
    np.savez(tmp_path / "pickled.npz", **members)
    monkeypatch.setattr(np, "load", functools.partial(np.load, allow_pickle=True))  # an older NumPy's default
    with pytest.raises(ValueError, match="allow_pickle=False"):
        QLearningPolicy.load(tmp_path / "pickled.npz")
