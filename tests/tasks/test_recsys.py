"""Recommender family: gradients, lock-step against a slow NumPy reference (lazy sparse
updates), learning, divergence, determinism, the MovieLens loader and the family's rules."""

from __future__ import annotations

import re

import numpy as np
import pytest

from lrgym import rng as lrng
from lrgym.optim import OptimizerConfig
from lrgym.tasks import make_family
from lrgym.tasks.base import (
    N_STATS,
    S_BATCH_LOSS,
    S_DIVERGED,
    S_GRAD_COS,
    S_GRAD_DOT,
    S_GRAD_NORM,
    S_LOSS_VAR,
    S_TRAIN_LOSS,
    S_UPDATES,
    S_VAL_LOSS,
    S_VAL_METRIC,
)
from lrgym.tasks.recsys import (
    POSITIVE_RATING,
    RecsysFamily,
    RecsysSpec,
    RecsysTask,
    load_ratings,
    positives_from_ratings,
)
from lrgym.tasks.recsys.ratings import MAX_LINE_CHARS, MAX_RATINGS_BYTES

HEADER = "userId,movieId,rating,timestamp\n"
SMALL = dict(n_users=60, n_items=40, rank=5, true_rank=3, interactions=8.0, batch_size=8, n_negatives=3)


def small_task(**kw) -> RecsysTask:
    fam = RecsysFamily(**{**SMALL, **kw})
    return fam.build(fam.sample(1))


def run_kernel(task, state, lr, n, cfg, cap=1e12):
    stats = np.zeros(N_STATS)
    task.run(state, lr, n, cfg.code, cfg.hyper(), cap, stats)
    return stats


# ---- a slow, obvious reference of the same math ---------------------------------------------


def ref_scores(task, p, u, i):
    U, V = task.tables(p)
    r = task.spec.rank
    return np.sum(U[u, :r] * V[i, :r], axis=1) + U[u, r] + V[i, r]


def ref_loss_grad(task, p, u, i, y):
    s = ref_scores(task, p, u, i)
    losses = np.logaddexp(0.0, (1.0 - 2.0 * y) * s)
    d = 1.0 / (1.0 + np.exp(-s)) - y  # gradient of the summed loss (GRADIENT_SCALE = 1)
    grad = np.zeros_like(p)
    gU, gV = task.tables(grad)
    U, V = task.tables(p)
    r = task.spec.rank
    np.add.at(gU, (u, slice(0, r)), d[:, None] * V[i, :r])
    np.add.at(gV, (i, slice(0, r)), d[:, None] * U[u, :r])
    np.add.at(gU[:, r], u, d)
    np.add.at(gV[:, r], i, d)
    return losses, grad


def ref_auc(scores, group):
    s = scores.reshape(-1, group)
    return np.mean((s[:, :1] > s[:, 1:]) + 0.5 * (s[:, :1] == s[:, 1:]))


class RefRun:
    """Mirrors RecsysTask.run with dense NumPy arrays and an explicit touched-coordinate mask."""

    def __init__(self, task, state):
        self.task, self.p = task, state.params.copy()
        self.m, self.v = np.zeros_like(self.p), np.zeros_like(self.p)
        self.word, self.t, self.prev = state.rng.copy(), 0, np.zeros_like(self.p)

    def draw(self):
        task = self.task
        k = task.spec.n_negatives
        u, i, y = [], [], []
        for _ in range(task.spec.batch_size):
            p = lrng.randint(self.word, len(task.pos_u))
            u += [task.pos_u[p]] * (1 + k)
            i.append(task.pos_i[p])
            y.append(1.0)
            for _ in range(k):
                i.append(lrng.randint(self.word, task.n_items))
                y.append(0.0)
        return np.array(u), np.array(i), np.array(y)

    def touched(self, u, i):
        mask = np.zeros(len(self.p), dtype=bool)
        mU, mV = self.task.tables(mask)
        mU[np.unique(u)] = True
        mV[np.unique(i)] = True
        return mask

    def update(self, g, mask, lr, cfg):
        p, seg = self.p, self.task.segments
        g = np.where(mask, g, 0.0)
        if cfg.clip_norm is not None:  # clip the loss gradient first (torch's clip_grad_norm_)
            g *= min(1.0, cfg.clip_norm / (np.linalg.norm(g) + 1e-6))
        g = np.where(mask, g + cfg.weight_decay * p, 0.0)
        if cfg.normalize == "global":
            n = np.linalg.norm(g)
            if n > 0:
                g /= n
        if cfg.normalize == "layerwise":
            for lo, hi in zip(seg[:-1], seg[1:]):
                gn = np.linalg.norm(g[lo:hi])
                if gn > 0:
                    pn = np.linalg.norm(p[lo:hi])  # the whole table
                    g[lo:hi] *= (pn if pn > 0 else 1.0) / gn
        t, eps, m, v = self.t, cfg.hyper()[3], self.m, self.v
        w = mask
        if cfg.name == "sgd":
            p[w] -= lr * g[w]
        elif cfg.name in ("momentum", "nesterov"):
            m[w] = cfg.momentum * m[w] + g[w]
            p[w] -= lr * (m[w] if cfg.name == "momentum" else g[w] + cfg.momentum * m[w])
        elif cfg.name == "adam":
            m[w] = cfg.beta1 * m[w] + (1 - cfg.beta1) * g[w]
            v[w] = cfg.beta2 * v[w] + (1 - cfg.beta2) * g[w] ** 2
            p[w] -= lr * (m[w] / (1 - cfg.beta1**t)) / (np.sqrt(v[w] / (1 - cfg.beta2**t)) + eps)
        elif cfg.name == "rmsprop":
            v[w] = cfg.alpha * v[w] + (1 - cfg.alpha) * g[w] ** 2
            p[w] -= lr * g[w] / (np.sqrt(v[w]) + eps)
        else:
            v[w] += g[w] ** 2
            p[w] -= lr * g[w] / (np.sqrt(v[w]) + eps)

    def run(self, lr, n_updates, cfg):
        task = self.task
        batch, var, norms, dots, coss = [], [], [], [], []
        for _ in range(n_updates):
            u, i, y = self.draw()
            losses, g = ref_loss_grad(task, self.p, u, i, y)
            batch.append(losses.mean())
            var.append(losses.var())
            norms.append(np.linalg.norm(g))
            if self.t > 0:
                dots.append(g @ self.prev)
                coss.append(dots[-1] / (norms[-1] * np.linalg.norm(self.prev)))
            self.prev = g.copy()
            self.t += 1
            self.update(g, self.touched(u, i), lr, cfg)
        train, _ = ref_loss_grad(task, self.p, task.ev_u, task.ev_i, task.ev_y)
        val, _ = ref_loss_grad(task, self.p, task.va_u, task.va_i, task.va_y)
        return {
            S_TRAIN_LOSS: train.mean(),
            S_VAL_LOSS: val.mean(),
            S_VAL_METRIC: ref_auc(ref_scores(task, self.p, task.va_u, task.va_i), task.group),
            S_BATCH_LOSS: np.mean(batch),
            S_LOSS_VAR: np.mean(var),
            S_GRAD_NORM: np.mean(norms),
            S_GRAD_DOT: np.mean(dots) if dots else 0.0,
            S_GRAD_COS: np.mean(coss) if coss else 0.0,
        }


def test_initial_parameters_are_numpys_normals():
    """``init_params`` draws its normals compiled (:mod:`lrgym.tasks.pcg64`): the parameters are
    those of ``rng.normal(0, init_scale, ·)`` for the user rows, then the item rows (bias column
    0), and the generator ends where NumPy's would, on instances of several sizes and ranks."""
    family = make_family("recsys")
    tasks = [family.build(family.sample(s)) for s in (3, 7, 11)]
    tasks.append(small_task())
    for task in tasks + tasks[::-1]:
        r = task.spec.rank
        got_rng, want_rng = np.random.default_rng(5), np.random.default_rng(5)
        got = task.init_params(got_rng)
        want = np.zeros((task.n_users + task.n_items, r + 1))
        want[: task.n_users, :r] = want_rng.normal(0.0, task.spec.init_scale, (task.n_users, r))
        want[task.n_users :, :r] = want_rng.normal(0.0, task.spec.init_scale, (task.n_items, r))
        np.testing.assert_array_equal(got, want.reshape(-1))
        assert got_rng.bit_generator.state == want_rng.bit_generator.state


# ---- gradients ------------------------------------------------------------------------------


def test_gradient_matches_central_differences():
    task = small_task()
    p = task.init_params(np.random.default_rng(0))
    p[task.v_off - 1] = 0.3  # non-zero biases too
    rng = np.random.default_rng(1)
    u = rng.integers(0, 6, size=25)  # few users and items: rows repeat within the batch
    i = rng.integers(0, 5, size=25)
    y = (rng.uniform(size=25) < 0.4).astype(float)
    loss, g = task.loss_and_grad(p, u, i, y)
    ref_losses, ref_g = ref_loss_grad(task, p, u, i, y)
    assert loss == pytest.approx(ref_losses.sum(), rel=1e-13)
    np.testing.assert_allclose(g, ref_g, rtol=1e-12, atol=1e-16)
    h = 1e-6
    nz = np.flatnonzero(np.abs(g) > 0)
    U, V = task.tables(np.arange(task.n_params))
    coords = np.concatenate([U[:6].ravel(), V[:5].ravel()])  # every coordinate the triples touch
    assert set(nz) <= set(coords)
    for c in coords:
        e = np.zeros_like(p)
        e[c] = h
        fd = (task.loss_and_grad(p + e, u, i, y)[0] - task.loss_and_grad(p - e, u, i, y)[0]) / (2 * h)
        assert fd == pytest.approx(g[c], rel=1e-6, abs=1e-10)


# ---- lock-step against the NumPy reference --------------------------------------------------

CASES = [
    OptimizerConfig("sgd"),
    OptimizerConfig("sgd", clip_norm=0.05),
    OptimizerConfig("momentum", weight_decay=1e-2),
    OptimizerConfig("nesterov", normalize="global"),
    OptimizerConfig("adam"),
    OptimizerConfig("adam", clip_norm=0.05, weight_decay=1e-3),
    OptimizerConfig("rmsprop", normalize="layerwise"),
    OptimizerConfig("adagrad"),
]


@pytest.mark.parametrize("cfg", CASES, ids=lambda c: f"{c.name}-clip{c.clip_norm}-wd{c.weight_decay}-{c.normalize}")
def test_kernel_matches_numpy_reference_in_lockstep(cfg):
    task = small_task()
    state = task.new_state(np.random.default_rng(3))
    ref = RefRun(task, state)
    lr = {"sgd": 0.15, "momentum": 0.03, "nesterov": 0.05}.get(cfg.name, 0.05)
    for _ in range(3):
        stats = run_kernel(task, state, lr, 5, cfg)
        expect = ref.run(lr, 5, cfg)
        np.testing.assert_allclose(state.params, ref.p, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(state.slots[0], ref.m, rtol=1e-10, atol=1e-14)
        for k, v in expect.items():
            assert stats[k] == pytest.approx(v, rel=1e-10, abs=1e-14), k
        assert stats[S_DIVERGED] == 0 and stats[S_UPDATES] == 5
    assert not np.array_equal(state.params, task.new_state(np.random.default_rng(3)).params)


def test_clip_threshold_in_lockstep_cases_is_active():
    task = small_task()
    state = task.new_state(np.random.default_rng(3))
    stats = run_kernel(task, state, 1.0, 5, OptimizerConfig("sgd"))
    assert stats[S_GRAD_NORM] > 0.05


def test_untouched_rows_and_slots_do_not_change():
    """Lazy semantics: with Adam and weight decay only the minibatch's rows move."""
    task = small_task(batch_size=2, n_negatives=1)
    state = task.new_state(np.random.default_rng(4))
    run_kernel(task, state, 0.01, 1, OptimizerConfig("adam", weight_decay=0.1))
    ref = RefRun(task, task.new_state(np.random.default_rng(4)))
    before = ref.p.copy()
    u, i, _ = ref.draw()
    mask = ref.touched(u, i)
    assert mask.sum() == (len(set(u)) + len(set(i))) * task.width < task.n_params
    assert np.array_equal(state.params[~mask], before[~mask])
    assert np.all(state.slots[:, ~mask] == 0) and np.all(state.slots[1, mask] > 0)


# ---- learning, divergence, determinism -----------------------------------------------------


@pytest.mark.parametrize("opt_name, lr", [("adam", 0.01), ("sgd", 0.1)])
def test_synthetic_reaches_auc_075_over_default_horizon(opt_name, lr):
    spec = RecsysSpec(family="recsys", instance=0)  # the documented defaults
    task = RecsysTask(spec)
    fam = RecsysFamily
    state = task.new_state(np.random.default_rng(0))
    cfg = OptimizerConfig(opt_name)
    start = np.zeros(N_STATS)
    task.evaluate(state, start)
    assert 0.4 < start[S_VAL_METRIC] < 0.6 and start[S_TRAIN_LOSS] == pytest.approx(np.log(2), rel=0.02)
    for _ in range(fam.default_horizon):
        stats = run_kernel(task, state, lr, fam.default_inner_steps, cfg)
    assert stats[S_VAL_METRIC] >= 0.75
    assert stats[S_TRAIN_LOSS] < 0.75 * start[S_TRAIN_LOSS]
    assert stats[S_DIVERGED] == 0


def test_too_large_lr_reports_divergence_without_raising():
    task = small_task()
    state = task.new_state(np.random.default_rng(0))
    start = np.zeros(N_STATS)
    task.evaluate(state, start)
    cfg = OptimizerConfig("sgd")
    stats = run_kernel(task, state, 1e8, 10, cfg, cap=10 * start[S_TRAIN_LOSS])
    assert stats[S_DIVERGED] == 1.0 and 1 <= stats[S_UPDATES] <= 10
    for k in (S_GRAD_NORM, S_BATCH_LOSS, S_LOSS_VAR, S_UPDATES, S_VAL_METRIC):
        assert np.isfinite(stats[k]), k
    stats2 = run_kernel(task, state, 1e8, 10, cfg, cap=10 * start[S_TRAIN_LOSS])
    assert stats2[S_DIVERGED] == 1.0
    task.evaluate(state, stats2)


def test_nan_parameters_are_reported_as_divergence():
    task = small_task()
    state = task.new_state(np.random.default_rng(0))
    state.params[:] = np.nan
    stats = run_kernel(task, state, 0.1, 5, OptimizerConfig("sgd"))
    assert stats[S_DIVERGED] == 1.0 and stats[S_UPDATES] == 1 and np.isnan(stats[S_TRAIN_LOSS])


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_same_rng_word_gives_identical_stats(opt_name):
    task = small_task()
    cfg = OptimizerConfig(opt_name, normalize="layerwise" if opt_name == "sgd" else "none")
    runs = []
    for _ in range(2):
        state = task.new_state(np.random.default_rng(42))
        runs.append(np.concatenate([run_kernel(task, state, 0.05, 7, cfg) for _ in range(4)] + [state.params]))
    assert np.array_equal(runs[0], runs[1])
    other = task.new_state(np.random.default_rng(43))
    assert not np.array_equal(run_kernel(task, other, 0.05, 7, cfg), runs[0][:N_STATS])


# ---- data: synthetic split, MovieLens files -------------------------------------------------


def test_split_holds_out_positives_with_fixed_negatives():
    task = small_task()
    g = task.group
    assert len(task.va_u) % g == 0 and len(task.ev_u) % g == 0
    assert len(task.ev_u) <= 2048 and len(task.va_u) // g <= 512
    assert np.all(task.va_y[::g] == 1) and np.all(task.ev_y[::g] == 1) and task.va_y.sum() == len(task.va_u) // g
    train = set(zip(task.pos_u.tolist(), task.pos_i.tolist()))
    users = task.va_u[::g]
    assert len(set(users.tolist())) == len(users)  # one held-out positive per user
    for b in range(len(users)):
        u, items = task.va_u[b * g], task.va_i[b * g : (b + 1) * g]
        assert (u, items[0]) not in train and items[0] in set(task.pos_i.tolist())
        assert all((u, j) not in train for j in items[1:])
    for b in range(len(task.ev_u) // g):
        assert (task.ev_u[b * g], task.ev_i[b * g]) in train


def write(path, text):
    path.write_text(text)
    return str(path)


def test_movielens_u_data_and_ratings_csv_round_trip(tmp_path):
    rows = [(10, 100, 5, 1), (10, 200, 3, 2), (30, 100, 4, 3), (30, 300, 4.5, 4), (20, 200, 1, 5),
            (20, 300, 4, 6), (10, 300, 4, 7), (30, 200, 5, 8), (20, 100, 4, 9), (40, 400, 2, 10)]
    u_data = write(tmp_path / "u.data", "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows))
    body = "".join(f"{u},{i},{r},{t}\n" for u, i, r, t in rows)
    csv = write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n" + body)
    for path in (u_data, csv):
        users, items, ratings = load_ratings(path)
        assert users.tolist() == [r[0] for r in rows] and items.tolist() == [r[1] for r in rows]
        assert ratings.tolist() == [float(r[2]) for r in rows]
        pu, pi, n_users, n_items = positives_from_ratings(users, items, ratings)
        # ratings ≥ 4; user 40 and item 400 have none and are dropped; ids remapped in order
        assert (n_users, n_items) == (3, 3)
        expect = {(10, 100), (30, 100), (30, 300), (20, 300), (10, 300), (30, 200), (20, 100)}
        umap, imap = {10: 0, 20: 1, 30: 2}, {100: 0, 200: 1, 300: 2}
        assert set(zip(pu.tolist(), pi.tolist())) == {(umap[u], imap[i]) for u, i in expect}
    assert POSITIVE_RATING == 4.0


def test_family_builds_an_instance_from_a_ratings_file(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["userId,movieId,rating,timestamp"]
    for u in range(1, 41):
        for i in rng.choice(np.arange(1, 61) * 7, size=15, replace=False):
            lines.append(f"{u},{i},{rng.choice([2.0, 3.5, 4.0, 5.0])},{rng.integers(1e9)}")
    path = write(tmp_path / "ratings.csv", "\n".join(lines) + "\n")
    fam = RecsysFamily(data_path=path, rank=4, batch_size=16, n_negatives=2)
    spec = fam.sample(3)
    task = fam.build(spec)
    assert spec.data_path == path and spec.n_users == task.n_users <= 40 and spec.n_items == task.n_items <= 60
    assert task.n_params == (task.n_users + task.n_items) * 5
    state = task.new_state(np.random.default_rng(0))
    stats = run_kernel(task, state, 0.05, 10, OptimizerConfig("adam"))
    assert stats[S_DIVERGED] == 0 and np.isfinite(stats[S_TRAIN_LOSS]) and 0 <= stats[S_VAL_METRIC] <= 1
    with pytest.raises(ValueError, match="cannot be set with data_path"):
        RecsysFamily(data_path=path, n_users=10)


@pytest.mark.parametrize(
    "name, text, match",
    [
        ("u.data", "1\t2\t5\t99\n3\t4\t5\n", r"u\.data, line 2: expected 4 columns"),
        ("u.data", "1\t2\t5\t99\nx7\t4\t5\t99\n", r"u\.data, line 2: user id 'x7' is not an integer"),
        # an id beyond int64 was a bare OverflowError from np.loadtxt / np.array
        ("u.data", "1\t2\t5\t99\n1\t99999999999999999999\t5\t99\n",
         r"u\.data, line 2: item id 99999999999999999999 out of range; valid: an integer of at most"),
        ("ratings.csv", "userId,movieId,rating,timestamp\n-99999999999999999999,2,5,9\n",
         r"ratings\.csv, line 2: user id -99999999999999999999 out of range"),
        ("u.data", "1\t2\t5\t99\n\n5\t2.5\t5\t99\n", r"u\.data, line 3: item id '2\.5' is not an integer"),
        ("u.data", "1\t2\tgood\t99\n", r"u\.data, line 1: rating 'good' is not a number"),
        ("u.data", "1\t2\t5\t99\n1\t3\tnan\t99\n", r"u\.data, line 2: rating 'nan' is not finite"),
        ("u.data", "1\t2\t5\t99\n1\t3\t4\tlater\n", r"u\.data, line 2: timestamp 'later' is not a number"),
        ("u.data", "", r"u\.data, line 1: empty file"),
        ("u.data", "\n\n", r"u\.data, line 1: empty file"),
        ("ratings.csv", f"{HEADER}1,2,5,9\n1,2,5\n", r"ratings\.csv, line 3: expected 4 columns"),
        ("ratings.csv", f"{HEADER}1,2,5,9\nabc,2,5,9\n", r"ratings\.csv, line 3: user id 'abc'"),
        ("ratings.csv", HEADER, r"ratings\.csv, line 2: no ratings"),
        ("ratings.csv", "1,2,5,9\n", r"ratings\.csv, line 1: .*must start with the header"),
    ],
)
def test_malformed_ratings_files_name_file_and_line(tmp_path, name, text, match):
    path = write(tmp_path / name, text)
    with pytest.raises(ValueError, match=match):
        load_ratings(path)
    with pytest.raises(ValueError, match=match):
        RecsysFamily(data_path=path)


def test_a_ratings_file_past_the_size_bound_is_refused_before_it_is_read(tmp_path):
    """A file of more than 2 GiB (MAX_RATINGS_BYTES) ran for minutes or out of memory in
    np.loadtxt before any error; it is refused by its size. The file here is sparse: a read of
    it (2 GiB of NULs, one line) would be slow, and the test's timeout says none happens."""
    path = tmp_path / "u.data"
    with open(path, "wb") as f:
        f.truncate(MAX_RATINGS_BYTES + 1)
    message = re.escape(f"ratings file {path} is 2,147,483,649 bytes (2 GiB); valid: at most 2,147,483,648 bytes")
    with pytest.raises(ValueError, match=message):
        load_ratings(str(path))
    with pytest.raises(ValueError, match=message):
        RecsysFamily(data_path=path)


@pytest.mark.parametrize("text, line", [
    ("1" * (MAX_LINE_CHARS + 1), 1),  # a file without line ends was read whole before its columns were counted
    ("1\t2\t5\t9\n" + "7" * 10 * MAX_LINE_CHARS + "\n3\t4\t5\t9\n", 2),
    ("userId,movieId,rating,timestamp\n1,2,5,9\n" + "," * (MAX_LINE_CHARS + 1), 3),
])
def test_a_line_past_the_length_bound_is_named_by_its_number(tmp_path, text, line):
    path = write(tmp_path / "ratings.csv", text)
    message = rf"ratings\.csv, line {line}: longer than 4,096 characters; valid: a line of MovieLens ratings"
    with pytest.raises(ValueError, match=message):
        load_ratings(path)
    longest = "1\t2\t5\t" + "0" * (MAX_LINE_CHARS - 7) + "9\n"  # 4,096 characters and the line end: taken
    assert len(longest) == MAX_LINE_CHARS + 1
    assert load_ratings(write(tmp_path / "u.data", longest))[0].tolist() == [1]


def test_a_ratings_file_whose_parameter_table_is_past_the_bound_is_refused(tmp_path):
    """The file's users and items make (n_users + n_items) × (rank + 1) parameters, held to the
    synthetic instances' bound of 2**28 (MAX_ARRAY_ITEMS): 140,000 users and items at rank 1,024
    are 2.9e8 (2.1 GiB), accepted when the family was made (the bound was not checked for a file)."""
    n = 140_000
    path = write(tmp_path / "u.data", "".join(f"{k} {k} 5 0\n" for k in range(n)))
    message = re.escape(f"recsys options data_path's n_users={n:,}, n_items={n:,}, rank=1,024 make a parameter "
                        f"table of (n_users + n_items) × (rank + 1) = {2 * n * 1025:,} float64s")
    with pytest.raises(ValueError, match=message + ".*valid: at most 268,435,456 float64s.*lower rank"):
        RecsysFamily(data_path=path, rank=1024)
    assert RecsysFamily(data_path=path, rank=512).overrides["rank"] == 512  # 2 × 140,000 × 513 = 1.4e8: taken


def test_ratings_without_positives_and_missing_file(tmp_path):
    path = write(tmp_path / "u.data", "1\t2\t3\t9\n2\t2\t1\t9\n")
    with pytest.raises(ValueError, match=r"u\.data: no rating >= 4"):
        RecsysFamily(data_path=path)
    with pytest.raises(ValueError, match="missing.data not found; valid: a MovieLens u.data or ratings.csv file"):
        RecsysFamily(data_path=str(tmp_path / "missing.data"))


@pytest.mark.timeout(60)  # a FIFO must not be opened: reading one waits for a writer
@pytest.mark.parametrize("kind, what", [("fifo", "a FIFO (named pipe)"), ("folder", "a folder"),
                                        ("loop", "a symbolic link loop"), ("dangling", "a dangling symbolic link")])
def test_a_data_path_that_is_no_regular_file_says_what_it_is(kind, what, tmp_path):
    """A FIFO, a folder or a link loop was "no such ratings file": the wrong reason."""
    import os

    import gymnasium as gym

    path = tmp_path / "u.data"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "loop":
        path.symlink_to(path)
    else:
        path.symlink_to(tmp_path / "gone")
    with pytest.raises(ValueError, match=f"ratings file {path} is {re.escape(what)}; valid: a MovieLens"):
        gym.make("LRControl-Recsys-v1", family_options={"data_path": str(path)})


# ---- family ---------------------------------------------------------------------------------


def test_sampling_is_deterministic_and_in_documented_ranges():
    fam = make_family("recsys")
    specs = [fam.sample(k) for k in range(200)]
    assert specs[:3] == [fam.sample(k) for k in range(3)]
    for s in specs:
        assert 100 <= s.n_users <= 5000 and 50 <= s.n_items <= 2000 and 4 <= s.rank <= 32
        assert 2 <= s.true_rank <= 16 and 0.5 <= s.zipf <= 1.5 and 1 <= s.signal <= 4
        assert 10 <= s.interactions <= 50 and s.batch_size in (16, 32, 64, 128, 256)
        assert s.n_negatives in (1, 2, 3, 4, 8) and s.data_path is None
    assert len({s.rank for s in specs}) > 10


def test_layout_and_segments():
    task = small_task()
    assert task.segments.tolist() == [0, 60 * 6, 100 * 6]
    p = task.init_params(np.random.default_rng(0))
    U, V = task.tables(p)
    assert U.shape == (60, 6) and V.shape == (40, 6)
    assert np.all(U[:, -1] == 0) and np.all(V[:, -1] == 0) and 0.05 < U[:, :5].std() < 0.15


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(rank=0), "rank=0 out of range"),
        (dict(n_negatives=0), "n_negatives=0 out of range"),
        (dict(batch_size=2.5), "batch_size=2.5 out of range"),
        (dict(data_path=3), "data_path=3 out of range"),
        (dict(ranks=3), "unknown recsys family option"),
    ],
)
def test_override_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        RecsysFamily(**kw)


# ---- the sparse update's pieces -------------------------------------------------------------


@pytest.mark.parametrize("value, finite", [(0.3, True), (1e300, True), (1.5e306, False), (np.nan, False),
                                           (np.inf, False)])
def test_sparse_update_reports_non_finite_exactly_when_the_updated_sum_is(value, finite):
    """``apply_rule_rows`` returns a cheap witness instead of the sum of the updated values:
    finite iff that sum (in row order, as before) is — including a sum that overflows although
    every value is finite."""
    from lrgym.tasks.updates import apply_rule_rows

    width, n_rows = 5, 40
    params = np.full(n_rows * width * 2, 7.0)
    starts = np.arange(0, n_rows * 2 * width, 2 * width, dtype=np.int64)  # every other row
    params[starts[3] + 2] = value  # one coordinate, or (1e300 / 1.5e306) every updated coordinate
    if abs(value) >= 1e300:
        for s in starts:
            params[s : s + width] = value
    G = np.zeros((n_rows, width))
    witness = apply_rule_rows(params, np.zeros((2, len(params))), starts, G, n_rows, 1, 0.1, 0,
                              OptimizerConfig("sgd").hyper(), np.zeros(width))
    total = 0.0
    for s in starts:
        for x in params[s : s + width]:
            total += x  # the sum in row order, in Python floats
    assert np.isfinite(witness) == np.isfinite(total) == finite
    untouched = np.ones(len(params), dtype=bool)
    for s in starts:
        untouched[s : s + width] = False
    assert np.all(params[untouched] == 7.0)


@pytest.mark.parametrize("shape", [dict(rank=4, batch_size=8, n_negatives=3),
                                   dict(rank=16, batch_size=64, n_negatives=1)])
def test_gathered_gradients_and_their_pair_sums_match_dense_numpy(shape):
    """Two consecutive minibatches' row gradients (``gather_row_gradients``): each equals the
    dense gradient of ``ref_loss_grad``; the rows both touch are listed as (slot, previous slot)
    pairs; ``sparse_gradient_pair_sums`` gives the dense ‖g‖² and g·g_prev (to rounding: its
    sums are reassociated)."""
    from lrgym.tasks.recsys import draw_minibatch, gather_row_gradients, sparse_gradient_pair_sums

    task = small_task(**shape)
    state = task.new_state(np.random.default_rng(4))
    p = state.params
    T, w = task.n_triples, task.width
    row_slot = np.full((2, task.n_users + task.n_items), -1, dtype=np.int64)
    rows, starts = np.zeros((2, 2 * T), dtype=np.int64), np.zeros(2 * T, dtype=np.int64)
    G, uacc, both = np.zeros((2, 2 * T, w)), np.zeros(w), np.zeros((2, 2 * T), dtype=np.int64)
    dense, n_rows = [], []
    for b in range(2):
        u, i, y, scratch = np.zeros(T, np.int64), np.zeros(T, np.int64), np.zeros(T), np.zeros(T)
        draw_minibatch(state.rng, task.pos_u, task.pos_i, task.n_items, task.group, u, i, y, scratch)
        s = np.array([p[a * w: a * w + w - 1] @ p[(task.n_users + j) * w: (task.n_users + j) * w + w - 1]
                      + p[a * w + w - 1] + p[(task.n_users + j) * w + w - 1] for a, j in zip(u, i)])
        dscores = 1.0 / (1.0 + np.exp(-s)) - y
        n, n_both = gather_row_gradients(p, w, task.n_users, u, i, dscores, T, 1.0, row_slot[b], rows[b], starts,
                                         G[b], uacc, row_slot[1 - b], both)
        g = np.zeros_like(p)
        for k in range(n):
            g[rows[b, k] * w: rows[b, k] * w + w] = G[b, k]
        _, ref = ref_loss_grad(task, p, u, i, y)
        np.testing.assert_allclose(g, ref, rtol=1e-10, atol=1e-13)
        dense.append(g)
        n_rows.append(n)
    shared = set(rows[0, : n_rows[0]]) & set(rows[1, : n_rows[1]])
    assert len(shared) > 0 and n_both == len(shared)
    assert {int(rows[1, k]) for k in both[0, :n_both]} == shared
    assert all(rows[0, j] == rows[1, k] for k, j in zip(both[0, :n_both], both[1, :n_both]))
    gg, gp = sparse_gradient_pair_sums(G[1], n_rows[1], G[0], both, n_both, uacc)
    assert gg == pytest.approx(dense[1] @ dense[1], rel=1e-13)
    assert gp == pytest.approx(dense[1] @ dense[0], rel=1e-12, abs=1e-14 * gg)


def test_sampled_auc_matches_a_direct_count_with_ties():
    """The kernel's sampled AUC (branch-free, summed in any order) against a plain Python count of
    the (positive, negative) pairs in each group: 1 per correctly ranked pair, ½ per tie."""
    from lrgym.tasks.recsys import sampled_auc

    rng = np.random.default_rng(5)
    for group in (2, 4, 9):
        n_groups = 301
        scores = rng.integers(-3, 4, size=n_groups * group).astype(np.float64)  # many ties
        expected = 0.0
        for g in range(n_groups):
            pos = scores[g * group]
            for neg in scores[g * group + 1 : (g + 1) * group]:
                expected += 1.0 if pos > neg else 0.5 if pos == neg else 0.0
        assert sampled_auc(scores, n_groups, group) == expected / (n_groups * (group - 1))
