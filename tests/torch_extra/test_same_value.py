"""The scheduler's one deep comparison of settings (``same_value``) against the two it replaced.

``OLD_SAME_SETTING`` (an optimizer's argument against lrgym's) and ``OLD_SAME_PLAIN`` (a saved
policy identity against the current one) are the earlier rules, written out here as references.
Over many pairs the one rule must answer as each did for what its caller compares: every pair of
``_plain`` values for the identity (the same answers), and every argument a ``torch.optim``
optimizer may hold against every value lrgym's ``torch_optimizer`` states for the optimizer
check (the same answers, but where the argument is no real number, by design: a string ``"0.9"`` is not the
number 0.9, which the old rule read with ``float()``; a complex number is no bool; an array or
tensor of several elements where lrgym states a bool is "not the same", where the old rule
raised). A hand-written table pins the answers.
"""

from __future__ import annotations

import itertools
import warnings
import math
from fractions import Fraction

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lrgym.optim import OPTIMIZERS  # noqa: E402
from lrgym.torch.optim import torch_optimizer  # noqa: E402
from lrgym.torch._policy_checks import _plain, same_value  # noqa: E402

NAN = float("nan")


def OLD_SAME_SETTING(given, expected) -> bool:
    if isinstance(expected, tuple):
        return isinstance(given, (tuple, list)) and len(given) == len(expected) and all(
            OLD_SAME_SETTING(g, e) for g, e in zip(given, expected))
    if isinstance(expected, bool):
        return bool(given is expected or given == expected)  # (raised for an array or tensor of several)
    try:
        return float(given) == float(expected)
    except (TypeError, ValueError, RuntimeError):
        return False


def OLD_SAME_PLAIN(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(OLD_SAME_PLAIN(a[key], b[key]) for key in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(OLD_SAME_PLAIN(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return False
    return a == b


class Thing:
    pass


def _values() -> list:
    """Settings of every kind: numbers of each type, NaN, bools, None, strings, tensors, NumPy
    values, tuples and lists, dicts, nested ones, a Fraction, huge integers, an object."""
    return [0, 0.0, -0.0, 1, 1.0, 0.9, 0.999, 1e-8, 2.0, NAN, math.inf, True, False, None, "0.9", "a", "", "nan",
            torch.tensor(0.9), torch.tensor(0.9, dtype=torch.float64), torch.tensor(0), torch.tensor(True),
            torch.tensor(NAN), torch.tensor([0.9], dtype=torch.float64),
            torch.tensor([0.9, 0.999], dtype=torch.float64),
            np.float64(0.9), np.float32(0.9), np.int64(0), np.True_, np.array(0.9), np.array([0.9, 0.999]),
            (0.9, 0.999), [0.9, 0.999], (0.9,), [0.9], (), [], {}, {"a": 1}, {"a": 1.0}, {"a": NAN}, {"b": 1},
            [[1, NAN], {"x": None}], [[1.0, NAN], {"x": None}], (0.9, NAN), [0.9, NAN],
            2**60, 2**60 + 1, float(2**60), Fraction(9, 10), 1 + 0j, Thing, Thing()]


def _expected_arguments() -> list:
    """Every value torch_optimizer states for lrgym's optimizers, and a few of the same kinds."""
    stated = [value for name in OPTIMIZERS for value in torch_optimizer(name)[1].values()]
    return stated + [0.0, 0, 0.5, 0.9, 1e-8, 1e-10, True, False, (0.9, 0.999), (0.5, 0.9)]


def _answer(rule, a, b):
    try:
        return rule(a, b)
    except Exception as exc:  # noqa: BLE001 (the answer is the exception's type)
        return type(exc).__name__


def _diff(old, new, pairs):
    return [(a, b, _answer(old, a, b), _answer(new, a, b)) for a, b in pairs
            if _answer(old, a, b) != _answer(new, a, b)]


def test_the_identity_check_answers_as_before_on_every_pair_of_plain_values():
    plain = [_plain(v) for v in _values()]
    assert _diff(OLD_SAME_PLAIN, same_value, itertools.product(plain, repeat=2)) == []


def test_the_optimizer_check_answers_as_before_but_for_arguments_that_are_no_real_number():
    pairs = list(itertools.product(_values(), _expected_arguments()))
    changed = _diff(OLD_SAME_SETTING, same_value, pairs)
    kinds = set()
    for given, expected, old, new in changed:
        assert new is False, (given, expected, old, new)
        if isinstance(given, str):  # float("0.9") == 0.9 made the string "0.9" the number 0.9
            assert old is True, (given, expected, old)
            kinds.add("string")
        elif isinstance(given, complex):  # (1+0j) == True made a complex number a bool
            assert old is True and isinstance(expected, bool), (given, expected, old)
            kinds.add("complex")
        else:  # bool(tensor == False) raised, and PolicyScheduler() with it: now "not the same", warned of
            assert isinstance(given, (torch.Tensor, np.ndarray)) and isinstance(expected, bool), (given, expected)
            assert old in ("RuntimeError", "ValueError"), old
            kinds.add("array")
    assert kinds == {"string", "complex", "array"}


TABLE = [  # (a, b, same): a few answers, by hand
    (0, 0.0, True), (False, 0, True), (True, 1.0, True), (True, 2, False), (NAN, NAN, True), (NAN, 0.0, False),
    (None, None, True), (None, 0.0, False), ("0.9", 0.9, False), ("a", "a", True),
    (torch.tensor(0.9, dtype=torch.float64), 0.9, True), (torch.tensor(0.9), 0.9, False),  # float32 0.9 ≠ 0.9
    (torch.tensor(True), True, True), (np.float64(0.9), 0.9, True), (np.True_, True, True),
    ([0.9, 0.999], (0.9, 0.999), True), ((0.9,), (0.9, 0.999), False), ([0.9], 0.9, False),
    ({"a": [1, NAN]}, {"a": [1.0, NAN]}, True), ({"a": 1}, {"b": 1}, False), ({}, [], False),
    (2**60 + 1, 2**60, False), (1 + 0j, 1.0, False), (torch.tensor([0.9, 0.999]), (0.9, 0.999), False),
]


@pytest.mark.parametrize("a, b, same", TABLE, ids=[f"{a!r}~{b!r}" for a, b, _ in TABLE])
def test_the_rule_by_hand(a, b, same):
    assert same_value(a, b) is same
    assert same_value(b, a) is same


class _MomentumPolicy:
    name = "keep"
    optimizer = "momentum"  # lrgym's momentum 0.9: torch.optim.SGD(momentum=0.9, ...)

    def reset(self, info):
        pass

    def act(self, obs, info):
        return 2


def test_a_string_momentum_is_warned_of_as_another_setting_and_the_number_is_not():
    from lrgym.torch import PolicyScheduler

    for momentum, warned in ((0.9, False), (torch.tensor(0.9, dtype=torch.float64), False), ("0.9", True)):
        opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1e-2, momentum=0.9)
        opt.param_groups[0]["momentum"] = momentum
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            PolicyScheduler(opt, _MomentumPolicy(), horizon=2, updates_per_step=1, lr_init=1e-2)
        messages = [str(w.message) for w in caught if "was designed for" in str(w.message)]
        assert bool(messages) == warned, (momentum, messages)
        if warned:
            assert "torch.optim.SGD(momentum=0.9)" in messages[0] and "momentum='0.9'" in messages[0]
