"""Family options that are each in range but together make a build no machine can do are refused
when the family is made, on the worst case the options allow (an override, else the largest value
the family's sampling draws), with a message naming the options, the size and the bound
(lrgym.tasks.base.check_build_size). They were accepted, then failed at the first build: a
MemoryError naming no option (305 GiB for linreg's n_train=10**7 with dim=4096), a build still
running after minutes (the recommender's n_users × n_items keys), or the recommender's split
saying "no user has 3 or more positives" at its documented minimum sizes.

The sizes here are worked out from the arrays a build makes, independently of the code's
formulas: linreg's data matrix is n_train × dim float64s; the MLP's data (n_train + 512 validation
rows) × input_dim and, for the teacher data set, its hidden layer × 32 and logits × n_classes;
the recommender draws one Gumbel key per user and item. No test builds an instance near 2 GiB.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from lrgym.tasks import make_family

GIB_FLOATS = 2**28  # 2 GiB of float64s


@pytest.mark.parametrize("name, options, said", [
    # the fuzz audit's: MemoryError "Unable to allocate 305 GiB" in lrgym/tasks/workspace.py
    ("linreg", {"dim": 4096, "n_train": 10**7},
     r"n_train=10,000,000, dim=4,096 .* = 40,960,000,000 float64s \(305 GiB\)"),
    # n_train alone: instances of a sampled dim up to 256 need 19 GiB
    ("linreg", {"n_train": 10**7},
     r"n_train=10,000,000, dim up to 256 \(sampled\) .* = 2,560,000,000 float64s"),
    ("linreg", {"n_train": 2**20 + 1}, r"= 268,435,712 float64s"),
    ("mlp", {"input_dim": 4096, "n_train": 10**7},
     r"n_train=10,000,000, input_dim=4,096, .* = 40,962,097,152 float64s"),
    ("mlp", {"n_train": 2**22 - 511}, r"input_dim up to 64 \(sampled\).* = 268,435,520 float64s"),
    # one input feature, but the teacher's hidden layer is 32 wide over the same rows
    ("mlp", {"input_dim": 1, "n_train": 10**7}, r"= 320,016,384 float64s"),
    # and its logits n_classes wide
    ("mlp", {"n_classes": 1000, "n_train": 300_000}, r"n_classes=1,000 .* = 300,512,000 float64s"),
    # a 7 GiB MemoryError in recsys/synthetic.py; then a build still running after 210 s
    ("recsys", {"n_users": 10**7, "interactions": 1e6}, r"n_users=10,000,000, n_items up to 2,000 \(sampled\) .* "
                                                         r"= 20,000,000,000 keys; valid: at most 2,147,483,648 keys"),
    ("recsys", {"n_users": 10**7, "n_items": 10**7, "rank": 1024}, r"= 100,000,000,000,000 keys"),
    ("recsys", {"n_users": 2**20 + 1, "n_items": 2**11}, r"= 2,147,485,696 keys"),
    # within the keys' bound: every user holds n_items // 4 = 512 positives (4 GiB of pairs)
    ("recsys", {"n_users": 2**20, "n_items": 2**11, "interactions": 1e6},
     r"interactions=1,000,000.0 .* positive pairs = 536,870,912 int64s"),
    # the parameter table, (n_users + n_items) × (rank + 1)
    ("recsys", {"n_users": 10**6, "n_items": 2000, "rank": 1024}, r"rank=1,024 .* = 1,027,050,000 float64s"),
])
def test_options_that_make_too_large_a_build_are_refused(name, options, said):
    with pytest.raises(ValueError) as err:
        make_family(name, **options)
    message = str(err.value)
    assert re.search(said, message), message
    assert message.startswith(f"{name} options ") and "valid: at most" in message


@pytest.mark.parametrize("name, options", [
    ("linreg", {"n_train": 2**20}),  # × 256 = 2**28
    ("linreg", {"n_train": 2**16, "dim": 4096}),
    ("linreg", {"n_train": 10**7, "streaming": True}),  # streaming: no data matrix
    ("linreg", {"n_train": 10**7, "dataset": "diabetes"}),  # the bundled data: 442 rows
    ("linreg", {"dim": 4096}),  # × a sampled n_train up to 8,192
    ("mlp", {"n_train": 2**22 - 512}),  # (n_train + 512) × 64 = 2**28
    ("mlp", {"n_train": 10**7, "input_dim": 16, "dataset": "clusters"}),  # no teacher: × 16
    ("mlp", {"input_dim": 4096, "n_classes": 1000}),
    ("recsys", {"n_users": 2**20, "n_items": 2**11}),  # 2**31 keys, positives of ≤ 50 per user
    ("recsys", {"n_users": 2**20}),
    ("recsys", {"n_items": 400_000, "rank": 256}),  # × 5,000 sampled users: 2e9 keys
])
def test_the_bounds_edge_still_constructs(name, options):
    family = make_family(name, **options)
    assert all(getattr(family.sample(k), key) == value for k in (0, 1) for key, value in options.items())


@pytest.mark.parametrize("name", ["linreg", "mlp", "recsys"])
def test_every_sampled_instance_is_far_inside_the_bounds(name):
    """The default distribution is what the bounds are generous to: its largest arrays stay
    below a 64th of them (and every family is made without options, as every id makes it)."""
    family = make_family(name)
    worst = 0
    for k in range(0, 10_000, 7):
        s = family.sample(k)
        if name == "linreg":
            size = s.n_train * s.dim
        elif name == "mlp":
            size = (s.n_train + 512) * max(s.input_dim, 32, s.n_classes)
        else:
            size = max(s.n_users * s.n_items // 8, (s.n_users + s.n_items) * (s.rank + 1))
        worst = max(worst, size)
    assert 0 < worst <= GIB_FLOATS // 64


def test_recsys_n_items_starts_where_a_build_can_hold_out_a_user():
    """The documented minimums were n_users=3, n_items=4 (a user holds 3 positives and needs 2
    other items for one negative: 4 items never built); n_items is now from 5."""
    with pytest.raises(ValueError, match=r"recsys option n_items=4 out of range; valid: integer 5\.\.10,000,000"):
        make_family("recsys", n_users=3, n_items=4)


@pytest.mark.parametrize("options, need", [
    ({"n_users": 3, "n_items": 5}, 21),  # with a sampled n_negatives of 8: 3 positives + 16 negatives
    ({"n_items": 20}, 21),  # 5 positives + 16 negatives
    ({"n_items": 6, "n_negatives": 2}, 7),
    ({"n_negatives": 1000}, 2666),  # sampled n_items from 50
    ({"n_items": 2665, "n_negatives": 1000}, 2666),
])
def test_recsys_sizes_that_leave_no_user_to_hold_out_are_refused(options, need):
    with pytest.raises(ValueError, match=rf"leave no user to hold out for validation.*valid: n_items >= {need:,}"):
        make_family("recsys", **options)


@pytest.mark.parametrize("options", [
    {"n_items": 21},  # every sampled n_negatives, 8 included
    {"n_users": 3, "n_items": 5, "n_negatives": 1},  # the smallest: three users of 3 of 5 items share one
    {"n_items": 2666, "n_negatives": 1000, "n_users": 100, "interactions": 10.0},
])
def test_the_recsys_minimum_sizes_build(options):
    family = make_family("recsys", **options)
    for k in range(4):
        task = family.build(family.sample(k))
        assert len(task.va_u) > 0 and len(task.pos_u) > 0


def test_a_split_with_no_user_to_hold_out_names_the_sizes():
    """Options the family takes can still draw positives no user can hold out (no item held by
    two users): the build's error names the sizes and what to change (it said "no user has 3 or
    more positives" of users that had 3)."""
    from lrgym.tasks.recsys.split import split_positives

    pos_u = np.repeat(np.arange(3), 3)
    pos_i = np.arange(9)  # three users, three items each, none shared
    said = r"n_users=3, n_items=40, n_negatives=2.*raise n_users or n_items, or lower n_negatives"
    with pytest.raises(ValueError, match=said):
        split_positives(np.random.default_rng(0), pos_u, pos_i, 3, 40, 2)


def test_an_mlp_episodes_buffers_past_the_bound_are_refused_when_the_family_is_made():
    """Each option in range, together an episode's scratch of 8.5 GiB (max(batch, 256) rows of
    every layer's activations, two backward buffers of the widest layer, the minibatch's inputs):
    it failed at the first reset with a bare MemoryError. The count is the scratch's own arrays'."""
    from lrgym.tasks.mlp import MLPTask

    options = dict(batch_size=65536, hidden=4096, depth=2, n_classes=1000)
    with pytest.raises(ValueError, match=r"mlp options batch_size=65,536, hidden=4,096, depth=2, input_dim up to 64 "
                                         r"\(sampled or a bundled data set's\), n_classes=1,000 make an episode's "
                                         r"buffers .* = 1,143,472,128 float64s \(8.52 GiB\); valid: at most "
                                         r"268,435,456"):
        make_family("mlp", **options)
    family = make_family("mlp", batch_size=512, hidden=300, depth=2, n_classes=20, input_dim=40, n_train=600)
    task = family.build(family.sample(0))  # a modest one: the formula counts the scratch's arrays
    scratch = task.new_scratch()
    counted = sum(scratch[k].size for k in ("Xb", "acts", "delta_a", "delta_b"))
    assert counted == max(512, 256) * (300 * 2 + 20 + 2 * 300 + 40)
