"""Pictures of video predictions: a labelled strip per sample and an animated GIF.

- :func:`clip_strip`: rows input / target / prediction / absolute error, one column per frame, each
  frame captioned with its time (``t-3 .. t``, ``t+1 ..``), as a uint8 (H, W, 3) array (what the
  Trainer writes to ``vis/`` and TensorBoard); frames enlarged to at least 128 px;
- :func:`clip_animation`: frames of a titled side-by-side truth / prediction / error movie, uint8
  (F, H, W, 3), frames at least 256 px, and :func:`save_gif` / :func:`save_png` to write them.

Enlargement is by a whole factor with nearest-neighbour sampling (``toolkit.engine.pictures``): every
data pixel becomes a k x k block, nothing is interpolated.

Frames are (T, C, H, W) float arrays in the data scale, shown in ``value_range`` ((0, 1) by
default); one channel is shown grey, three as RGB, other counts by their first channel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolkit.engine.pictures import enlarge, factor_for, text_band, text_width, titled

__all__ = ["clip_strip", "clip_animation", "save_png", "save_gif"]

_GAP = 2  # white pixels between frames and rows
FRAME_SIDE = 128  # strips: frames enlarged (whole factor, nearest) to at least this short side


def _to_rgb(frames: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    # (T, C, H, W) float -> (T, H, W, 3) float in [0, 1]
    lo, hi = value_range
    frames = (np.asarray(frames, dtype=np.float32) - lo) / max(hi - lo, 1e-12)
    rgb = frames[:, :3] if frames.shape[1] == 3 else np.repeat(frames[:, :1], 3, axis=1)
    return np.clip(rgb, 0, 1).transpose(0, 2, 3, 1)


def _uint8(frames: np.ndarray, k: int) -> np.ndarray:
    # (T, H, W, 3) float in [0, 1] -> (T, H k, W k, 3) uint8, each pixel a k x k block
    return enlarge((frames * 255).round().astype(np.uint8), k)


def _row(frames: np.ndarray, width: int, captions: list[str] | None) -> np.ndarray:
    # (T, H, W, 3) uint8 -> one row of `width` frame slots, each followed by a gap; slots past T stay white
    t, h, w, _ = frames.shape
    slots = []
    for i in range(width):
        tile = frames[i] if i < t else np.full((h, w, 3), 255, np.uint8)
        if captions is not None:
            tile = titled(tile, captions[i] if i < t else "")
        slots.append(np.concatenate([tile, np.full((tile.shape[0], _GAP, 3), 255, np.uint8)], axis=1))
    return np.concatenate(slots, axis=1)


def _times(t_in: int, t_out: int) -> tuple[list[str], list[str]]:
    """Frame captions: the context ``t-(T_in-1) .. t``, the forecast ``t+1 .. t+T_out``."""
    return [f"t-{t_in - 1 - i}" if i < t_in - 1 else "t" for i in range(t_in)], [f"t+{i + 1}" for i in range(t_out)]


def clip_strip(
    inputs: np.ndarray,
    target: np.ndarray,
    pred: np.ndarray,
    *,
    labels: bool = True,
    error: bool = True,
    value_range: tuple[float, float] = (0.0, 1.0),
    scale: int | None = None,
) -> np.ndarray:
    """A uint8 (H, W, 3) picture: rows input, target, prediction and absolute error.

    The error row shows |pred - target| stretched so that its largest value is white; the label
    gives that value, so strips of different steps stay comparable. Frames are enlarged by a whole
    factor (nearest neighbour: every data pixel is a k x k block) to at least ``FRAME_SIDE`` pixels.

    Args:
        inputs: (T_in, C, H, W); target, pred: (T_out, C, H, W), in the data scale.
        labels: name the rows in a left margin and caption every frame with its time (t-3 .. t, t+1 ..).
        error: add the absolute-error row.
        value_range: data values shown black and white.
        scale: the enlargement factor (``None``: the least reaching ``FRAME_SIDE``; 1 = data size).
    """
    inputs, target, pred = (np.asarray(a, dtype=np.float32) for a in (inputs, target, pred))
    if target.shape != pred.shape or inputs.shape[1:] != target.shape[1:]:
        raise ValueError(
            f"clip_strip expects inputs (T_in, C, H, W) and target, pred (T_out, C, H, W) of equal frames, "
            f"got {inputs.shape}, {target.shape}, {pred.shape}"
        )
    k = factor_for(*inputs.shape[2:], FRAME_SIDE) if scale is None else int(scale)
    width = max(len(inputs), len(target))
    before, after = _times(len(inputs), len(target)) if labels else (None, None)
    rows = [
        ("input", _row(_uint8(_to_rgb(inputs, value_range), k), width, before)),
        ("target", _row(_uint8(_to_rgb(target, value_range), k), width, after)),
        ("prediction", _row(_uint8(_to_rgb(pred, value_range), k), width, after)),
    ]
    if error:
        err = np.abs(pred - target)
        peak = float(err.max())
        frames = _uint8(_to_rgb(err, (0.0, max(peak, 1e-8))), k)
        rows.append((f"|error|\nwhite = {peak:.2g}", _row(frames, width, after)))
    if labels:
        margin = max(text_width(line) for name, _ in rows for line in name.split("\n")) + 10
        rows = [(name, np.concatenate([_margin(name, r.shape[0], margin), r], axis=1)) for name, r in rows]
    gap = np.full((_GAP, rows[0][1].shape[1], 3), 255, dtype=np.uint8)
    parts = [x for _, r in rows for x in (r, gap)][:-1]
    return np.concatenate(parts, axis=0)


def _margin(text: str, height: int, width: int) -> np.ndarray:
    # a white (height, width, 3) margin with `text` centred vertically below the frame captions
    band = text_band(text, width, center=False)
    out = np.full((height, width, 3), 255, np.uint8)
    top = min(max((height - band.shape[0]) // 2 + 11, 0), max(height - band.shape[0], 0))
    out[top : top + band.shape[0]] = band[: height - top]
    return out


def clip_animation(
    inputs: np.ndarray,
    target: np.ndarray,
    pred: np.ndarray,
    *,
    value_range: tuple[float, float] = (0.0, 1.0),
    labels: bool = True,
    scale: int | None = None,
) -> np.ndarray:
    """Movie frames uint8 (T_in + T_out, H', W', 3): ground truth | prediction | error, titled.

    During the input frames both panels show the input and the error panel is blank; then the
    truth panel plays the target, the prediction panel the prediction and the third panel
    |pred - target| stretched to its clip-wide maximum. Frames are enlarged by a whole factor
    (nearest neighbour) to at least ``MIN_SIDE`` (256) pixels; with ``labels`` a band above names the
    frame (``input t-2``, ``forecast t+3``) and the panels.

    Args:
        scale: the enlargement factor (``None``: the least reaching 256 px; 1 = data size).
    """
    inputs, target, pred = (np.asarray(a, dtype=np.float32) for a in (inputs, target, pred))
    err = np.abs(pred - target)
    peak = max(float(err.max()), 1e-8)
    k = factor_for(*inputs.shape[2:]) if scale is None else int(scale)
    truth = _uint8(_to_rgb(np.concatenate([inputs, target]), value_range), k)  # (T, H k, W k, 3)
    guess = _uint8(_to_rgb(np.concatenate([inputs, pred]), value_range), k)
    error = _uint8(np.concatenate([np.ones_like(_to_rgb(inputs, value_range)), _to_rgb(err, (0.0, peak))]), k)
    t, h, w, _ = truth.shape
    gap = np.full((t, h, _GAP, 3), 255, np.uint8)
    movie = np.concatenate([truth, gap, guess, gap, error], axis=2)  # (T, H k, 3 W k + 2 gap, 3)
    if not labels:
        return movie
    heads = [text_band(name, w) for name in ("ground truth", "prediction", f"|error| (white = {peak:.2g})")]
    head = np.concatenate([heads[0], gap[0, : heads[0].shape[0]], heads[1], gap[0, : heads[0].shape[0]], heads[2]], 1)
    before, after = _times(len(inputs), len(target))
    names = [f"input {c}" for c in before] + [f"forecast {c} (of {len(target)})" for c in after]
    return np.stack([np.concatenate([text_band(n, movie.shape[2]), head, f], axis=0) for n, f in zip(names, movie)])


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
