"""Pictures of video predictions: one strip per sample with rows input / target / prediction / error."""

from __future__ import annotations

import numpy as np

__all__ = ["clip_strip"]


def _row(frames: np.ndarray, width: int) -> np.ndarray:
    # (T, C, H, W) in [0, 1] -> (H, width * (W + 2), 3) uint8, padded to `width` frames
    t, c, h, w = frames.shape
    rgb = frames if c == 3 else np.repeat(frames[:, :1], 3, axis=1)
    tiles = np.ones((width, 3, h, w + 2), dtype=np.float32)
    tiles[:t, :, :, :w] = np.clip(rgb, 0, 1)
    return (tiles.transpose(2, 0, 3, 1).reshape(h, width * (w + 2), 3) * 255).round().astype(np.uint8)


def clip_strip(inputs: np.ndarray, target: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """A uint8 (H, W, 3) picture: rows input, target, prediction and absolute error.

    Args:
        inputs: (T_in, C, H, W) in [0, 1]; target, pred: (T_out, C, H, W) in [0, 1].
    """
    width = max(len(inputs), len(target))
    err = np.abs(pred - target)
    rows = [_row(inputs, width), _row(target, width), _row(pred, width), _row(err / max(err.max(), 1e-8), width)]
    gap = np.full((2, rows[0].shape[1], 3), 255, dtype=np.uint8)
    return np.concatenate([x for r in rows for x in (r, gap)][:-1], axis=0)
