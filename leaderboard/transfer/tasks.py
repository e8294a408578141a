"""Three real PyTorch training tasks that need no download, for the transfer study.

==============  ==============================================================================
task            model and data
==============  ==============================================================================
digits_cnn      small CNN (conv 8 → pool → conv 16 → pool → linear) on scikit-learn's *digits*
                (1,797 8×8 images, 10 classes; the small cousin of MNIST); cross-entropy
tabular_mlp     MLP 30 → 64 → 64 → 2 (ReLU) on scikit-learn's *breast cancer* table (569 rows,
                standardised features); cross-entropy
char_lstm       character-level LSTM (embedding 24, hidden 64) predicting the next character of
                Python's own standard-library sources (``textwrap``, ``string``, ``heapq``, ...,
                read from this interpreter's installation); negative log-likelihood per
                window of ``seq_len`` characters (summed, so the best SGD LR lies inside
                lrgym's LR range: with the per-character mean it sat at the range's top, 10)
==============  ==============================================================================

Every task fixes its data split; a *seed* sets the model's initialisation (``torch.manual_seed``)
and the minibatch stream (row indices drawn by lrgym's SplitMix64 generator,
:func:`lrgym.rng.draw_indices`), as a seed of an lrgym episode does. The training
objective reported each step is the mean loss on fixed training rows, the validation loss and
accuracy on held-out rows — the same quantities lrgym's families report.
"""

from __future__ import annotations

import sysconfig
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from lrgym.rng import draw_indices

STDLIB_TRAIN = ("textwrap.py", "string.py", "heapq.py", "bisect.py", "shlex.py", "fnmatch.py", "glob.py",
                "colorsys.py", "copy.py", "keyword.py", "calendar.py", "difflib.py", "argparse.py")
STDLIB_VAL = ("getopt.py", "sched.py", "queue.py")
PRINTABLE = [chr(c) for c in range(32, 127)] + ["\n"]
CHAR_INDEX = {c: i for i, c in enumerate(PRINTABLE)}
UNKNOWN = CHAR_INDEX["?"]


@dataclass
class TaskSize:
    """How big a task's run is (full study vs ``--quick``)."""

    eval_rows: int = 256
    text_eval_rows: int = 128  # windows of the character task (each seq_len characters)
    seq_len: int = 32
    text_chars: int | None = None  # None: all of the listed files


FULL, QUICK = TaskSize(), TaskSize(eval_rows=64, text_eval_rows=32, seq_len=16, text_chars=20_000)


class RealTask(ABC):
    """One real task: data tensors, a model factory and per-example losses.

    ``minibatch(rng_word)`` draws a batch (indices from lrgym's generator); ``losses(model, x, y)``
    returns per-example losses; ``objective(model)`` / ``validation(model)`` the evaluation.
    """

    name = "task"
    batch_size = 32

    @abstractmethod
    def model(self) -> nn.Module:
        """A freshly initialised model (seeded by the caller)."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor, Xv: torch.Tensor, yv: torch.Tensor, size: TaskSize):
        self.X, self.y, self.Xv, self.yv = X, y, Xv, yv
        self.X_eval, self.y_eval = X[: size.eval_rows], y[: size.eval_rows]
        self.Xv, self.yv = Xv[: size.eval_rows], yv[: size.eval_rows]
        self._rows = np.zeros(self.batch_size, dtype=np.int64)

    def n_rows(self) -> int:
        return self.X.shape[0]

    def minibatch(self, rng_word: np.ndarray):
        draw_indices(rng_word, self.n_rows(), self._rows)
        idx = torch.from_numpy(self._rows)
        return self.X[idx], self.y[idx]

    def losses(self, model: nn.Module, x, y) -> torch.Tensor:
        return F.cross_entropy(model(x), y, reduction="none")

    def objective(self, model: nn.Module) -> float:
        with torch.no_grad():
            return float(self.losses(model, self.X_eval, self.y_eval).double().mean())

    def validation(self, model: nn.Module) -> tuple[float, float]:
        with torch.no_grad():
            out = model(self.Xv)
            loss = float(F.cross_entropy(out, self.yv).double())
            return loss, float((out.argmax(1) == self.yv).double().mean())


def _split(n: int, n_val: int, seed: int = 12345) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return order[n_val:], order[:n_val]


class DigitsCNN(RealTask):
    name = "digits_cnn"
    batch_size = 32

    def __init__(self, size: TaskSize = FULL):
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        X = torch.tensor(X / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
        y = torch.tensor(y, dtype=torch.int64)
        tr, va = _split(len(y), 497)
        super().__init__(X[tr], y[tr], X[va], y[va], size)

    def model(self) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(16 * 2 * 2, 10),
        )


class TabularMLP(RealTask):
    name = "tabular_mlp"
    batch_size = 32

    def __init__(self, size: TaskSize = FULL):
        from sklearn.datasets import load_breast_cancer

        X, y = load_breast_cancer(return_X_y=True)
        tr, va = _split(len(y), 169)
        mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-12
        X = torch.tensor((X - mu) / sd, dtype=torch.float32)
        y = torch.tensor(y, dtype=torch.int64)
        super().__init__(X[tr], y[tr], X[va], y[va], size)

    def model(self) -> nn.Module:
        return nn.Sequential(nn.Linear(30, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))


def stdlib_text(files: tuple[str, ...], max_chars: int | None = None) -> str:
    """The concatenated sources of standard-library modules of this interpreter."""
    root = Path(sysconfig.get_paths()["stdlib"])
    text = "\n".join((root / f).read_text(encoding="utf-8", errors="replace") for f in files)
    return text if max_chars is None else text[:max_chars]


def encode(text: str) -> torch.Tensor:
    return torch.tensor([CHAR_INDEX.get(c, UNKNOWN) for c in text], dtype=torch.int64)


class CharModel(nn.Module):
    def __init__(self, vocab: int, embed: int = 24, hidden: int = 64):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x):
        h, _ = self.lstm(self.embed(x))
        return self.head(h)


class CharLSTM(RealTask):
    """Next-character prediction; a row is a window of ``seq_len`` + 1 characters."""

    name = "char_lstm"
    batch_size = 16

    def __init__(self, size: TaskSize = FULL):
        train = encode(stdlib_text(STDLIB_TRAIN, size.text_chars))
        val = encode(stdlib_text(STDLIB_VAL, None if size.text_chars is None else size.text_chars // 4))
        self.seq_len = size.seq_len
        n_eval = size.text_eval_rows
        size = TaskSize(**{**size.__dict__, "eval_rows": n_eval})
        starts = torch.from_numpy(np.random.default_rng(7).integers(0, len(train) - self.seq_len - 1, n_eval))
        vstarts = torch.from_numpy(np.random.default_rng(8).integers(0, len(val) - self.seq_len - 1, n_eval))
        self.text = train
        X_eval, y_eval = self._windows(train, starts)
        Xv, yv = self._windows(val, vstarts)
        super().__init__(X_eval, y_eval, Xv, yv, size)

    def _windows(self, text: torch.Tensor, starts: torch.Tensor):
        idx = starts[:, None] + torch.arange(self.seq_len + 1)[None, :]
        w = text[idx]
        return w[:, :-1], w[:, 1:]

    def n_rows(self) -> int:
        return len(self.text) - self.seq_len - 1

    def minibatch(self, rng_word: np.ndarray):
        draw_indices(rng_word, self.n_rows(), self._rows)
        return self._windows(self.text, torch.from_numpy(self._rows))

    def model(self) -> nn.Module:
        return CharModel(len(PRINTABLE))

    def losses(self, model: nn.Module, x, y) -> torch.Tensor:
        """Negative log-likelihood of each window (summed over its characters, in nats)."""
        logits = model(x)
        return F.cross_entropy(logits.transpose(1, 2), y, reduction="none").sum(1)

    def validation(self, model: nn.Module) -> tuple[float, float]:
        with torch.no_grad():
            logits = model(self.Xv)
            loss = float(F.cross_entropy(logits.transpose(1, 2), self.yv, reduction="none").sum(1).double().mean())
            return loss, float((logits.argmax(2) == self.yv).double().mean())


TASKS: dict[str, Callable[[TaskSize], RealTask]] = {
    DigitsCNN.name: DigitsCNN,
    TabularMLP.name: TabularMLP,
    CharLSTM.name: CharLSTM,
}


def make_task(name: str, size: TaskSize = FULL) -> RealTask:
    if name not in TASKS:
        raise ValueError(f"unknown transfer task {name!r}; valid choices: {', '.join(TASKS)}")
    return TASKS[name](size)
