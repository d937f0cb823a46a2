"""Pixel losses and weighted sums built from config lists."""

import math

import pytest
import torch

from toolkit.errors import ConfigError, RegistryError
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
