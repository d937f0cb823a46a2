"""Side-by-side pictures of restoration results: input | bicubic | output | ground truth | error, titled.

The low-resolution input is enlarged with nearest-neighbour sampling to the output size (so its
pixels stay visible); for super-resolution the bicubic up-scaling (MATLAB ``imresize``, the baseline
the metrics score) stands beside it. The error panel maps ``|output - ground truth|`` averaged over
channels, multiplied by ``error_gain``, through a black-red-yellow-white heat scale, with its legend.
Pictures smaller than 256 px on the short side are enlarged by a whole factor (nearest neighbour:
every pixel a k x k block) before the titles are drawn.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from toolkit.data.imresize import imresize
from toolkit.engine.pictures import column, enlarge, factor_for, legend, ramp, row, titled

__all__ = ["to_uint8", "error_map", "side_by_side"]


def to_uint8(img: torch.Tensor | np.ndarray) -> np.ndarray:
    """(C, H, W) tensor or (H, W, C) array in [0, 1] -> uint8 (H, W, 3), rounded half to even."""
    if isinstance(img, torch.Tensor):
        img = img.detach().float().cpu().numpy().transpose(1, 2, 0)  # (H, W, C)
    img = np.round(np.clip(img.astype(np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)
    if img.ndim == 2:
        img = img[..., None]
    return np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img[..., :3]


def _heat(e: np.ndarray) -> np.ndarray:
    # values in [0, 1] (H, W) -> black-red-yellow-white uint8 (H, W, 3)
    heat = np.stack([np.clip(3 * e, 0, 1), np.clip(3 * e - 1, 0, 1), np.clip(3 * e - 2, 0, 1)], axis=-1)
    return (heat * 255.0 + 0.5).astype(np.uint8)


def error_map(pred: np.ndarray, target: np.ndarray, gain: float = 4.0) -> np.ndarray:
    """Heat map (uint8 (H, W, 3)) of the mean absolute error of two uint8 images, scaled by ``gain``."""
    return _heat(np.abs(pred.astype(np.float32) - target.astype(np.float32)).mean(axis=2) / 255.0 * gain)


def side_by_side(
    lq: torch.Tensor | np.ndarray,
    pred: torch.Tensor | np.ndarray,
    gt: torch.Tensor | np.ndarray,
    *,
    error_gain: float = 4.0,
    labels: bool = True,
    scale: int | None = None,
) -> np.ndarray:
    """One uint8 picture: input (enlarged) | bicubic (super-resolution only) | output | ground truth | error.

    Panels stand in a row, or in a column when they are more than twice as wide as tall (a wide
    band stays readable).

    Args:
        lq: degraded input, (C, h, w) tensor or (h, w, C) array in [0, 1] or uint8.
        pred: restored output, (C, H, W) / (H, W, C), H = s h.
        gt: ground truth of the output's size.
        error_gain: multiplier of the error heat map.
        labels: a title above each panel and the error scale below.
        scale: display enlargement of every panel (``None``: the least whole factor giving panels of at
            least 256 px on the short side; 1 = the output's size).
    """
    lq8, pred8, gt8 = (x if isinstance(x, np.ndarray) and x.dtype == np.uint8 else to_uint8(x) for x in (lq, pred, gt))
    h, w = gt8.shape[:2]
    s = h // lq8.shape[0] if lq8.shape[0] else 1
    panels = [("input (degraded)", lq8)]
    if lq8.shape[:2] != (h, w):
        if (lq8.shape[0] * s, lq8.shape[1] * s) == (h, w):
            panels = [(f"LQ input (nearest x{s})", enlarge(lq8, s))]
            panels.append((f"bicubic x{s} (baseline)", imresize(lq8, s)))
        else:  # sizes that are no whole multiple: shown at the output's size
            panels = [("LQ input (nearest)", cv2.resize(lq8, (w, h), interpolation=cv2.INTER_NEAREST))]
    top = 255.0 / error_gain
    panels += [
        ("output", pred8[:h, :w]),
        ("ground truth", gt8),
        (f"|error| x{error_gain:g}", error_map(pred8[:h, :w], gt8, error_gain)),
    ]
    k = factor_for(h, w) if scale is None else int(scale)
    tiles = [enlarge(p, k) for _, p in panels]
    stack = column if w > 2 * h else row
    if not labels:
        return stack(tiles)
    picture = stack([titled(t, name) for t, (name, _) in zip(tiles, panels)])
    scale_bar = (
        ramp(_heat(np.linspace(0, 1, 64)[None])[0]),
        f"mean |output - ground truth|: 0 .. {top:.0f}/255 or more",
    )
    return column([picture, legend([scale_bar], picture.shape[1], title="error:")])
