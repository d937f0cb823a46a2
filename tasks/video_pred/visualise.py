"""Pictures of video predictions: a labelled strip per sample and an animated GIF.

- :func:`clip_strip`: rows input / target / prediction / absolute error, one column per frame,
  as a uint8 (H, W, 3) array (what the Trainer writes to ``vis/`` and TensorBoard);
- :func:`clip_animation`: frames of a side-by-side truth / prediction / error movie, uint8
  (F, H, W, 3), and :func:`save_gif` / :func:`save_png` to write them.

Frames are (T, C, H, W) float arrays in the data scale, shown in ``value_range`` ((0, 1) by
default); one channel is shown grey, three as RGB, other counts by their first channel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["clip_strip", "clip_animation", "save_png", "save_gif"]

_GAP = 2  # white pixels between frames and rows
_LABEL_WIDTH = 52


def _to_rgb(frames: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    # (T, C, H, W) float -> (T, H, W, 3) float in [0, 1]
    lo, hi = value_range
    frames = (np.asarray(frames, dtype=np.float32) - lo) / max(hi - lo, 1e-12)
    rgb = frames[:, :3] if frames.shape[1] == 3 else np.repeat(frames[:, :1], 3, axis=1)
    return np.clip(rgb, 0, 1).transpose(0, 2, 3, 1)


def _row(frames: np.ndarray, width: int) -> np.ndarray:
    # (T, H, W, 3) in [0, 1] -> (H, width * (W + gap), 3) uint8, padded with white to `width` frames
    t, h, w, _ = frames.shape
    tiles = np.ones((width, h, w + _GAP, 3), dtype=np.float32)
    tiles[:t, :, :w] = frames
    return (tiles.transpose(1, 0, 2, 3).reshape(h, width * (w + _GAP), 3) * 255).round().astype(np.uint8)


def _label(row: np.ndarray, text: str) -> np.ndarray:
    # prepend a white margin holding `text` (black, small Hershey font) to a (H, W, 3) row
    import cv2

    h = row.shape[0]
    margin = np.full((h, _LABEL_WIDTH, 3), 255, dtype=np.uint8)
    scale = 0.3 if h < 24 else 0.35
    for k, line in enumerate(text.split("\n")):
        y = min(h - 2, h // 2 + 4 + 11 * k - 5 * (text.count("\n")))
        cv2.putText(margin, line, (2, max(y, 8)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([margin, row], axis=1)


def clip_strip(
    inputs: np.ndarray,
    target: np.ndarray,
    pred: np.ndarray,
    *,
    labels: bool = True,
    error: bool = True,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> np.ndarray:
    """A uint8 (H, W, 3) picture: rows input, target, prediction and absolute error.

    The error row shows |pred - target| stretched so that its largest value is white; the label
    gives that value, so strips of different steps stay comparable.

    Args:
        inputs: (T_in, C, H, W); target, pred: (T_out, C, H, W), in the data scale.
        labels: write the row names in a left margin.
        error: add the absolute-error row.
        value_range: data values shown black and white.
    """
    inputs, target, pred = (np.asarray(a, dtype=np.float32) for a in (inputs, target, pred))
    if target.shape != pred.shape or inputs.shape[1:] != target.shape[1:]:
        raise ValueError(
            f"clip_strip expects inputs (T_in, C, H, W) and target, pred (T_out, C, H, W) of equal frames, "
            f"got {inputs.shape}, {target.shape}, {pred.shape}"
        )
    width = max(len(inputs), len(target))
    rows = [
        ("input", _row(_to_rgb(inputs, value_range), width)),
        ("target", _row(_to_rgb(target, value_range), width)),
        ("prediction", _row(_to_rgb(pred, value_range), width)),
    ]
    if error:
        err = np.abs(pred - target)
        peak = float(err.max())
        rows.append((f"|error|\nmax {peak:.2g}", _row(_to_rgb(err, (0.0, max(peak, 1e-8))), width)))
    if labels:
        rows = [(name, _label(row, name)) for name, row in rows]
    gap = np.full((_GAP, rows[0][1].shape[1], 3), 255, dtype=np.uint8)
    parts = [x for _, row in rows for x in (row, gap)][:-1]
    return np.concatenate(parts, axis=0)


def clip_animation(
    inputs: np.ndarray,
    target: np.ndarray,
    pred: np.ndarray,
    *,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> np.ndarray:
    """Movie frames uint8 (T_in + T_out, H, 3 * W + 2 * gap, 3): truth | prediction | error.

    During the input frames both panels show the input and the error panel is blank; then the
    truth panel plays the target, the prediction panel the prediction and the third panel
    |pred - target| stretched to its clip-wide maximum.
    """
    inputs, target, pred = (np.asarray(a, dtype=np.float32) for a in (inputs, target, pred))
    err = np.abs(pred - target)
    peak = max(float(err.max()), 1e-8)
    truth = _to_rgb(np.concatenate([inputs, target]), value_range)  # (T, H, W, 3)
    guess = _to_rgb(np.concatenate([inputs, pred]), value_range)
    error = np.concatenate([np.ones_like(_to_rgb(inputs, value_range)), _to_rgb(err, (0.0, peak))])
    t, h, w, _ = truth.shape
    gap = np.ones((t, h, _GAP, 3), dtype=np.float32)
    movie = np.concatenate([truth, gap, guess, gap, error], axis=2)  # (T, H, 3W + 2 gap, 3)
    return (movie * 255).round().astype(np.uint8)


def save_png(picture: np.ndarray, path: str | Path) -> Path:
    """Write a uint8 (H, W, 3) picture as PNG (parent folders are created)."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(picture)).save(path)
    return path


def save_gif(frames: np.ndarray, path: str | Path, *, fps: float = 4.0, loop: int = 0) -> Path:
    """Write uint8 (F, H, W, 3) frames as an animated GIF that loops forever (``loop=0``)."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=int(round(1000 / fps)), loop=loop, optimize=False
    )
    return path
