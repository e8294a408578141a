"""Rendering an LR-control episode: a text line per step, or a picture of the run so far.

Two modes, as gymnasium names them (``env.metadata["render_modes"]``):

* ``"ansi"``: :meth:`EpisodeRecorder.ansi` is one line for the current step, e.g.
  ``step   3/50  lr 1.000e-02  train 2.345e-01  val 2.401e-01  metric 0.9120``
  (``diverged`` / ``rejected`` appended when they happen). ``gym.make(id,
  render_mode="ansi_list")`` collects the lines of a whole episode (gymnasium's RenderCollection).
* ``"rgb_array"``: :meth:`EpisodeRecorder.rgb_array` is an ``(H, W, 3)`` ``uint8`` image of the
  episode so far, drawn with NumPy alone (no matplotlib, so the core stays light and a frame costs
  well under a millisecond): the top panel is log10 of the LR over the steps, on the env's fixed
  range ``[lr_min, lr_max]``; the bottom panel is log10 of the training loss (blue) and of the
  validation loss (orange), on the range of the values seen so far. The x axis runs from step 0
  to the horizon. Faint grey lines mark whole decades (at most :data:`MAX_GRID_LINES` per panel:
  every k-th decade beyond that); a non-finite loss is drawn at the top edge. The picture has no
  text: use ``"ansi"`` or the info dicts for numbers. ``render_fps`` only paces video recorders
  (e.g. gymnasium's ``RecordVideo``).

An unknown mode raises :class:`RenderModeError`, a ``ValueError`` that is also a ``TypeError``:
Stable-Baselines3's ``make_vec_env`` passes ``render_mode="rgb_array"`` to ``gym.make`` and
retries without it only on ``TypeError``.
"""

from __future__ import annotations

import math

import numpy as np

from lrgym.brief import brief

RENDER_MODES: tuple[str, ...] = ("ansi", "rgb_array")
RENDER_FPS = 4
#: size of an ``rgb_array`` frame (height, width)
FRAME_SHAPE = (360, 480)
MARGIN = 12
MAX_GRID_LINES = 10
BACKGROUND = (255, 255, 255)
FRAME_COLOUR = (60, 60, 60)
GRID_COLOUR = (225, 225, 225)
LR_COLOUR = (20, 20, 20)
TRAIN_COLOUR = (31, 119, 180)
VAL_COLOUR = (255, 127, 14)


#: the info keys a frame is drawn from
RECORDED_KEYS: tuple[str, ...] = ("step", "lr", "train_loss", "val_loss", "val_metric", "diverged", "rejected")


class RenderModeError(ValueError, TypeError):
    """An unsupported ``render_mode`` (a TypeError too, so SB3's ``make_vec_env`` falls back)."""


def check_render_mode(render_mode: str | None, vector: bool = False) -> str | None:
    """``render_mode`` if supported (None: no rendering), else :class:`RenderModeError`; for
    ``"human"`` the error says how to get a window (``gym.make`` wraps a single env in
    ``HumanRendering`` itself; a ``vector`` env is wrapped by hand)."""
    # a mode is a str: an array was NumPy's bare "truth value of an array ... is ambiguous"
    if render_mode is not None and not (isinstance(render_mode, str) and render_mode in RENDER_MODES):
        hint = ""
        if isinstance(render_mode, str) and render_mode == "human":
            hint = ("; for a window, make it with render_mode='rgb_array' and wrap it in "
                    + ("gymnasium.wrappers.vector.HumanRendering (pygame)" if vector else
                       "gymnasium.wrappers.HumanRendering (pygame), as gym.make(id, render_mode='human') does"))
        raise RenderModeError(
            f"unknown render_mode {brief(render_mode)}; valid choices: None, " + ", ".join(map(repr, RENDER_MODES)) + hint
        )
    return render_mode


class EpisodeRecorder:
    """The per-step values an episode's frames are drawn from (kept only when rendering).

    :meth:`start` takes the reset info, :meth:`record` each step's info (keys ``step``, ``lr``,
    ``train_loss``, ``val_loss``, ``val_metric``, ``diverged``, ``rejected``).
    """

    def __init__(self, horizon: int, lr_min: float, lr_max: float):
        self.horizon = int(horizon)
        self.lr_min, self.lr_max = float(lr_min), float(lr_max)
        self.rows: list[dict] = []

    def start(self, info: dict) -> None:
        self.rows = []
        self.record(info)

    def record(self, info: dict) -> None:
        self.rows.append({k: info.get(k) for k in RECORDED_KEYS})

    # ---- ansi ---------------------------------------------------------------------------------

    def ansi(self) -> str:
        """The current step as one line of text (ending in a newline)."""
        if not self.rows:
            return "(no episode: call reset())\n"
        r = self.rows[-1]
        width = len(str(self.horizon))
        line = (f"step {int(r['step']):>{width}d}/{self.horizon}  lr {r['lr']:.3e}  train {r['train_loss']:.4e}"
                f"  val {r['val_loss']:.4e}  metric {r['val_metric']:.4f}")
        if r.get("diverged"):
            line += "  diverged"
        if r.get("rejected"):
            line += "  rejected"
        return line + "\n"

    # ---- rgb_array ----------------------------------------------------------------------------

    def rgb_array(self) -> np.ndarray:
        """The episode so far as an ``(H, W, 3)`` uint8 image (see the module docstring)."""
        h, w = FRAME_SHAPE
        img = np.empty((h, w, 3), dtype=np.uint8)
        img[:] = BACKGROUND
        top, bottom = panel_boxes()
        steps = np.array([r["step"] for r in self.rows], dtype=np.float64)
        lr = np.log10(np.array([r["lr"] for r in self.rows], dtype=np.float64))
        lo, hi = math.log10(self.lr_min), math.log10(self.lr_max)
        draw_panel(img, top, (lo, hi))
        draw_series(img, top, steps, lr, self.horizon, (lo, hi), LR_COLOUR)
        train = _log10([r["train_loss"] for r in self.rows])
        val = _log10([r["val_loss"] for r in self.rows])
        y_range = loss_range(np.concatenate([train, val]))
        draw_panel(img, bottom, y_range)
        draw_series(img, bottom, steps, val, self.horizon, y_range, VAL_COLOUR)
        draw_series(img, bottom, steps, train, self.horizon, y_range, TRAIN_COLOUR)
        return img


def _log10(values) -> np.ndarray:
    a = np.array(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(np.where(a > 0, a, 1.0))
    out = np.where(a > 0, out, -np.inf)  # a loss of 0: the bottom edge
    return np.where(np.isnan(a) | (a == np.inf), np.inf, out)  # a non-finite loss: the top edge


def panel_boxes() -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    """(row0, row1, col0, col1) of the LR panel and of the loss panel (inclusive pixel bounds)."""
    h, w = FRAME_SHAPE
    mid = h // 2
    return (MARGIN, mid - MARGIN // 2, MARGIN, w - 1 - MARGIN), (mid + MARGIN // 2, h - 1 - MARGIN, MARGIN, w - 1 - MARGIN)


def loss_range(log_losses: np.ndarray) -> tuple[float, float]:
    """The loss panel's log10 range: the finite values seen so far, padded by 5 % (±0.5 if flat)."""
    finite = log_losses[np.isfinite(log_losses)]
    if finite.size == 0:
        return -1.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    pad = 0.05 * (hi - lo) if hi > lo else 0.5
    return lo - pad, hi + pad


def to_pixels(box, steps: np.ndarray, values: np.ndarray, horizon: int, y_range: tuple[float, float]):
    """Pixel (rows, cols) of points (step, value) in a panel; values clipped to the panel, +inf
    and NaN at its top edge."""
    r0, r1, c0, c1 = box
    lo, hi = y_range
    cols = c0 + steps / max(horizon, 1) * (c1 - c0)
    frac = np.clip((values - lo) / (hi - lo), 0.0, 1.0)
    frac = np.where(np.isnan(values) | (values == np.inf), 1.0, frac)
    rows = r1 - frac * (r1 - r0)
    return np.rint(rows).astype(np.int64), np.rint(cols).astype(np.int64)


def draw_panel(img: np.ndarray, box, y_range: tuple[float, float]) -> None:
    """A panel's decade grid lines and its frame."""
    r0, r1, c0, c1 = box
    lo, hi = y_range
    first, last = math.ceil(lo), math.floor(hi)
    every = max(1, math.ceil((last - first + 1) / MAX_GRID_LINES))
    for decade in range(first, last + 1, every):
        row = int(round(r1 - (decade - lo) / (hi - lo) * (r1 - r0)))
        img[row, c0:c1 + 1] = GRID_COLOUR
    img[[r0, r1], c0:c1 + 1] = FRAME_COLOUR
    img[r0:r1 + 1, [c0, c1]] = FRAME_COLOUR


def draw_series(img: np.ndarray, box, steps, values, horizon: int, y_range, colour) -> None:
    """A polyline through the points, 2 px thick (a single point: a 3×3 dot)."""
    rows, cols = to_pixels(box, np.asarray(steps, float), np.asarray(values, float), horizon, y_range)
    if rows.size == 1:
        img[rows[0] - 1:rows[0] + 2, cols[0] - 1:cols[0] + 2] = colour
        return
    for (ra, ca), (rb, cb) in zip(zip(rows[:-1], cols[:-1]), zip(rows[1:], cols[1:])):
        n = int(max(abs(rb - ra), abs(cb - ca))) + 1
        rr = np.rint(np.linspace(ra, rb, n)).astype(np.int64)
        cc = np.rint(np.linspace(ca, cb, n)).astype(np.int64)
        img[rr, cc] = colour
        img[np.minimum(rr + 1, img.shape[0] - 1), cc] = colour
