"""The learned controller (lrgym.baselines.controller) and its training command (train_controller)."""

import dataclasses
import json
import re
from collections import OrderedDict

import numpy as np
import pytest

from lrgym.baselines.controller import INPUT_GROUPS, INPUT_NAMES, ControllerNet, ControllerPolicy, controller_inputs, input_mask
from lrgym.baselines.evaluation import evaluate
from lrgym.baselines.outputs import SHIPPED_WEIGHTS
from lrgym.baselines.train_controller import DEFAULT_CONFIG, ControllerConfig, main, run_batch, train
from lrgym.features import FEATURE_NAMES
from lrgym.info import FAMILY_NAMES

from learning_setup import HELD_OUT, KeepLR, best_constant_lr, env_kwargs, mean_final_log_loss


def _net(seed=0, **kw):
    net = ControllerNet(base_lr=(0.02, 0.01, 0.01, 0.1), max_step=0.5, **kw)
    net.theta = np.random.default_rng(seed).normal(0, 0.5, net.n_params)
    return net


def test_forward_pass_by_hand():
    net = _net(hidden=())
    layers, fam_bias, offset = net.unpack(net.theta)
    (w, b), = layers
    x = np.random.default_rng(1).normal(size=(3, len(INPUT_NAMES)))
    fam = np.array([0, 2, 3])
    expected = [0.5 * np.tanh(x[i] @ w[:, 0] + b[0] + fam_bias[fam[i]]) for i in range(3)]
    np.testing.assert_allclose(net.step_size(x, fam), expected, rtol=1e-12)
    np.testing.assert_allclose(net.start_log_lr(fam), np.log([0.02, 0.01, 0.1]) + offset[fam], rtol=1e-12)
    assert net.n_params == len(INPUT_NAMES) + 1 + 2 * len(FAMILY_NAMES)


def test_inputs_scaled_clipped_and_masked():
    obs = np.zeros((1, len(FEATURE_NAMES)), dtype=np.float32)
    obs[0, FEATURE_NAMES.index("log_train_loss_rel")] = -100.0
    obs[0, FEATURE_NAMES.index("grad_cos")] = 0.25
    x = controller_inputs(obs, np.array([0.0]), np.array([True]))[0]
    assert x[INPUT_NAMES.index("log_train_loss_rel")] == -3.0  # −100/10, clipped to ±3
    assert x[INPUT_NAMES.index("grad_cos")] == 0.25
    assert x[INPUT_NAMES.index("rejected")] == 1.0 and x[INPUT_NAMES.index("bias")] == 1.0
    m = input_mask(("gradient",))
    assert [n for n, v in zip(INPUT_NAMES, m) if v == 0] == list(INPUT_GROUPS["gradient"])
    with pytest.raises(ValueError, match="unknown input group.*valid choices"):
        input_mask(("colour",))


#: the controller's input → (the observation feature it reads, by name; its scaling), from the module
#: docstring's table, written out here as an independent reference
_READS = {
    "log_train_loss_rel": ("log_train_loss_rel", lambda v: v / 10.0),
    "log_val_loss_rel": ("log_val_loss_rel", lambda v: v / 10.0),
    "delta_log_train_loss": ("delta_log_train_loss", lambda v: np.tanh(10.0 * v)),
    "delta_log_val_loss": ("delta_log_val_loss", lambda v: np.tanh(10.0 * v)),
    "log_batch_loss_rel": ("log_batch_loss_rel", lambda v: v / 10.0),
    "log_val_train_ratio": ("log_val_train_ratio", lambda v: v / 3.0),
    "log_loss_cv": ("log_loss_cv", lambda v: v / 3.0),
    "log_grad_norm_rel": ("log_grad_norm_rel", lambda v: v / 5.0),
    "delta_log_grad_norm": ("delta_log_grad_norm", np.tanh),
    "grad_cos": ("grad_cos", lambda v: v),
    "progress": ("progress", lambda v: v),
}


def test_each_input_reads_its_feature_by_name():
    """Every input taken from the observation reads the feature of its name (its position looked
    up in ``FEATURE_NAMES``, not a number): a value put in that feature alone moves that input
    alone, scaled as the docstring's table says; ``log10_lr`` is read by no input (the LR enters as
    ln(η_t/η_0)). A feature read at a stale position (the observation reordered, or a feature
    inserted before it) fails here."""
    assert set(_READS) == set(INPUT_NAMES) - {"log_lr_rel", "rejected", "bias"}
    base = controller_inputs(np.zeros((1, len(FEATURE_NAMES))), np.array([0.0]), np.array([False]))[0]
    for column, feature in enumerate(FEATURE_NAMES):
        obs = np.zeros((1, len(FEATURE_NAMES)))
        obs[0, column] = 0.07
        moved = controller_inputs(obs, np.array([0.0]), np.array([False]))[0] != base
        readers = [name for name, (read, _) in _READS.items() if read == feature]
        assert [n for n, m in zip(INPUT_NAMES, moved) if m] == readers, feature
        x = controller_inputs(obs, np.array([0.0]), np.array([False]))[0]
        for name in readers:  # tanh is NumPy's dispatched math: close, not to the bit
            assert x[INPUT_NAMES.index(name)] == pytest.approx(_READS[name][1](0.07), rel=1e-12), name


@pytest.mark.parametrize("width", [len(FEATURE_NAMES) - 1, len(FEATURE_NAMES) + 1])
def test_an_observation_without_the_features_is_refused_by_name(width):
    """An observation of another width than lrgym's features (one feature short: an older env; one
    more: another env's, or a wrapper's extra column) has no feature at the positions read: a
    ``ValueError`` naming the shape and the features, not an ``IndexError`` (one short) or inputs
    read from whatever sits there (one more)."""
    with pytest.raises(ValueError, match=rf"observations of shape \(2, {width}\); valid: \(N, {len(FEATURE_NAMES)}\), "
                                         rf"the features {', '.join(FEATURE_NAMES)} of lrgym.features"):
        controller_inputs(np.zeros((2, width)), np.zeros(2), np.zeros(2, dtype=bool))


def test_save_load_round_trip(tmp_path):
    net = _net(hidden=(4,), rejection_threshold=0.1)
    path = net.save(tmp_path / "c.npz", meta={"seed": 3})
    back = ControllerNet.load(path)
    np.testing.assert_array_equal(back.theta, net.theta)
    assert (back.hidden, back.max_step, back.base_lr, back.rejection_threshold) == (
        net.hidden, net.max_step, net.base_lr, net.rejection_threshold)
    assert ControllerPolicy(back).env_kwargs()["rejection_threshold"] == 0.1


@pytest.mark.parametrize("families", [FAMILY_NAMES[::-1], FAMILY_NAMES + ("logreg",)])
def test_weights_of_another_family_table_are_refused_by_name(tmp_path, families):
    """The header's family table must be this code's (``info["family"]`` indexes the per-family
    biases): reordered families loaded silently onto the wrong families, one more family failed
    on theta's length without saying why."""
    net = _net(hidden=())
    path = net.save(tmp_path / "c.npz")
    with np.load(path) as data:
        header = json.loads(str(data["header"]))
    header["families"] = list(families)
    n = len(INPUT_NAMES) + 1 + 2 * len(families)
    np.savez(path, theta=np.zeros(n), header=np.array(json.dumps(header)))
    with pytest.raises(ValueError, match=re.escape(f"weights for families {list(families)}, this code has {list(FAMILY_NAMES)}")):
        ControllerNet.load(path)
    assert ControllerNet.load(SHIPPED_WEIGHTS / "controller_mixed.npz").base_lr  # the shipped weights load


@pytest.mark.parametrize("family", ["linreg", "quadratic"])
def test_single_env_policy_matches_the_batched_trainer(family):
    """The policy the leaderboard runs (one env, one episode) makes the LRs the trainer's batched
    rollout made for the same weights, instance and seed (same code, up to BLAS rounding)."""
    net = _net(seed=2)
    net.theta *= 0.3
    res = run_batch(net, family, [5, 6], [11, 12], record=True)
    trajs = evaluate(ControllerPolicy(net), {"family": family}, instance_set="train", instances=[5], seeds=[11])
    trajs += evaluate(ControllerPolicy(net), {"family": family}, instance_set="train", instances=[6], seeds=[12])
    for j, t in enumerate(trajs):
        np.testing.assert_allclose(t.lrs, res["lrs"][0, j], rtol=1e-5)
        np.testing.assert_allclose(t.final_loss, res["final"][0, j], rtol=1e-4)
    assert len({round(v, 6) for v in trajs[0].lrs}) > 5  # the LR really moves


@pytest.mark.parametrize("keyword, value", [("reward", "final"), ("reward_alphas", (0.5, 2.0)), ("lr_init", 1e-5),
                                            ("factors", (0.5, 2.0)), ("instances", (0, 1)),
                                            ("instance_order", "cycle")])
def test_env_options_training_cannot_feel_change_nothing(keyword, value):
    """What ``env_options`` refuses (NO_EFFECT) is what leaves the trainer's episodes and its
    reference scans the same to the bit: the config took them, and a run trained as without them."""
    from lrgym.baselines.train_controller import NO_EFFECT

    assert keyword in NO_EFFECT
    net = _net(seed=2)
    net.theta *= 0.3
    log_lrs = np.log([1e-3, 1e-3, 3.0, 3.0])  # 3 diverges
    for with_it in (False, True):
        options = {keyword: value} if with_it else {}
        ran = run_batch(net, "quadratic", [3, 4], [1003, 1004], env_options=options, tasks=OrderedDict())
        scan = run_batch(None, "quadratic", [3, 4] * 2, [1003, 1004] * 2, const_log_lr=log_lrs, env_options=options,
                         tasks=OrderedDict())
        if not with_it:
            before = ran, scan
    for old, new in zip(before, (ran, scan)):
        for k in old:
            assert old[k].tobytes() == new[k].tobytes(), k
    assert before[1]["diverged"].any() and not before[1]["diverged"].all()


def test_a_constant_lr_scan_in_chunks_gives_the_same_bits():
    """The reference scan runs its envs in chunks (the shipped recipe's first linreg scan held
    2,176 envs at once: 4.2 GB); every run is independent of the others, so the results are the
    same to the bit as in one batch, diverged runs included."""
    inst, sd = [3, 4, 5] * 3, [1003, 1004, 1005] * 3
    log_lrs = np.repeat(np.log(10.0) * np.array([-2.0, -0.5, 1.0]), 3)  # 10 diverges
    whole = run_batch(None, "quadratic", inst, sd, const_log_lr=log_lrs, chunk=100)
    chunked = run_batch(None, "quadratic", inst, sd, const_log_lr=log_lrs, chunk=2)
    assert whole["diverged"].any() and not whole["diverged"].all()
    for k in ("initial", "final", "diverged"):
        assert whole[k].shape == chunked[k].shape == (9,)
        assert whole[k].tobytes() == chunked[k].tobytes(), k


def test_the_reference_scan_holds_at_most_a_chunk_of_envs_at_once(monkeypatch):
    import gc
    import weakref

    import lrgym.baselines.train_controller as tc
    import lrgym.baselines.train_controller_episodes as episodes
    import lrgym.env

    alive, most = weakref.WeakSet(), [0]

    class Counted(lrgym.env.LRControlEnv):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            gc.collect()  # the envs of a finished chunk are garbage
            alive.add(self)
            most[0] = max(most[0], len(alive))

    monkeypatch.setattr(lrgym.env, "LRControlEnv", Counted)
    cfg = ControllerConfig(families=("quadratic",), ref_grid=(-3.0, 0.0, 1.0))
    refs = {}
    for chunk in (3, 1000):
        monkeypatch.setattr(episodes, "SCAN_CHUNK", chunk)  # where run_batch reads it
        most[0] = 0
        refs[chunk] = tc.grid_references(cfg, "quadratic", [3, 4, 5], [1003, 1004, 1005])
        assert most[0] == min(chunk, 12)  # 3 instances × 4 grid LRs
    for k in refs[3]:
        assert refs[3][k].tobytes() == refs[1000][k].tobytes(), k


TINY = {"families": ["quadratic", "linreg"], "generations": 1, "pairs": 2, "pool": {"quadratic": 2, "linreg": 2},
        "batch": {"quadratic": 1, "linreg": 1}, "holdout": 1, "holdout_every": 1, "ref_grid": [-3, 0, 1]}


def test_command_smoke_writes_to_runs_not_to_shipped_weights(tmp_path, monkeypatch):
    shipped = SHIPPED_WEIGHTS / "controller_mixed.npz"
    before = shipped.read_bytes() if shipped.exists() else None
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LRGYM_RUNS", raising=False)
    assert main(["--config", str(cfg), "--seed", "1"]) == 0
    out = tmp_path / "runs" / "controller_mixed.npz"
    side = json.loads((tmp_path / "runs" / "controller_mixed.json").read_text())
    assert side["seed"] == 1 and side["config"]["generations"] == 1 and len(side["history"]) == 2
    # the code it ran: the checkout's commit (None outside git) and the code's hash
    assert {"commit", "code"} <= set(side)
    from lrgym.baselines.code_version import git_commit
    from lrgym.baselines.train_controller import references_version

    assert side["commit"] == git_commit() and side["code"] == references_version()
    assert side["code"].startswith("code ")
    assert ControllerPolicy.load(out).net.n_params == ControllerNet(family_progress=True).n_params  # the shipped shape
    assert (shipped.read_bytes() if shipped.exists() else None) == before


def test_command_writes_a_submission_file_the_grader_takes(tmp_path, monkeypatch, capsys):
    """A run wrote its weights and their record only, and said nothing of how to grade them: the
    grader refuses an ``.npz`` and copies only ``.py`` files into its sandbox, where a policy
    loading ``runs/controller_mixed.npz`` by its path fails. A run now writes
    ``runs/controller_mixed.py`` (the weights inline), whose class acts as the weights do and whose
    entry name the grader reads from the source, and prints the command that grades it."""
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps({**TINY, "env_options": {"horizon": 20}}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LRGYM_RUNS", raising=False)
    assert main(["--config", str(cfg), "--seed", "1"]) == 0
    printed = capsys.readouterr().err
    weights, submission = tmp_path / "runs" / "controller_mixed.npz", tmp_path / "runs" / "controller_mixed.py"
    assert "lrgym leaderboard submit runs/controller_mixed.py:TrainedController --suite val" in printed
    from lrgym.leaderboard.submission_files import declared_name

    assert declared_name(f"{submission}:TrainedController") == "controller_mixed"
    from lrgym.leaderboard.submission_files import declared_trained_on

    assert declared_trained_on(submission.read_bytes()) == {"horizon": 20}  # its env_options, which submit compares
    namespace = {}
    exec(compile(submission.read_text(), str(submission), "exec"), namespace)
    submitted, loaded = namespace["TrainedController"](family="quadratic"), ControllerPolicy.load(weights)
    np.testing.assert_array_equal(submitted.net.theta, loaded.net.theta)
    assert submitted.env_kwargs() == loaded.env_kwargs() == {"optimizer": "sgd", "action_mode": "log_lr",
                                                             "rejection_threshold": 0.1}
    ran = [evaluate(p, {"family": "quadratic", **p.env_options}, instance_set="train", instances=[3], seeds=[1])[0]
           for p in (submitted, loaded)]
    assert ran[0].lrs == ran[1].lrs and ran[0].final_loss == ran[1].final_loss


def test_a_run_says_which_generation_it_kept(tmp_path, monkeypatch, capsys):
    """A run keeps the generation best on the holdout, which for a short run is often generation 0,
    the start (every parameter 0: the base LRs, unchanged); it wrote those weights without a word.
    It says the generation it kept (the sidecar's), and that generation 0 is the untrained start."""
    from lrgym.baselines.train_controller import kept_generation

    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps({**TINY, "generations": 2}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LRGYM_RUNS", raising=False)
    assert main(["--config", str(cfg), "--seed", "1"]) == 0
    best = json.loads((tmp_path / "runs" / "controller_mixed.json").read_text())["best_generation"]
    assert f"kept generation {best} of 2 (the best on the holdout)" in capsys.readouterr().err
    if best == 0:
        assert not ControllerNet.load(tmp_path / "runs" / "controller_mixed.npz").theta.any()
    assert "untrained" in kept_generation(0, 5) and "untrained" not in kept_generation(3, 5)


def test_the_commands_stdout_is_the_line_naming_the_files_it_wrote(tmp_path, monkeypatch, capsys):
    """``train_controller ... > out.txt``: stdout is its result, the one ``wrote ...`` line naming the
    files written; its progress (the references, each generation), the generation it kept and
    the commands that grade the result are on stderr. They were all on stdout."""
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LRGYM_RUNS", raising=False)
    assert main(["--config", str(cfg), "--seed", "1", "--out", "runs/mine.npz"]) == 0
    out, err = capsys.readouterr()
    assert re.fullmatch(r"wrote runs/mine\.npz, runs/mine\.py and runs/mine\.json \(\d+ s wall, \d+ CPU-s\)\n", out), out
    for said in ("train_controller: seed 1", "references quadratic", "gen    1  holdout", "kept generation",
                 "grade it: lrgym leaderboard submit runs/mine.py:TrainedController"):
        assert said in err, said


def test_a_runs_submission_file_holds_its_ablations(tmp_path, monkeypatch, capsys):
    """The ablation classes (``controller_ablation``) load the shipped weights only: a variant's
    ablation needed code of one's own. A run's submission file holds them for its own weights
    (one input group held at 0, or random parameters as ``RandomWeights`` draws them), each
    entry named after the run, and the run prints how to grade one."""
    from lrgym.baselines import controller_ablation
    from lrgym.leaderboard.submission_files import declared_name

    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LRGYM_RUNS", raising=False)
    assert main(["--config", str(cfg), "--seed", "1", "--out", "runs/mine.npz"]) == 0
    assert "lrgym leaderboard submit runs/mine.py:NoGradient --suite val" in capsys.readouterr().err
    submission = tmp_path / "runs" / "mine.py"
    namespace = {}
    exec(compile(submission.read_text(), str(submission), "exec"), namespace)
    trained = ControllerNet.load(tmp_path / "runs" / "mine.npz")
    assert len(controller_ablation.ABLATIONS) == len(INPUT_GROUPS) + 1
    for shipped_class in controller_ablation.ABLATIONS.values():
        cls = shipped_class.__name__
        policy = namespace[cls](family="quadratic")
        assert declared_name(f"{submission}:{cls}") == policy.name
        if cls == "RandomWeights":
            assert policy.name == "mine-random"
            scale = float(np.std(trained.theta)) or 0.1
            np.testing.assert_array_equal(policy.net.theta,
                                          np.random.default_rng(0).normal(0.0, scale, trained.n_params))
        else:
            group = shipped_class().net.mask[0]  # the shipped class's group, by its mask
            assert policy.name == f"mine-no-{group}" and policy.net.mask == (group,)
            np.testing.assert_array_equal(policy.net.theta, trained.theta)
    shipped = ControllerNet.load(SHIPPED_WEIGHTS / "controller_mixed.npz")  # the shipped ablation draws as before
    np.testing.assert_array_equal(controller_ablation.RandomWeights().net.theta,
                                  np.random.default_rng(0).normal(0.0, float(np.std(shipped.theta)), shipped.n_params))
    assert controller_ablation.ablation_name("a" * 64, "-no-lr_time") == "a" * 53 + "-no-lr_time"


def test_a_shipped_run_writes_no_submission_file(tmp_path, monkeypatch, capsys):
    """The shipped weights are the ``controller`` baseline: ``--ship`` adds no ``.py`` beside them."""
    import lrgym.baselines.train_controller as tc

    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    monkeypatch.setattr(tc, "SHIPPED_WEIGHTS", tmp_path / "weights")
    monkeypatch.chdir(tmp_path)
    assert main(["--config", str(cfg), "--seed", "1", "--ship"]) == 0
    assert sorted(p.name for p in (tmp_path / "weights").iterdir()) == ["controller_mixed.json", "controller_mixed.npz"]
    assert "grade it" not in capsys.readouterr().err


@pytest.mark.parametrize("out, name", [("runs/controller_mixed.npz", "controller_mixed"), ("runs/c0.5", "c0.5"),
                                       ("runs/my run(1).npz", "my run_1_"), ("runs/.x", "controller-.x"),
                                       ("runs/été.npz", "controller-_t_"), (f"runs/{'a' * 80}.npz", "a" * 64)])
def test_the_submission_is_named_after_the_weights_file_as_an_entry_name_may_be(out, name):
    from pathlib import Path

    from lrgym.baselines.train_controller import submission_name
    from lrgym.leaderboard.text import check_entry_name

    assert submission_name(Path(out)) == name == check_entry_name(name)


def test_weights_trained_without_an_input_group_keep_it_masked(tmp_path, monkeypatch):
    """A config's ``mask`` (a retrained ablation: ``{"mask": ["gradient"]}``) held those inputs at
    0 in training only: the weights file did not record it, so the weights, their submission file
    and ``make_baseline("controller", path=...)`` ran the gradient inputs through weights ES had
    moved at random (no fitness depends on them). The file keeps the mask; the policies it loads
    set the LRs the trainer's masked net sets."""
    cfg = tmp_path / "masked.json"
    cfg.write_text(json.dumps({**TINY, "mask": ["gradient"]}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LRGYM_RUNS", raising=False)
    assert main(["--config", str(cfg), "--seed", "1"]) == 0
    weights, submission = tmp_path / "runs" / "controller_mixed.npz", tmp_path / "runs" / "controller_mixed.py"
    assert ControllerNet.load(weights).mask == ("gradient",)
    namespace = {}
    exec(compile(submission.read_text(), str(submission), "exec"), namespace)
    assert namespace["TrainedController"](family="quadratic").net.mask == ("gradient",)
    # what the mask changes: weights on the gradient inputs (as ES leaves them) act only unmasked
    trained = _net(seed=2, mask=("gradient",))
    trained.theta *= 0.3
    gradient = [INPUT_NAMES.index(n) for n in INPUT_GROUPS["gradient"]]
    assert np.all(trained.theta[gradient] != 0)
    res = run_batch(trained, "quadratic", [5], [11], record=True)
    back = ControllerPolicy.load(trained.save(tmp_path / "masked.npz"))
    assert back.net.mask == ("gradient",)
    t, = evaluate(back, {"family": "quadratic"}, instance_set="train", instances=[5], seeds=[11])
    np.testing.assert_allclose(t.lrs, res["lrs"][0, 0], rtol=1e-5)
    plain = _net(seed=2)
    plain.theta = trained.theta.copy()
    unmasked, = evaluate(ControllerPolicy(plain), {"family": "quadratic"}, instance_set="train", instances=[5],
                         seeds=[11])
    assert unmasked.lrs != t.lrs  # the check above tells them apart
    assert ControllerNet.load(weights, mask=("noise",)).mask == ("gradient", "noise")  # an ablation adds to it
    assert ControllerNet.load(SHIPPED_WEIGHTS / "controller_mixed.npz").mask == ()  # a file without the field


def test_command_with_a_dotted_out_keeps_the_name_for_its_sidecar(tmp_path, monkeypatch):
    """``--out runs/c0.5`` wrote its record to ``runs/c0.json`` (``Path.with_suffix``), where the
    record of ``--out runs/c0.7`` went too; the record is ``runs/c0.5.json`` beside the weights
    ``runs/c0.5.npz`` (.npz added, as qlearning adds it)."""
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    monkeypatch.chdir(tmp_path)
    assert main(["--config", str(cfg), "--seed", "1", "--out", "runs/c0.5"]) == 0
    assert (tmp_path / "runs" / "c0.5.npz").is_file() and json.loads((tmp_path / "runs" / "c0.5.json").read_text())["seed"] == 1
    assert not (tmp_path / "runs" / "c0.json").exists()
    assert main(["--config", str(cfg), "--seed", "1", "--out", "runs/d.npz"]) == 0
    assert (tmp_path / "runs" / "d.npz").is_file() and (tmp_path / "runs" / "d.json").is_file()


def test_reference_cache_is_checked_and_keyed_by_the_code(tmp_path, monkeypatch):
    """The trainer's reference cache was keyed by family, instances, seeds, grid and env options
    only, and read unchecked: an edited file (a halved reference) trained against wrong
    references, silently. Now its file holds a checksum (a mismatch recomputes it, with a
    warning) and its key holds the code's hash (other code: another file, computed afresh)."""
    import lrgym.baselines.node_check as node_check
    import lrgym.baselines.train_controller as tc
    import lrgym.baselines.train_controller_episodes as episodes

    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    cfg = ControllerConfig(families=("quadratic",), pool={"quadratic": 2}, batch={"quadratic": 1}, scan={"quadratic": 1}, holdout=1,
                           ref_grid=(-3.0, 0.0, 1.0))
    logs = []
    first = tc.episode_set(cfg, "quadratic", 0, 2, log=logs.append)
    cache, = (tmp_path / "controller_references").glob("*.json")
    data = json.loads(cache.read_text())
    data["refs"]["reference"] = [v / 2 for v in data["refs"]["reference"]]
    cache.write_text(json.dumps(data))
    again = tc.episode_set(cfg, "quadratic", 0, 2, log=logs.append)
    np.testing.assert_array_equal(again.reference, first.reference)
    assert [line for line in logs if "warning" in line] == [
        f"  warning: the cached training references {cache} are not used: its values do not match their "
        "checksum (edited or damaged); recomputing them"]
    monkeypatch.setattr(episodes, "grid_references", lambda *a, **k: pytest.fail("a whole cache file was recomputed"))
    np.testing.assert_array_equal(tc.episode_set(cfg, "quadratic", 0, 2, log=logs.append).reference, first.reference)
    monkeypatch.undo()
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    monkeypatch.setattr(node_check, "code_hash", lambda *a, **k: "0" * 16)  # other code
    tc.episode_set(cfg, "quadratic", 0, 2, log=logs.append)
    assert len(list((tmp_path / "controller_references").glob("*.json"))) == 2
    assert len([line for line in logs if "warning" in line]) == 1
    cache.write_text(cache.read_text()[:40])  # a truncated file
    monkeypatch.undo()
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    np.testing.assert_array_equal(tc.episode_set(cfg, "quadratic", 0, 2, log=logs.append).reference, first.reference)
    assert "are not used: it cannot be read (JSONDecodeError" in logs[-2]


def test_unknown_config_key_is_named(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"generation": 3}))
    with pytest.raises(ValueError, match="generation.*valid"):
        ControllerConfig.from_json(p)


def test_the_defaults_are_the_shipped_recipe():
    """One recipe: ``ControllerConfig()`` (a config's missing fields), ``baselines/controller.json``
    (the default ``--config``) and the config recorded beside the shipped weights agree (the
    defaults were an older recipe: 23 parameters, σ 0.1, ...)."""
    shipped = json.loads((SHIPPED_WEIGHTS / "controller_mixed.json").read_text())["config"]
    assert ControllerConfig.from_json(DEFAULT_CONFIG) == ControllerConfig()
    assert json.loads(json.dumps(dataclasses.asdict(ControllerConfig()))) == shipped
    assert ControllerNet(family_progress=ControllerConfig().family_progress).n_params == 27  # README's count


def test_a_partial_config_changes_only_what_it_names(tmp_path):
    """``{"generations": 1}`` is the shipped recipe with one generation, and a partial per-family
    dict is merged over the shipped one family by family (``{"pool": {"linreg": 4}}`` replaced the
    whole pool: KeyError 'quadratic' once training started)."""
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"generations": 1}))
    assert ControllerConfig.from_json(p) == dataclasses.replace(ControllerConfig.from_json(DEFAULT_CONFIG), generations=1)
    p.write_text(json.dumps({"pool": {"linreg": 16}, "batch": {"mlp": 1}, "scan": {"quadratic": 1}}))
    cfg = ControllerConfig.from_json(p)
    assert cfg.pool == {"linreg": 16, "quadratic": 48, "mlp": 8, "recsys": 16}
    assert cfg.batch == {"linreg": 8, "quadratic": 12, "mlp": 1, "recsys": 4}
    assert cfg.scan == {"linreg": 4, "quadratic": 1}


def test_a_partial_base_lr_takes_the_other_families_from_the_tuned_values():
    from lrgym.baselines.registry import tuned_values

    got = ControllerConfig(base_lr={"recsys": 0.5}).resolved_base_lr()
    assert got == (*(float(tuned_values("fixed", f)["lr"]) for f in FAMILY_NAMES[:3]), 0.5)
    assert FAMILY_NAMES[3] == "recsys"


@pytest.mark.slow
def test_training_command_learns_to_raise_a_too_small_lr():
    """The training recipe, shorter and on the learning test's quadratics (best constant LR known in
    closed form, episodes start 100× below it), beats keeping the LR on held-out instances."""
    kwargs = env_kwargs()
    lr0 = kwargs.pop("lr_init")
    options = {k: kwargs[k] for k in ("family_options", "horizon", "inner_steps")}
    keep = evaluate(KeepLR(), {**kwargs, "lr_init": lr0}, instance_set="val", instances=HELD_OUT)
    # the first recipe's settings (the defaults before they became the shipped recipe), no scan
    cfg = ControllerConfig(families=("quadratic",), pool={"quadratic": 16}, batch={"quadratic": 8}, holdout=4,
                           holdout_every=5, generations=15, pairs=6, base_lr={f: lr0 for f in FAMILY_NAMES},
                           env_options=options, sigma=0.1, step_size=0.05, div_penalty=1.0, max_step=0.5,
                           family_progress=False, rejection_threshold=None, scan={"quadratic": 1})
    net, _ = train(cfg, seed=0, log=lambda *a: None)
    trained = evaluate(ControllerPolicy(net), kwargs, instance_set="val", instances=HELD_OUT)
    assert not any(t.diverged for t in trained)
    assert mean_final_log_loss(trained) < mean_final_log_loss(keep) - 2.0
    assert np.median([t.lrs[-1] for t in trained]) > 10 * lr0
    assert best_constant_lr() > lr0


def test_the_suite_train_controller_names_for_grading_is_at_the_settings_its_recipe_trains_at():
    """The printed "grade it" command names ``--suite val``: the default recipe (baselines/controller.json's
    env options, none) trains at the env's defaults, which val grades at, so its entry carries no
    trained-apart mark there; ``quick`` (horizon 12, 5 inner steps) would mark it †."""
    from lrgym.baselines.train_controller import ControllerConfig
    from lrgym.leaderboard.trained_apart import settings_apart
    from lrgym.leaderboard.suite import get_suite

    trained_on = dict(ControllerConfig().env_options)
    assert settings_apart(trained_on, get_suite("val")) == {}
    assert set(settings_apart(trained_on, get_suite("quick"))) == {"horizon", "inner_steps"}
