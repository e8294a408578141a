"""A learned baseline graded at other settings than its weights trained at is noted as a submission is.

A submission's entry keeps the settings its suite grades at other values than it learned
(``env_spec["trained_apart"]``) and the board marks its row (†) and names them under the board
(:mod:`test_trained_apart_board`). The learned baselines (Q-learning, DQN, PPO, the controller)
were never compared: on ``quick`` (horizon 12, inner steps 5) they ran with weights trained at the
families' default horizon 50 and 10 inner steps, and the board said nothing. Their specs now carry
what their weights record (:func:`lrgym.baselines.registry.trained_on`), compared the same way; on
the default suite v2, which they trained at, nothing is kept and the shipped board is unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from lb_helpers import tiny_suite
from test_trained_apart import _reference_apart

from lrgym.baselines import registry
from lrgym.baselines.registry import LEARNED, WEIGHTS
from lrgym.leaderboard.ranking import build_leaderboard
from lrgym.leaderboard.report_format import APART_MARK
from lrgym.leaderboard.report_markdown import markdown
from lrgym.leaderboard.runner import baseline_specs, run_suite
from lrgym.leaderboard.runner_entries import _apart_field
from lrgym.leaderboard.trained_apart import TRAINED_APART_KEY, read_apart_record, settings_apart
from lrgym.leaderboard.store import ResultStore
from lrgym.leaderboard.suite import get_suite

ROOT = Path(__file__).resolve().parents[2]


def _recorded(name: str) -> dict:
    """What the shipped mixed-family weights of ``name`` say they trained at, read plainly from the
    files their trainers wrote (the controller's from its JSON sidecar, not the .npz header the
    registry reads)."""
    if name in ("dqn", "ppo"):
        return json.loads((WEIGHTS / f"{name}_mixed.json").read_text())["trained_on"]
    if name == "controller":
        return json.loads((WEIGHTS / "controller_mixed.json").read_text())["config"]["env_options"]
    with np.load(WEIGHTS / "qlearning_mixed.npz") as z:
        return json.loads(str(z["meta"]))["env_kwargs"]


def test_each_learned_baseline_carries_what_its_weights_trained_at_and_hand_designed_ones_nothing():
    specs = {s.name: s for s in baseline_specs(include_learned=True)}
    assert set(LEARNED) <= set(specs)
    for name, spec in specs.items():
        assert spec.trained_on == (_recorded(name) if name in LEARNED else None), name


def test_on_v2_no_learned_baseline_is_apart_and_the_shipped_board_has_no_mark():
    """The default suite grades at the settings the shipped weights trained at: compared (a
    record is there), nothing kept, so the shipped board's rows stay as they are."""
    v2 = get_suite("v2")
    for spec in baseline_specs([n for n in LEARNED]):
        assert isinstance(spec.trained_on, dict), spec.name
        assert _reference_apart(spec.trained_on, v2) == {} == settings_apart(spec.trained_on, v2)
        assert _apart_field(spec.trained_on, v2) == {}
    assert APART_MARK not in (ROOT / "LEADERBOARD.md").read_text(encoding="utf-8")


def test_on_quick_every_learned_baseline_is_apart_in_horizon_and_inner_steps():
    quick = get_suite("quick")
    for spec in baseline_specs(list(LEARNED)):
        apart = settings_apart(spec.trained_on, quick)
        assert apart == _reference_apart(_recorded(spec.name), quick), spec.name
        assert set(apart) == {"horizon", "inner_steps"}, spec.name


def test_a_graded_learned_baseline_keeps_the_record_and_the_board_marks_it(tmp_path):
    """The whole way: the controller and the Q-learning agent (weights trained at horizon 50, 10
    inner steps) graded on a suite of horizon 6 and 3 inner steps keep exactly what the envs built
    both ways differ in; their rows are marked and noted; a hand-designed baseline's is not."""
    from lrgym.leaderboard.references import load_references

    suite = tiny_suite("lbapart", families=("quadratic",), n_instances=1, seeds=(0,), horizon=6, inner_steps=3)
    with ResultStore(tmp_path / "r.sqlite") as store:
        outcomes = run_suite(baseline_specs(["controller", "qlearning", "fixed"]), suite, store=store,
                             references=load_references(suite, n_workers=1), n_workers=1)
        assert all(o.ok for o in outcomes), [o.entry.failure_reason for o in outcomes]
        entries = {o.entry.name: store.entry(o.entry.id) for o in outcomes}
        lb = build_leaderboard(store, suite, reps=20)
    for name in ("controller", "qlearning"):
        expected = _reference_apart(_recorded(name), suite)
        assert set(expected) == {"horizon", "inner_steps"}
        kept = read_apart_record(entries[name].env_spec[TRAINED_APART_KEY], suite.family_names)
        assert {k: (mine, dict(graded)) for k, (mine, graded) in kept.items()} == expected
    assert TRAINED_APART_KEY not in entries["fixed"].env_spec
    md = markdown(lb)
    names = {line.split("|")[2].strip() for line in md.splitlines() if line.startswith("| ") and "|" in line[2:]}
    assert {f"controller {APART_MARK}", f"qlearning {APART_MARK}", "fixed"} <= names
    assert "controller: horizon 50 (graded at 6); inner_steps 10 (graded at 3)" in md


def test_unreadable_weights_records_are_no_record_and_the_specs_still_build(tmp_path, monkeypatch):
    (tmp_path / "controller_mixed.npz").write_bytes(b"not an npz")
    (tmp_path / "dqn_mixed.zip").write_bytes(b"PK")
    (tmp_path / "dqn_mixed.json").write_text("{ not json")
    monkeypatch.setattr(registry, "WEIGHTS", tmp_path)
    assert registry.trained_on("controller") is None and registry.trained_on("dqn") is None
    assert registry.trained_on("ppo") is None  # no weights at all
    assert registry.trained_on("cosine") is None  # hand-designed
    assert [s.trained_on for s in baseline_specs(["controller", "dqn"])] == [None, None]
