"""MLP classifiers: one or two hidden layers, softmax cross-entropy, forward/backward in Numba.

Model, for an input row x ∈ Rᵈ and widths d = n₀, n₁, …, n_L = C (L = depth + 1 layers):

    A₀ = x,   Z_l = A_{l−1} W_l + b_l,   A_l = φ(Z_l) (hidden layers),   logits = Z_L
    ℓ(x, y) = log Σ_c exp(logits_c) − logits_y                        (softmax cross-entropy)

with φ = tanh or relu. The optimizer descends the minibatch's *summed* loss Σ_rows ℓ (PyTorch's
``cross_entropy(..., reduction="sum")``); every reported loss is a mean. With the mean, the best
constant SGD LR grew with the batch size (0.1 – 5.6 over train instances 0 – 31, at the top of
the env's LR range [1e-6, 10]); with the sum (the linear-scaling rule built in) it lies in
0.0013 – 0.06 on the same instances (``tests/test_lr_ranges.py``). Backward pass for a minibatch of B rows (D_l = ∂(Σ ℓ)/∂Z_l):

    D_L = softmax(logits) − onehot(y)
    ∂W_l = A_{l−1}ᵀ D_l,   ∂b_l = Σ_rows D_l,   D_{l−1} = (D_l W_lᵀ) ⊙ φ'(Z_{l−1})
    φ'(Z) = 1 − A² (tanh), 1[A > 0] (relu)

Parameters live in one flat float64 vector, layer by layer: W_1 (n₀ × n₁, row-major), b_1,
W_2, b_2, …; ``segments`` marks each weight matrix and each bias (so LARS-style layer-wise
normalisation treats every matrix and every bias vector as its own layer). A PyTorch
``nn.Linear(n_in, n_out)`` holds ``weight = W_lᵀ``.

Initialisation (``init``): ``"torch"``, PyTorch's default for ``nn.Linear`` (W and b uniform on
±1/√fan_in), or ``"glorot"`` (W uniform on ±√(6 / (fan_in + fan_out)), b = 0), drawn from the
generator passed to :meth:`MLPTask.init_params`.

Data sets (``dataset``):

=================  ===================================================================
``teacher``        x ~ N(0, I_d); label = argmax of a random teacher network's logits
                   (d → 32 tanh → C, weights N(0, 1/fan_in); logits standardised per
                   class so that the classes are roughly balanced)
``clusters``       two Gaussian clusters per class, x = μ + N(0, I_d); the centres are
                   N(0, s²/(2d) I) so two centres are ``separation`` = s noise standard
                   deviations apart on average
``digits``         scikit-learn's 8×8 digits (1,797 rows, 64 features, 10 classes)
``breast_cancer``  scikit-learn's Wisconsin breast cancer (569 rows, 30 features, 2 classes)
=================  ===================================================================

Synthetic sets draw ``n_train`` training rows and 512 validation rows from the instance's
seed; a fraction ``label_noise`` of both has its label replaced by a uniformly random class.
The two real sets are standardised with the training split's mean and standard deviation and
split once, the same way for every instance: a fixed permutation, 20 % validation rows
(digits 1,438 train / 359 validation; breast cancer 455 / 114). Their ``input_dim``,
``n_classes`` and ``n_train`` fields are set from the data and ``label_noise`` is 0
(overriding any of these is an error);
the architecture, batch size and initialisation are still sampled per instance.

Instance distribution (``MLPFamily`` options override any of these):

============  =======================================================================
dataset       teacher 45 %, clusters 45 %, digits 5 %, breast_cancer 5 %
input_dim     8 – 64, log-uniform (synthetic)
n_classes     2 – 10, uniform (synthetic)
hidden        16 – 128, log-uniform (width of every hidden layer)
depth         1 or 2 hidden layers, ½ each
activation    tanh or relu, ½ each
batch_size    one of 16, 32, 64, 128, 256
n_train       512 – 8,192, log-uniform (synthetic)
init          torch or glorot, ½ each
separation    2 – 8, log-uniform (clusters)
label_noise   0 with probability ½, else 0.01 – 0.2 log-uniform (synthetic)
============  =======================================================================

Statistics: the training objective (``S_TRAIN_LOSS``) is the mean cross-entropy on the first
min(2,048, n_train) training rows; ``S_VAL_LOSS`` / ``S_VAL_METRIC`` are the cross-entropy and
the accuracy on the validation rows. The loss cap and non-finite losses or parameters end the
updates and set ``S_DIVERGED`` (never an exception).

Default episode: 50 steps × 10 updates. On digits, plain SGD at a fixed LR of 0.1 / B (0.1 per
example) reaches ≥ 90 % validation accuracy in that budget (tested); the initial loss is ≈ log C.

Performance: the matrix products go to BLAS through ``np.dot`` inside the kernel, on one thread
(:mod:`lrgym.tasks.blas`); tanh and exp are the vectorisable versions of
:mod:`lrgym.tasks.vmath`; evaluation runs in chunks of 256 rows.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numba
import numpy as np

from lrgym import rng as _rng
from lrgym.optim import apply_update, check_choice
from lrgym.tasks.base import (
    FAST_MATH,
    MAX_ARRAY_ITEMS,
    S_TRAIN_LOSS,
    S_VAL_LOSS,
    S_VAL_METRIC,
    KernelTask,
    TaskFamily,
    TaskSpec,
    TrainState,
    check_build_size,
    check_options,
    choose,
    data_rng,
    is_integer,
    is_real,
    log_uniform,
    log_uniform_int,
    worst_case,
)
from lrgym.tasks import pcg64
from lrgym.tasks.blas import blas_single_thread
from lrgym.tasks.datasets import bundled
from lrgym.tasks.stats import N_ACC, finish_stats, is_bad, loss_moments, record_gradient_pair
from lrgym.tasks.vmath import vexp, vtanh
from lrgym.tasks.workspace import scratch

EVAL_ROWS = 2048
VAL_ROWS = 512
EVAL_CHUNK = 256
TEACHER_HIDDEN = 32
BATCH_SIZES = (16, 32, 64, 128, 256)
DATASETS = ("teacher", "clusters", "digits", "breast_cancer")
REAL_DATASETS = ("digits", "breast_cancer")
ACTIVATIONS = ("tanh", "relu")
INITS = ("torch", "glorot")
#: rows, features, classes of the bundled data sets and their fixed validation fraction
_REAL_SHAPES = {"digits": (1797, 64, 10), "breast_cancer": (569, 30, 2)}
REAL_VAL_FRACTION = 0.2
#: the sampled input dimension, number of classes and training rows (synthetic data sets)
INPUT_DIM_RANGE = (8, 64)
HIDDEN_RANGE = (16, 128)
DEPTH_RANGE = (1, 2)
N_CLASSES_RANGE = (2, 10)
N_TRAIN_RANGE = (512, 8192)


@dataclass(frozen=True)
class MLPSpec(TaskSpec):
    dataset: str = "teacher"
    input_dim: int = 32
    n_classes: int = 10
    hidden: int = 64
    depth: int = 1
    activation: str = "tanh"
    batch_size: int = 64
    n_train: int = 4096
    init: str = "torch"
    separation: float = 3.0
    label_noise: float = 0.0


def real_split_sizes(dataset: str) -> tuple[int, int]:
    """(train rows, validation rows) of a bundled data set's fixed split."""
    n = _REAL_SHAPES[dataset][0]
    n_val = min(VAL_ROWS, int(round(REAL_VAL_FRACTION * n)))
    return n - n_val, n_val


# ---- kernels -------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def forward(params, widths, offsets, relu, X, acts, act_offsets):
    """Logits for the rows of ``X``: Z_l = A_{l−1} W_l + b_l, A_l = φ(Z_l) on hidden layers.

    Layer l's output Z_l (then A_l, in place) is a (rows × n_{l+1}) view of ``acts`` starting at
    ``act_offsets[l]``. Returns the view holding the logits.
    """
    rows = X.shape[0]
    n_layers = widths.shape[0] - 1
    A = X
    for l in range(n_layers):
        n_in = widths[l]
        n_out = widths[l + 1]
        w0 = offsets[l]
        W = params[w0 : w0 + n_in * n_out].reshape(n_in, n_out)
        b = params[w0 + n_in * n_out : w0 + n_in * n_out + n_out]
        Z = acts[act_offsets[l] : act_offsets[l] + rows * n_out].reshape(rows, n_out)
        np.dot(A, W, Z)
        if l == n_layers - 1:
            for i in range(rows):
                for j in range(n_out):
                    Z[i, j] += b[j]
        elif relu:
            for i in range(rows):
                for j in range(n_out):
                    z = Z[i, j] + b[j]
                    Z[i, j] = z if not z < 0.0 else 0.0  # keeps NaN, as torch.relu does
        else:
            for i in range(rows):
                for j in range(n_out):
                    Z[i, j] = vtanh(Z[i, j] + b[j])
        A = Z
    return A


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def softmax_cross_entropy(logits, y, losses):
    """Per-row ℓ = logsumexp(z) − z_y into ``losses``; ``logits`` becomes softmax(z) in place.

    Returns the number of rows whose first arg-max equals the label.
    """
    rows, n_classes = logits.shape
    correct = 0
    for i in range(rows):
        m = logits[i, 0]
        arg = 0
        for c in range(1, n_classes):
            if logits[i, c] > m:
                m = logits[i, c]
                arg = c
        if arg == y[i]:
            correct += 1
        losses[i] = m - logits[i, y[i]]  # −(z_y − max), the log-sum-exp is added below
        for c in range(n_classes):
            logits[i, c] -= m
    flat = logits.reshape(rows * n_classes)
    for k in range(rows * n_classes):
        flat[k] = vexp(flat[k])
    for i in range(rows):
        s = 0.0
        for c in range(n_classes):
            s += logits[i, c]
        losses[i] += math.log(s)
        inv = 1.0 / s
        for c in range(n_classes):
            logits[i, c] *= inv
    return correct


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def backward(params, widths, offsets, relu, X, y, acts, act_offsets, delta_a, delta_b, grad):
    """Gradient of the summed cross-entropy over the rows of ``X`` into ``grad``.

    Expects :func:`forward` then :func:`softmax_cross_entropy` to have left the hidden
    activations and the softmax probabilities in ``acts``.
    """
    rows = X.shape[0]
    n_layers = widths.shape[0] - 1
    last = n_layers - 1
    n_c = widths[n_layers]
    D = acts[act_offsets[last] : act_offsets[last] + rows * n_c].reshape(rows, n_c)
    for i in range(rows):
        D[i, y[i]] -= 1.0  # D_L = softmax − onehot (the summed loss)
    for l in range(last, -1, -1):
        n_in = widths[l]
        n_out = widths[l + 1]
        w0 = offsets[l]
        b0 = w0 + n_in * n_out
        if l == 0:
            A_prev = X
        else:
            A_prev = acts[act_offsets[l - 1] : act_offsets[l - 1] + rows * n_in].reshape(rows, n_in)
        np.dot(A_prev.T, D, grad[w0:b0].reshape(n_in, n_out))  # ∂W_l = A_{l−1}ᵀ D_l
        gb = grad[b0 : b0 + n_out]
        gb[:] = 0.0
        for i in range(rows):
            for j in range(n_out):
                gb[j] += D[i, j]  # ∂b_l = Σ_rows D_l
        if l > 0:
            buf = delta_a if (last - l) % 2 == 0 else delta_b
            D_prev = buf[: rows * n_in].reshape(rows, n_in)
            W = params[w0:b0].reshape(n_in, n_out)
            np.dot(D, W.T, D_prev)  # D_{l−1} = (D_l W_lᵀ) ⊙ φ'(Z_{l−1})
            for i in range(rows):
                for j in range(n_in):
                    a = A_prev[i, j]
                    if relu:
                        D_prev[i, j] = D_prev[i, j] if a > 0.0 else 0.0
                    else:
                        D_prev[i, j] *= 1.0 - a * a
            D = D_prev


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def dataset_loss(params, widths, offsets, relu, X, y, n_rows, acts, act_offsets, losses):
    """(mean cross-entropy, accuracy) over the first ``n_rows`` rows, in chunks."""
    chunk = losses.shape[0]
    total = 0.0
    correct = 0
    for start in range(0, n_rows, chunk):
        rows = min(chunk, n_rows - start)
        logits = forward(params, widths, offsets, relu, X[start : start + rows], acts, act_offsets)
        correct += softmax_cross_entropy(logits, y[start : start + rows], losses)
        for k in range(rows):
            total += losses[k]
    return total / n_rows, correct / n_rows


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def evaluate_mlp(params, widths, offsets, relu, X, y, n_eval, Xv, yv, acts, act_offsets, losses, stats):
    stats[S_TRAIN_LOSS] = dataset_loss(params, widths, offsets, relu, X, y, n_eval, acts, act_offsets, losses)[0]
    val_loss, val_acc = dataset_loss(params, widths, offsets, relu, Xv, yv, yv.shape[0], acts, act_offsets, losses)
    stats[S_VAL_LOSS] = val_loss
    stats[S_VAL_METRIC] = val_acc


@numba.njit(cache=True, nogil=True, fastmath=FAST_MATH, error_model="numpy")
def run_mlp(
    params, slots, step, rng, grad, prev_grad, rows, Xb, yb, losses, eval_losses, acts, act_offsets,
    delta_a, delta_b, acc, widths, offsets, relu, X, y, n_eval, Xv, yv,
    lr, n_updates, opt, hyper, segments, loss_cap, stats,
):
    """``n_updates`` minibatch updates (rows drawn with replacement), then evaluation."""
    n = X.shape[0]
    b = rows.shape[0]
    d = X.shape[1]
    acc[:] = 0.0
    diverged = False
    done = 0
    for _ in range(n_updates):
        _rng.fill_randint(rng, n, rows)
        for k in range(b):
            i = rows[k]
            yb[k] = y[i]
            for j in range(d):
                Xb[k, j] = X[i, j]
        logits = forward(params, widths, offsets, relu, Xb, acts, act_offsets)
        softmax_cross_entropy(logits, yb, losses)
        batch_loss = loss_moments(losses, acc)
        backward(params, widths, offsets, relu, Xb, yb, acts, act_offsets, delta_a, delta_b, grad)
        record_gradient_pair(grad, prev_grad, step[0] > 0, acc)
        apply_update(params, grad, slots, step, lr, opt, hyper, segments)
        done += 1
        if is_bad(batch_loss, loss_cap) or not math.isfinite(params.sum()):
            diverged = True
            break
    evaluate_mlp(params, widths, offsets, relu, X, y, n_eval, Xv, yv, acts, act_offsets, eval_losses, stats)
    if is_bad(stats[S_TRAIN_LOSS], loss_cap):
        diverged = True
    finish_stats(acc, done, diverged, stats)


# ---- data ----------------------------------------------------------------------------------


def _standardise(X_train: np.ndarray, X_val: np.ndarray):
    mean = X_train.mean(0)
    std = X_train.std(0)
    std[std == 0] = 1.0  # constant features (digits' border pixels) stay 0
    return (X_train - mean) / std, (X_val - mean) / std


@functools.lru_cache(maxsize=None)
def load_real(dataset: str):
    """Standardised (X, y, X_val, y_val) of a bundled scikit-learn data set, fixed split.

    The split and the standardisation are the same for every instance, so they are made once
    per process and every instance of the data set shares these arrays (kernels only read
    them; the cached arrays are those a fresh call returns, ``tests/tasks/test_cache.py``)."""
    X, y = bundled(dataset)
    n_train, n_val = real_split_sizes(dataset)
    if X.shape[0] != n_train + n_val:
        raise RuntimeError(f"scikit-learn's {dataset} has {X.shape[0]} rows, expected {n_train + n_val}")
    order = np.random.default_rng(0).permutation(X.shape[0])  # the same split for every instance
    tr, va = order[:n_train], order[n_train:]
    X_train, X_val = _standardise(X[tr].astype(np.float64), X[va].astype(np.float64))
    return X_train, y[tr].astype(np.int64), X_val, y[va].astype(np.int64)


def _teacher_data(rng, n, d, n_classes):
    """x ~ N(0, I_d) rows and the teacher's labels, argmax of standardised tanh(x W1 + b1) W2.

    The teacher's hidden layer (n × 32) is computed in reused memory
    (:mod:`lrgym.tasks.workspace`), each step into a buffer of its own (``out=``: the same
    ufunc and BLAS calls as into fresh arrays, the same bits): in a process that keeps
    instances and steps between builds, three fresh n × 32 temporaries arrived as new pages
    (≈ 2 – 10 µs a page on the benchmark VM) and made this 5× slower inside a rollout than alone.
    """
    W1 = rng.standard_normal((d, TEACHER_HIDDEN)) / math.sqrt(d)
    b1 = 0.5 * rng.standard_normal(TEACHER_HIDDEN)
    W2 = rng.standard_normal((TEACHER_HIDDEN, n_classes)) / math.sqrt(TEACHER_HIDDEN)
    X = pcg64.standard_normal(rng, (n, d))  # rng.standard_normal's doubles, drawn compiled
    shape = (n, TEACHER_HIDDEN)
    pre = np.matmul(X, W1, out=scratch("mlp.teacher_a", shape))  # X @ W1
    hidden = np.add(pre, b1, out=scratch("mlp.teacher_b", shape))  # X @ W1 + b1
    hidden = np.tanh(hidden, out=pre)
    logits = hidden @ W2
    logits = (logits - logits.mean(0)) / logits.std(0)
    return X, np.argmax(logits, axis=1).astype(np.int64)


def _cluster_data(rng, n, d, n_classes, separation):
    """Rows centre + N(0, I_d) around two centres per class. The noise is drawn into reused memory
    and added in place to the gathered centres (the same sums as ``centres[which] + noise``,
    without two fresh n × d temporaries; see :func:`_teacher_data`)."""
    per_class = 2
    centres = rng.standard_normal((n_classes * per_class, d)) * (separation / math.sqrt(2 * d))
    which = rng.integers(0, n_classes * per_class, size=n)
    noise = pcg64.fill_normal(rng, scratch("mlp.cluster_noise", (n, d)))  # rng.standard_normal's, drawn compiled
    X = np.take(centres, which, axis=0)  # centres[which]
    np.add(X, noise, out=X)
    return X, (which // per_class).astype(np.int64)


def synthetic_data(spec: MLPSpec):
    """(X, y, X_val, y_val) of a synthetic instance, deterministic in the spec."""
    rng = data_rng(spec)
    n = spec.n_train + VAL_ROWS
    if spec.dataset == "teacher":
        X, y = _teacher_data(rng, n, spec.input_dim, spec.n_classes)
    else:
        X, y = _cluster_data(rng, n, spec.input_dim, spec.n_classes, spec.separation)
    if spec.label_noise > 0:
        flip = rng.uniform(size=n) < spec.label_noise
        y = np.where(flip, rng.integers(0, spec.n_classes, size=n), y)
    X = np.ascontiguousarray(X)
    return X[: spec.n_train], y[: spec.n_train], X[spec.n_train :], y[spec.n_train :]


# ---- task and family ----------------------------------------------------------------------


class MLPTask(KernelTask):
    metric_name = "accuracy"

    def __init__(self, spec: MLPSpec):
        self.spec = spec
        if spec.dataset in REAL_DATASETS:
            X, y, Xv, yv = load_real(spec.dataset)
        else:
            X, y, Xv, yv = synthetic_data(spec)
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.y = np.ascontiguousarray(y, dtype=np.int64)
        self.Xv = np.ascontiguousarray(Xv, dtype=np.float64)
        self.yv = np.ascontiguousarray(yv, dtype=np.int64)
        self.n_classes = int(max(spec.n_classes, self.y.max() + 1, self.yv.max() + 1))
        #: the divergence rule's scale: log C, the loss of the uniform prediction (≈ L₀ at init)
        self.loss_scale = math.log(self.n_classes)
        self.widths = np.array(
            [self.X.shape[1]] + [spec.hidden] * spec.depth + [self.n_classes], dtype=np.int64
        )
        sizes = [int(a * b + b) for a, b in zip(self.widths[:-1], self.widths[1:])]
        self.offsets = np.cumsum([0] + sizes[:-1]).astype(np.int64)
        self.n_params = int(sum(sizes))
        bounds = [0]
        for a, b in zip(self.widths[:-1], self.widths[1:]):
            bounds += [bounds[-1] + int(a * b), bounds[-1] + int(a * b + b)]
        self.segments = np.array(bounds, dtype=np.int64)
        self.relu = spec.activation == "relu"
        self.n_eval = min(EVAL_ROWS, self.X.shape[0])
        # activation buffers: layer l gets max_rows × n_{l+1} doubles
        self.max_rows = max(spec.batch_size, EVAL_CHUNK)
        self.act_offsets = (self.max_rows * np.cumsum(np.concatenate([[0], self.widths[1:-1]]))).astype(np.int64)
        self.act_size = int(self.max_rows * self.widths[1:].sum())

    def layers(self, params: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Views (W_l, b_l) of a flat parameter vector, W_l of shape (n_in, n_out)."""
        out = []
        for l, off in enumerate(self.offsets):
            n_in, n_out = int(self.widths[l]), int(self.widths[l + 1])
            W = params[off : off + n_in * n_out].reshape(n_in, n_out)
            out.append((W, params[off + n_in * n_out : off + n_in * n_out + n_out]))
        return out

    def init_params(self, rng):
        params = np.empty(self.n_params)
        for W, b in self.layers(params):
            fan_in, fan_out = W.shape
            if self.spec.init == "glorot":
                bound = math.sqrt(6.0 / (fan_in + fan_out))
                W[...] = rng.uniform(-bound, bound, size=W.shape)
                b[...] = 0.0
            else:
                bound = 1.0 / math.sqrt(fan_in)
                W[...] = rng.uniform(-bound, bound, size=W.shape)
                b[...] = rng.uniform(-bound, bound, size=b.shape)
        return params

    def new_scratch(self):
        b = self.spec.batch_size
        widest = int(self.widths.max())
        return {
            "rows": np.zeros(b, dtype=np.int64),
            "Xb": np.zeros((b, self.X.shape[1])),
            "yb": np.zeros(b, dtype=np.int64),
            "losses": np.zeros(b),
            "eval_losses": np.zeros(EVAL_CHUNK),
            "acts": np.zeros(self.act_size),
            "delta_a": np.zeros(b * widest),
            "delta_b": np.zeros(b * widest),
            "acc": np.zeros(N_ACC),
        }

    kernel_name = "mlp"
    kernel = staticmethod(run_mlp)
    single_thread_blas = True  # np.dot inside the kernel (lrgym.tasks.blas)

    def kernel_item(self, state: TrainState) -> tuple[tuple, tuple]:
        s = state.scratch
        head = (
            state.params, state.slots, state.step, state.rng, state.grad, state.prev_grad,
            s["rows"], s["Xb"], s["yb"], s["losses"], s["eval_losses"], s["acts"], self.act_offsets,
            s["delta_a"], s["delta_b"], s["acc"], self.widths, self.offsets, self.relu,
            self.X, self.y, self.n_eval, self.Xv, self.yv,
        )
        return head, (self.segments,)

    def evaluate(self, state: TrainState, stats):
        s = state.scratch
        with blas_single_thread():
            evaluate_mlp(
                state.params, self.widths, self.offsets, self.relu, self.X, self.y, self.n_eval,
                self.Xv, self.yv, s["acts"], self.act_offsets, s["eval_losses"], stats,
            )

    # -- helpers for tests and references --------------------------------------------------

    def loss_and_grad(self, params: np.ndarray, rows: np.ndarray) -> tuple[float, np.ndarray]:
        """Summed cross-entropy over training rows ``rows`` and its gradient (kernel code): what
        one minibatch update descends."""
        rows = np.asarray(rows, dtype=np.int64)
        scratch = {
            "acts": np.zeros(int(len(rows) * self.widths[1:].sum())),
            "delta": np.zeros(len(rows) * int(self.widths.max())),
        }
        act_offsets = (len(rows) * np.cumsum(np.concatenate([[0], self.widths[1:-1]]))).astype(np.int64)
        Xb = np.ascontiguousarray(self.X[rows])
        yb = np.ascontiguousarray(self.y[rows])
        losses = np.zeros(len(rows))
        grad = np.zeros(self.n_params)
        params = np.ascontiguousarray(params, dtype=np.float64)
        logits = forward(params, self.widths, self.offsets, self.relu, Xb, scratch["acts"], act_offsets)
        softmax_cross_entropy(logits, yb, losses)
        backward(
            params, self.widths, self.offsets, self.relu, Xb, yb, scratch["acts"], act_offsets,
            scratch["delta"], scratch["delta"].copy(), grad,
        )
        return float(losses.sum()), grad


class MLPFamily(TaskFamily):
    """MLP classification instances; see the module docstring for the distribution."""

    name = "mlp"
    spec_class = MLPSpec

    def _validate_overrides(self):
        o = self.overrides
        check_options(self.name, o, {
            "input_dim": (lambda v: is_integer(v) and 1 <= v <= 4096, "integer 1..4096"),
            "n_classes": (lambda v: is_integer(v) and 2 <= v <= 1000, "integer 2..1000"),
            "hidden": (lambda v: is_integer(v) and 1 <= v <= 4096, "integer 1..4096"),
            "depth": (lambda v: is_integer(v) and v in (1, 2), "1 or 2"),
            "batch_size": (lambda v: is_integer(v) and 1 <= v <= 65536, "integer 1..65536"),
            "n_train": (lambda v: is_integer(v) and 2 <= v <= 10_000_000, "integer 2..10,000,000"),
            "separation": (lambda v: is_real(v) and 0 < v < 1e6, "0 < separation < 1e6"),
            "label_noise": (lambda v: is_real(v) and 0 <= v <= 1, "0 <= label_noise <= 1"),
        })
        for key, choices in (("dataset", DATASETS), ("activation", ACTIVATIONS), ("init", INITS)):
            if key in o:
                check_choice(f"mlp {key}", o[key], choices)
        if o.get("dataset") not in REAL_DATASETS:
            # the build's largest arrays: the data, n_train + 512 rows × input_dim, and for the
            # teacher its hidden layer (× 32) and logits (× n_classes) over the same rows
            n, n_words = worst_case(o, "n_train", N_TRAIN_RANGE[1])
            d, d_words = worst_case(o, "input_dim", INPUT_DIM_RANGE[1])
            terms, width, formula = [n_words, d_words], d, "input_dim"
            if o.get("dataset") != "clusters":
                c, c_words = worst_case(o, "n_classes", N_CLASSES_RANGE[1])
                terms.append(c_words)
                width, formula = max(d, TEACHER_HIDDEN, c), f"max(input_dim, {TEACHER_HIDDEN}, n_classes)"
            check_build_size(self.name, terms, f"a data array of (n_train + {VAL_ROWS}) × {formula}",
                             (n + VAL_ROWS) * width, MAX_ARRAY_ITEMS, lower=f"lower n_train or {formula}")
        # an episode's scratch (MLPTask.new_scratch): max(batch_size, 256) rows of every layer's
        # activations, two backward buffers of the widest layer and the minibatch's inputs
        b, b_words = worst_case(o, "batch_size", max(BATCH_SIZES))
        h, h_words = worst_case(o, "hidden", HIDDEN_RANGE[1])
        depth, depth_words = worst_case(o, "depth", DEPTH_RANGE[1])
        d = max(INPUT_DIM_RANGE[1], *(_REAL_SHAPES[k][1] for k in REAL_DATASETS)) if "input_dim" not in o else o["input_dim"]
        c = max(N_CLASSES_RANGE[1], *(_REAL_SHAPES[k][2] for k in REAL_DATASETS)) if "n_classes" not in o else o["n_classes"]
        rows = max(b, EVAL_CHUNK)
        d_words = f"input_dim={d:,}" if "input_dim" in o else f"input_dim up to {d:,} (sampled or a bundled data set's)"
        c_words = f"n_classes={c:,}" if "n_classes" in o else f"n_classes up to {c:,} (sampled or a bundled data set's)"
        check_build_size(self.name, [b_words, h_words, depth_words, d_words, c_words],
                         f"an episode's buffers of max(batch_size, {EVAL_CHUNK}) × (hidden × depth + n_classes "
                         "+ 2 × the widest layer + input_dim)", rows * (h * depth + c + 2 * max(d, h, c) + d),
                         MAX_ARRAY_ITEMS, lower="lower batch_size, hidden or depth")
        if o.get("dataset") in REAL_DATASETS:
            fixed = sorted({"input_dim", "n_classes", "n_train", "label_noise"} & set(o))
            if fixed:
                raise ValueError(
                    f"mlp option(s) {fixed} cannot be set with dataset={o['dataset']!r}: "
                    "they are fixed by the data set"
                )

    def sample(self, instance_seed: int) -> MLPSpec:
        spec = super().sample(instance_seed)
        if spec.dataset in REAL_DATASETS:
            _, d, c = _REAL_SHAPES[spec.dataset]
            spec = replace(
                spec, input_dim=d, n_classes=c, n_train=real_split_sizes(spec.dataset)[0], separation=0.0,
                label_noise=0.0,
            )
        return spec

    def _sample(self, rng, instance_seed):
        u = rng.uniform()
        dataset = "teacher" if u < 0.45 else "clusters" if u < 0.9 else "digits" if u < 0.95 else "breast_cancer"
        return MLPSpec(
            family=self.name,
            instance=instance_seed,
            dataset=dataset,
            input_dim=log_uniform_int(rng, *INPUT_DIM_RANGE),
            n_classes=int(rng.integers(N_CLASSES_RANGE[0], N_CLASSES_RANGE[1] + 1)),
            hidden=log_uniform_int(rng, *HIDDEN_RANGE),
            depth=int(rng.integers(DEPTH_RANGE[0], DEPTH_RANGE[1] + 1)),
            activation=ACTIVATIONS[int(rng.integers(2))],
            batch_size=int(choose(rng, BATCH_SIZES)),
            n_train=log_uniform_int(rng, *N_TRAIN_RANGE),
            init=INITS[int(rng.integers(2))],
            separation=log_uniform(rng, 2.0, 8.0),
            label_noise=0.0 if rng.uniform() < 0.5 else log_uniform(rng, 0.01, 0.2),
        )

    def build(self, spec):
        return MLPTask(spec)
