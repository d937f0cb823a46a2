"""FFT loss: hand-computed values, clip folding, multi-scale targets, registry use."""

from __future__ import annotations

import pytest
import torch

from toolkit.losses import build_loss
from toolkit.losses.fft import FFTLoss, fft_l1


def test_constant_offset_only_moves_the_dc_term():
    # FFT2(x + c) - FFT2(x) = c * H * W at frequency 0 (real), zero elsewhere;
    # the mean over H * W frequencies x 2 parts is |c| / 2
    x = torch.rand(2, 3, 8, 12)
    assert fft_l1(x, x).item() == 0.0
    assert FFTLoss()(x + 0.3, x).item() == pytest.approx(0.15, rel=1e-5)


def test_single_frequency_by_hand():
    # a delta of height 1 at one pixel has |FFT| = 1 at every frequency, all real at the origin
    pred = torch.zeros(1, 1, 4, 4)
    pred[..., 0, 0] = 1.0
    target = torch.zeros_like(pred)
    # real part 1 everywhere, imaginary 0: mean over 16 x 2 values = 0.5
    assert fft_l1(pred, target).item() == pytest.approx(0.5)


def test_clips_equal_folded_frames_and_gradients_flow():
    pred = torch.rand(2, 3, 1, 16, 16, requires_grad=True)
    target = torch.rand(2, 3, 1, 16, 16)
    loss = FFTLoss()(pred, target)
    assert loss.item() == pytest.approx(FFTLoss()(pred.flatten(0, 1), target.flatten(0, 1)).item(), rel=1e-6)
    loss.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    ms = FFTLoss(multi_scale=True)(pred, target)
    assert torch.isfinite(ms)


def test_multi_scale_sums_three_scales():
    x = torch.rand(1, 3, 32, 32)
    # a constant offset survives bilinear down-sampling, so each scale adds 0.2 / 2
    assert FFTLoss(multi_scale=True)(x + 0.2, x).item() == pytest.approx(0.3, rel=1e-5)
    # coarse-to-fine outputs given as a list are matched to the targets by size
    preds = [x[..., ::4, ::4] * 0 + 1, x[..., ::2, ::2] * 0 + 1, x * 0 + 1]
    value = FFTLoss(multi_scale=True)(preds, x)
    t2 = torch.nn.functional.interpolate(x, scale_factor=0.5, mode="bilinear")
    t4 = torch.nn.functional.interpolate(x, scale_factor=0.25, mode="bilinear")
    expected = fft_l1(preds[2], x) + fft_l1(preds[1], t2) + fft_l1(preds[0], t4)
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match="no prediction of size"):
        FFTLoss(multi_scale=True)([x], x)


def test_registered_with_weight():
    loss = build_loss([dict(type="l1", weight=1.0), dict(type="fft", weight=0.05)])
    x = torch.rand(1, 3, 8, 8)
    out = loss(x + 0.1, x)
    assert out["loss_fft"].item() == pytest.approx(0.05, rel=1e-5)
    assert out["loss"].item() == pytest.approx(0.1 + 0.05 * 0.05, rel=1e-5)
