"""Side-by-side pictures of restoration results: input | output | ground truth | error.

The input is enlarged with nearest-neighbour interpolation to the output size (so low-resolution
pixels stay visible), and the error panel maps ``|output - ground truth|`` averaged over channels,
multiplied by ``error_gain``, through a black-red-yellow-white heat scale.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

__all__ = ["to_uint8", "error_map", "side_by_side"]

_LABELS = ("input", "output", "ground truth", "error")


def to_uint8(img: torch.Tensor | np.ndarray) -> np.ndarray:
    """(C, H, W) tensor or (H, W, C) array in [0, 1] -> uint8 (H, W, 3), rounded half to even."""
    if isinstance(img, torch.Tensor):
        img = img.detach().float().cpu().numpy().transpose(1, 2, 0)  # (H, W, C)
    img = np.round(np.clip(img.astype(np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)
    if img.ndim == 2:
        img = img[..., None]
    return np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img[..., :3]


def error_map(pred: np.ndarray, target: np.ndarray, gain: float = 4.0) -> np.ndarray:
    """Heat map (uint8 (H, W, 3)) of the mean absolute error of two uint8 images, scaled by ``gain``."""
    e = np.abs(pred.astype(np.float32) - target.astype(np.float32)).mean(axis=2) / 255.0 * gain  # (H, W)
    heat = np.stack([np.clip(3 * e, 0, 1), np.clip(3 * e - 1, 0, 1), np.clip(3 * e - 2, 0, 1)], axis=2)
    return (heat * 255.0 + 0.5).astype(np.uint8)


def _label(panel: np.ndarray, text: str) -> np.ndarray:
    header = np.full((18, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(header, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([header, panel], axis=0)


def side_by_side(
    lq: torch.Tensor | np.ndarray,
    pred: torch.Tensor | np.ndarray,
    gt: torch.Tensor | np.ndarray,
    *,
    error_gain: float = 4.0,
    labels: bool = True,
) -> np.ndarray:
    """One uint8 (H', 4 W, 3) picture: input (enlarged) | output | ground truth | error.

    Args:
        lq: degraded input, (C, h, w) tensor or (h, w, C) array in [0, 1] or uint8.
        pred: restored output, (C, H, W) / (H, W, C), H = s h.
        gt: ground truth of the output's size.
        error_gain: multiplier of the error heat map.
        labels: add a caption strip above each panel.
    """
    lq8, pred8, gt8 = (x if isinstance(x, np.ndarray) and x.dtype == np.uint8 else to_uint8(x) for x in (lq, pred, gt))
    h, w = gt8.shape[:2]
    if lq8.shape[:2] != (h, w):
        lq8 = cv2.resize(lq8, (w, h), interpolation=cv2.INTER_NEAREST)
    panels = [lq8, pred8[:h, :w], gt8, error_map(pred8[:h, :w], gt8, error_gain)]
    if labels:
        panels = [_label(p, t) for p, t in zip(panels, _LABELS)]
    gap = np.full((panels[0].shape[0], 4, 3), 255, np.uint8)
    row = [panels[0]]
    for p in panels[1:]:
        row += [gap, p]
    return np.concatenate(row, axis=1)
