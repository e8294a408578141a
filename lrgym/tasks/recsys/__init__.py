"""Recommender: logistic matrix factorisation on implicit feedback, sparse row updates.

Model, for user u and item i:   p(click | u, i) = σ(s),   s = p_u · q_i + b_u + b_i,
with p_u, q_i ∈ Rʳ (r = ``rank``). Loss of a triple (u, i, y), y ∈ {0, 1}:

    ℓ = −y log σ(s) − (1 − y) log(1 − σ(s)) = softplus((1 − 2y) s),    ∂ℓ/∂s = σ(s) − y

A minibatch is ``batch_size`` positives (u, i) drawn uniformly with replacement from the
training positives, each followed by ``n_negatives`` = k triples (u, j, 0) with j uniform over
all items (a sampled "negative" may occasionally be a positive of u, as usual with negative
sampling). The minibatch loss is the mean over its T = batch_size · (1 + k) triples. Draw order
(what a reference must reproduce from a copy of the RNG word, with :mod:`lrgym.rng`): for each
positive, ``randint(n_train_positives)`` and then k × ``randint(n_items)``.

Parameters: one flat float64 vector of two tables, user rows then item rows, each row
(factors, bias): ``[p_u (r), b_u]`` for u < n_users, then ``[q_i (r), b_i]``. ``segments`` =
[0, n_users·(r+1), P] marks the two tables. Initialisation: factors N(0, init_scale²),
biases 0, drawn from the generator passed to :meth:`RecsysTask.init_params`.

Sparse updates: only the rows a minibatch touches change. The kernel gathers each touched row's
gradient once (summed over every triple that uses it), then applies the inner optimizer with
:func:`lrgym.optim.update_coordinate` to each touched coordinate, with the global step counter
(so Adam is *lazy* Adam: untouched rows keep their moments and get no update; momentum is
likewise applied only to touched rows). The gradient transforms of :mod:`lrgym.optim` act on
the minibatch gradient, which is zero outside the touched rows:

* clipping (first, as in :mod:`lrgym.optim`) uses the norm over the touched coordinates, which
  is the norm of the whole minibatch gradient;
* weight decay then adds ``wd · p`` on the touched coordinates only (lazy L2);
* ``normalize="global"`` divides by the norm of the touched coordinates' decayed gradient;
* ``normalize="layerwise"`` treats the two tables as the layers: each table's touched rows are
  scaled by ‖table‖ / ‖table's minibatch gradient‖ (LARS trust ratio), with ‖table‖ the norm of
  the *whole* table (computed at the start of every ``run`` call and kept up to date as rows
  change).

Statistics: the training objective (``S_TRAIN_LOSS``) is the mean log-loss on a fixed
evaluation set of up to 2,048 training triples (2,048 // (1 + k) training positives, each with
k uniform negatives drawn at build time, as in training). Validation: up to 512 held-out
positives (one per user, from users with at least 3 positives, never an item's last training
positive), each with k negatives drawn at build time uniformly from the items the user has no
positive for. ``S_VAL_LOSS`` is their mean log-loss; ``S_VAL_METRIC`` the sampled AUC: the
fraction of (held-out positive, its negative) pairs that the model ranks correctly, ties ½.

Data:

* **synthetic** (``data_path=None``): true factors u*, v* ~ N(0, I / √k*) (k* = ``true_rank``,
  so u*·v* has unit variance) and Zipf item popularity π_i ∝ 1 / rank(i)^``zipf`` (ranks in a
  random order). User u has n_u ~ max(3, Poisson(``interactions``)) positives (at most a quarter
  of the items), drawn without replacement with probability ∝ π_i · exp(``signal`` · u*·v*_i)
  (Gumbel top-n_u).
* **MovieLens-format file** (``data_path``): ``u.data`` (tab- or whitespace-separated
  ``user item rating timestamp``, no header) or ``ratings.csv`` (comma-separated, header
  ``userId,movieId,rating,timestamp``). Ratings ≥ 4 (``POSITIVE_RATING``, the usual
  implicit-feedback threshold on the 1–5 scale) are positives, the rest is ignored; users and
  items without a positive are dropped and ids are remapped to 0..n−1 in increasing order of
  the original id. ``n_users`` / ``n_items`` in the spec are set from the file; the
  synthetic-data fields are unused. A malformed file raises ``ValueError`` naming the file and
  the line. Nothing is downloaded: point ``data_path`` at a file you have.

The validation split and evaluation set are drawn from the instance seed.

Step sizes: the optimizer descends the minibatch's *summed* loss Σ_t ℓ_t (per-triple SGD, as
in classical matrix factorisation; :data:`GRADIENT_SCALE`), while every reported loss is a mean.
A row appears in few of a minibatch's triples, so with the mean its gradient was O(1/T) and the
best constant SGD LR of an instance grew with T (1.3 – 320 over train instances 0 – 7, mostly
above the env's range [1e-6, 10]); with the sum it lies in 0.04 – 0.5 on train instances 0 – 15
(tested over many instances in ``tests/test_lr_ranges.py``). Adam / Adagrad are unaffected
(scale-invariant) and work at their usual 0.01 – 0.1. Default episode: 50 steps × 10 updates;
on the default spec (``RecsysSpec()``) SGD at 0.2 or Adam at 0.01 reach a validation AUC ≈ 0.8
(≥ 0.75 is tested), from 0.5 at initialisation.

Speed (one core, rank 16, 64 positives × (1 + 3) = 256 triples, one env step = 10 updates +
evaluation): see ``benchmarks/reference_recsys.py`` for the NumPy (``np.add.at``) and PyTorch
(sparse embeddings) references of the same step.

Instance distribution (``RecsysFamily`` options override any of these):

============  ==========================================================
n_users       100 – 5,000, log-uniform
n_items       50 – 2,000, log-uniform
rank          4 – 32, log-uniform
true_rank     2 – 16, log-uniform
zipf          0.5 – 1.5, uniform
signal        1 – 4, log-uniform
interactions  10 – 50, log-uniform (mean positives per user)
batch_size    one of 16, 32, 64, 128, 256 (positives per minibatch)
n_negatives   one of 1, 2, 3, 4, 8
init_scale    0.1 (not sampled)
data_path     None (synthetic)
============  ==========================================================
"""

from lrgym.tasks.recsys.family import BATCH_SIZES, NEGATIVE_COUNTS, RecsysFamily, RecsysSpec, RecsysTask
from lrgym.tasks.recsys.kernels import (
    GRADIENT_SCALE,
    draw_minibatch,
    evaluate_recsys,
    gather_row_gradients,
    logistic_losses,
    mean_logloss,
    record_sparse_gradient_pair,
    run_recsys,
    sampled_auc,
    sparse_gradient_pair_sums,
    triple_scores,
)
from lrgym.tasks.recsys.ratings import POSITIVE_RATING, file_positives, load_ratings, positives_from_ratings
from lrgym.tasks.recsys.split import EVAL_TRIPLES, VAL_POSITIVES, split_positives
from lrgym.tasks.recsys.synthetic import synthetic_positives

__all__ = [
    "BATCH_SIZES", "EVAL_TRIPLES", "GRADIENT_SCALE", "NEGATIVE_COUNTS", "POSITIVE_RATING", "VAL_POSITIVES",
    "RecsysFamily", "RecsysSpec", "RecsysTask",
    "draw_minibatch", "evaluate_recsys", "file_positives", "gather_row_gradients", "load_ratings", "logistic_losses",
    "mean_logloss", "positives_from_ratings", "record_sparse_gradient_pair", "run_recsys", "sampled_auc",
    "sparse_gradient_pair_sums", "split_positives", "synthetic_positives", "triple_scores",
]
