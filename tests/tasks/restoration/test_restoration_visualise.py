"""Restoration pictures: visible size with exact nearest blocks, the bicubic baseline panel, titles, error scale."""

from __future__ import annotations

import numpy as np
import torch

from tasks.restoration.baseline import bicubic_upscale
from tasks.restoration.visualise import error_map, side_by_side
from toolkit.engine.pictures import GAP


def _pair(h: int = 16, w: int = 24, s: int = 4):
    g = torch.Generator().manual_seed(0)
    gt = torch.rand(3, h * s, w * s, generator=g)
    lq = torch.rand(3, h, w, generator=g)
    pred = (gt + 0.05 * torch.randn(gt.shape, generator=g)).clamp(0, 1)
    return lq, pred, gt


def _u8(x: torch.Tensor) -> np.ndarray:
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def test_super_resolution_panels_are_visible_and_exact():
    lq, pred, gt = _pair()  # the output is 64 x 96: enlarged 4 times to 256 x 384
    plain = side_by_side(lq, pred, gt, labels=False)
    k, h, w = 4, 64, 96
    assert plain.shape == (h * k, 5 * w * k + 4 * GAP, 3)

    def tile(i):
        return plain[:, i * (w * k + GAP) : i * (w * k + GAP) + w * k]

    blocks = np.ones((k, k, 1), np.uint8)
    np.testing.assert_array_equal(tile(0), np.kron(_u8(lq), np.ones((4 * k, 4 * k, 1), np.uint8)))  # LQ: 16 x 16
    bicubic = _u8(bicubic_upscale(lq[None], 4)[0])  # the baseline the metrics score
    np.testing.assert_array_equal(tile(1), np.kron(bicubic, blocks))
    np.testing.assert_array_equal(tile(2), np.kron(_u8(pred), blocks))
    np.testing.assert_array_equal(tile(3), np.kron(_u8(gt), blocks))
    np.testing.assert_array_equal(tile(4), np.kron(error_map(_u8(pred), _u8(gt)), blocks))


def test_titles_legend_and_layout():
    lq, pred, gt = _pair()
    plain = side_by_side(lq, pred, gt, labels=False)
    picture = side_by_side(lq, pred, gt)
    assert picture.shape[1] == plain.shape[1] and min(picture.shape[:2]) >= 256
    np.testing.assert_array_equal(picture[22 : 22 + plain.shape[0]], plain)  # titles above, data untouched
    assert (picture[:22] < 128).any() and (picture[22 + plain.shape[0] :] < 128).any()  # titles; the error scale
    # a wide band (the tiny config's 32 x 160 held-out input, 128 x 640 output) stacks its panels in a column
    wide = side_by_side(*_pair(32, 160), labels=False)
    assert wide.shape == (5 * 256 + 4 * GAP, 1280, 3)
    # denoising (same size): input | output | ground truth | error, no bicubic panel
    same = side_by_side(gt, pred, gt, labels=False, scale=1)
    assert same.shape == (64, 4 * 96 + 3 * GAP, 3)
    np.testing.assert_array_equal(same[:, :96], _u8(gt))
