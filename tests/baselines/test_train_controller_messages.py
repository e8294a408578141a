"""train_controller's config errors, whole: the unknown-family error is the env's own wording
(lrgym.optim.check_choice) behind the field's name, and the instance seeds' ranges are written by
one helper; the texts users see stay these."""

from __future__ import annotations

import pytest

from lrgym.baselines.train_controller import ConfigError, ControllerConfig
from lrgym.optim import check_choice

CASES = [
    ({"pool": {"linear": 4}}, "pool: unknown family 'linear'; valid choices: linreg, quadratic, mlp, recsys"),
    ({"base_lr": {"cnn": 0.1}}, "base_lr: unknown family 'cnn'; valid choices: linreg, quadratic, mlp, recsys"),
    ({"train_start": -1}, "train_start=-1 out of range; valid: a train instance seed (an integer 0 ... 9999)"),
    ({"train_start": 9990}, "linreg's pool scans instances 9990 ... 10117 (train_start + scan × pool), past the "
                            "train instances; valid: instance seeds 0 ... 9999 (lower train_start, pool or scan)"),
    ({"holdout_start": 100}, "linreg's holdout (instances 100 ... 131) overlaps its training pool (0 ... 127); "
                             "valid: holdout_start and train_start whose ranges (start + scan × size) are disjoint"),
]


@pytest.mark.parametrize("config, message", CASES, ids=[m[:30] for _, m in CASES])
def test_each_config_error_reads_as_before(config, message):
    with pytest.raises(ConfigError) as caught:
        ControllerConfig(**config)
    assert str(caught.value) == message


def test_an_unknown_family_is_worded_as_the_env_words_it():
    with pytest.raises(ValueError) as env_side:
        check_choice("family", "linear", ("linreg", "quadratic", "mlp", "recsys"))
    with pytest.raises(ConfigError) as config_side:
        ControllerConfig(batch={"linear": 2})
    assert str(config_side.value) == f"batch: {env_side.value}"


def test_a_family_without_a_pool_or_batch_count_is_named(monkeypatch):
    """A family of the info table the shipped recipe has no counts for (a new family joining
    LRControl-v1) is a config error naming it and the field; it was a bare KeyError."""
    import os
    import sys

    import lrgym.baselines.train_controller_config as config
    from lrgym.tasks import FAMILIES, register_family

    monkeypatch.syspath_prepend(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tasks"))
    monkeypatch.setattr(sys.modules["lrgym.tasks"], "FAMILIES", dict(FAMILIES))  # registered here only
    register_family("toy", "toy_family:ToyFamily")  # tests/tasks/toy_family.py
    monkeypatch.setattr(config, "FAMILY_NAMES", config.FAMILY_NAMES + ("toy",))  # where ControllerConfig reads it
    with pytest.raises(ConfigError) as caught:
        ControllerConfig(families=("linreg", "toy"))
    assert str(caught.value) == ('pool has no count for toy; valid: a count for every trained family, '
                                 'e.g. {"pool": {"toy": 8}} in the --config file')
    with pytest.raises(ConfigError, match='^batch has no count for toy; .* {"batch": {"toy": 8}}'):
        ControllerConfig(families=("linreg", "toy"), pool={"toy": 4})
