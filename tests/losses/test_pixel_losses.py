"""Pixel losses and weighted sums built from config lists."""

import math

import pytest
import torch

from toolkit.errors import ConfigError, DataError, RegistryError
from toolkit.losses import build_loss


def test_hand_computed_values():
    pred = torch.tensor([0.0, 1.0, 3.0])
    target = torch.tensor([0.0, 0.0, 1.0])
    assert build_loss("mse")(pred, target)["loss"].item() == pytest.approx(5 / 3)
    assert build_loss("l1")(pred, target)["loss"].item() == pytest.approx(1.0)
    eps = 1e-3
    want = (eps + math.sqrt(1 + eps**2) + math.sqrt(4 + eps**2)) / 3
    assert build_loss("charbonnier")(pred, target)["loss"].item() == pytest.approx(want, rel=1e-6)


def test_weighted_sum_reports_terms_and_total():
    loss = build_loss([dict(type="mse", weight=2.0), dict(type="l1", weight=0.5), dict(type="mse", weight=1.0)])
    out = loss(torch.tensor([2.0]), torch.tensor([0.0]))
    assert set(out) == {"loss", "loss_mse", "loss_l1", "loss_mse2"}
    assert out["loss"].item() == pytest.approx(2 * 4 + 0.5 * 2 + 4)
    assert out["loss_mse"].item() == pytest.approx(4.0)


def test_ssim_losses_on_images_and_clips():
    torch.manual_seed(0)
    x = torch.rand(2, 1, 32, 32)
    ssim = build_loss("ssim")
    assert ssim(x, x)["loss"].item() == pytest.approx(0.0, abs=1e-5)
    assert ssim(x, torch.rand_like(x))["loss"].item() > 0.5
    clip = torch.rand(2, 3, 1, 32, 32)  # (B, T, C, H, W) is scored frame by frame
    assert ssim(clip, clip)["loss"].item() == pytest.approx(0.0, abs=1e-5)
    big = torch.rand(1, 1, 176, 176)
    assert build_loss("ms_ssim")(big, big)["loss"].item() == pytest.approx(0.0, abs=1e-5)


def test_bad_specs():
    with pytest.raises(ConfigError, match="'loss' is empty"):
        build_loss(None)
    with pytest.raises(RegistryError, match="unknown type 'mes'.*Did you mean 'mse'"):
        build_loss([dict(type="mes")])


def test_ssim_of_constant_images_is_the_luminance_term():
    # constant images have no variance, so SSIM = (2ab + C1) / (a^2 + b^2 + C1), C1 = (0.01 * data_range)^2
    a, b, c1 = 0.01, 0.05, 0.01**2  # dark values: C1 matters (0.407 with it, 0.385 without)
    x, y = torch.full((1, 1, 16, 16), a), torch.full((1, 1, 16, 16), b)
    want = 1 - (2 * a * b + c1) / (a * a + b * b + c1)
    assert build_loss("ssim")(x, y)["loss"].item() == pytest.approx(want, rel=1e-5)
    # three scales: the contrast-structure terms are 1, the coarsest scale's SSIM carries its rescaled exponent
    exponent = 0.3001 / (0.0448 + 0.2856 + 0.3001)
    x, y = torch.full((1, 1, 64, 64), a), torch.full((1, 1, 64, 64), b)
    got = build_loss(dict(type="ms_ssim", levels=3))(x, y)["loss"].item()
    assert got == pytest.approx(1 - ((2 * a * b + c1) / (a * a + b * b + c1)) ** exponent, rel=1e-5)


def test_ms_ssim_with_fewer_scales_is_pytorch_msssim_recursion():
    from pytorch_msssim import ms_ssim

    from toolkit.losses.pixel import MS_SSIM_WEIGHTS, _ms_ssim_few_levels, max_ms_ssim_levels, ms_ssim_weights

    torch.manual_seed(0)
    x = torch.rand(2, 3, 177, 170)  # odd sides: the pooling pads as pytorch-msssim's does
    y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    five = _ms_ssim_few_levels(x, y, list(MS_SSIM_WEIGHTS), 1.0, 11)
    assert torch.equal(five, ms_ssim(x, y, data_range=1.0, win_size=11))
    assert [max_ms_ssim_levels(s) for s in (10, 11, 40, 41, 80, 81, 160, 161)] == [0, 1, 2, 3, 3, 4, 4, 5]
    assert sum(ms_ssim_weights(3)) == pytest.approx(1.0)
    assert ms_ssim_weights(3)[0] / ms_ssim_weights(3)[1] == pytest.approx(0.0448 / 0.2856)
    p = torch.rand(4, 3, 64, 64, requires_grad=True)
    loss = build_loss(dict(type="ms_ssim", levels=3))(p, torch.rand(4, 3, 64, 64))["loss"]
    loss.backward()
    assert 0 < loss.item() <= 1 and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_ssim_losses_refuse_images_too_small_and_bad_options():
    with pytest.raises(DataError, match=r"64x64 px allow 3 of the 5 scales.*161 px.*levels=3"):
        build_loss("ms_ssim")(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64))
    with pytest.raises(DataError, match="8x8 px are smaller than its 11x11 window"):
        build_loss("ssim")(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))
    with pytest.raises(ConfigError, match="levels must be an integer from 1 to 5"):
        build_loss(dict(type="ms_ssim", levels=6))
    with pytest.raises(ConfigError, match="win_size must be an odd integer"):
        build_loss(dict(type="ssim", win_size=8))
