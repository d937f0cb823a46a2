"""Segmentation losses: hand-computed values, deep supervision, errors, and a fixed-batch overfit."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from toolkit.errors import ConfigError, DataError
from toolkit.losses import build_loss
from toolkit.losses.segmentation import BCEWithLogitsLoss, DeepSupervision, DiceLoss, FocalLoss, SoftIoULoss
from toolkit.registry import LOSSES


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


@pytest.fixture
def pair():
    # probabilities 0.8, 0.2 / 0.5, 0.5 against target 1, 0 / 1, 0
    logits = torch.tensor([_logit(0.8), _logit(0.2), 0.0, 0.0]).reshape(1, 1, 2, 2)
    target = torch.tensor([1.0, 0.0, 1.0, 0.0]).reshape(1, 1, 2, 2)
    return logits, target


def test_soft_iou_and_dice_by_hand(pair):
    logits, target = pair
    inter, psum, tsum = 0.8 + 0.5, 0.8 + 0.2 + 0.5 + 0.5, 2.0
    assert SoftIoULoss()(logits, target).item() == pytest.approx(1 - (inter + 1) / (psum + tsum - inter + 1), abs=1e-6)
    assert SoftIoULoss(smooth=0)(logits, target).item() == pytest.approx(1 - inter / (psum + tsum - inter), abs=1e-6)
    assert DiceLoss(smooth=0)(logits, target).item() == pytest.approx(1 - 2 * inter / (psum + tsum), abs=1e-6)


def test_soft_iou_per_image_differs_from_batch_ratio():
    # image 0: three target pixels, all predicted; image 1: empty target, one false pixel
    logits = torch.full((2, 1, 1, 4), -30.0)
    logits[0, 0, 0, :3] = 30.0
    logits[1, 0, 0, 0] = 30.0
    target = torch.zeros(2, 1, 1, 4)
    target[0, 0, 0, :3] = 1
    assert SoftIoULoss(smooth=0)(logits, target).item() == pytest.approx(1 - 3 / 4, abs=1e-6)
    assert SoftIoULoss(smooth=0, per_image=True)(logits, target).item() == pytest.approx(1 - (1 + 0) / 2, abs=1e-6)


def test_bce_and_focal_by_hand(pair):
    logits, target = pair
    nll = [-math.log(0.8), -math.log(0.8), -math.log(0.5), -math.log(0.5)]
    assert BCEWithLogitsLoss()(logits, target).item() == pytest.approx(sum(nll) / 4, abs=1e-6)
    # gamma=0 and no alpha: focal == BCE; gamma=2, alpha=.25: each term scaled by (1-p_t)^2 * alpha_t
    assert FocalLoss(alpha=None, gamma=0)(logits, target).item() == pytest.approx(sum(nll) / 4, abs=1e-6)
    alpha_t = [0.25, 0.75, 0.25, 0.75]
    p_t = [0.8, 0.8, 0.5, 0.5]
    want = sum(a * (1 - p) ** 2 * n for a, p, n in zip(alpha_t, p_t, nll)) / 4
    assert FocalLoss()(logits, target).item() == pytest.approx(want, abs=1e-6)
    pw = BCEWithLogitsLoss(pos_weight=3.0)(logits, target).item()
    assert pw == pytest.approx((3 * nll[0] + nll[1] + 3 * nll[2] + nll[3]) / 4, abs=1e-6)


def test_deep_supervision_weighted_mean_and_resize(pair):
    logits, target = pair
    other = torch.full_like(logits, 2.0)
    iou = SoftIoULoss()
    ds = DeepSupervision(dict(type="soft_iou"), weights=[1.0, 3.0])
    want = (iou(logits, target) + 3 * iou(other, target)) / 4
    assert ds([logits, other], target).item() == pytest.approx(want.item(), abs=1e-6)
    assert DeepSupervision("soft_iou")(logits, target).item() == pytest.approx(iou(logits, target).item())
    small = torch.zeros(1, 1, 1, 1)  # a side output at lower resolution is upsampled to the target
    assert DeepSupervision("bce")([small], target).item() == pytest.approx(math.log(2), abs=1e-6)
    with pytest.raises(ConfigError, match="2 weights for 3"):
        ds([logits, logits, logits], target)


def test_plain_loss_rejects_a_list_and_bad_shapes(pair):
    logits, target = pair
    for name in ("soft_iou", "dice", "bce", "focal"):
        with pytest.raises(ConfigError, match="deep_supervision"):
            LOSSES.build(name)([logits, logits], target)
        with pytest.raises(DataError, match="do not match"):
            LOSSES.build(name)(logits, target[..., :1])


def test_loss_list_from_config_overfits_a_fixed_batch():
    torch.manual_seed(0)
    target = torch.zeros(2, 1, 16, 16)
    target[0, 0, 3:6, 4:7] = 1
    target[1, 0, 10:12, 9:13] = 1
    x = target + 0.3 * torch.randn_like(target)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 1, 3, padding=1))
    loss_fn = build_loss([dict(type="soft_iou", weight=1.0), dict(type="bce", weight=1.0)])
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(80):
        out = loss_fn(net(x), target)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    pred = torch.sigmoid(net(x)) > 0.5
    iou = (pred & (target > 0)).sum() / (pred | (target > 0)).sum()
    assert set(out) == {"loss", "loss_soft_iou", "loss_bce"}
    assert iou.item() > 0.9
    assert F.binary_cross_entropy_with_logits(net(x), target).item() < 0.05


def test_losses_run_in_float32_under_bf16_autocast():
    """Under autocast the weighted sum casts the bf16 prediction to float32 and computes every term there.

    Soft IoU over 256 x 256 pixels: the float32 sum of the same bf16-rounded logits is the reference; a bf16
    reduction would be off by far more than 1e-6.
    """
    torch.manual_seed(0)
    logits = torch.randn(2, 1, 256, 256).bfloat16()
    target = (torch.rand(2, 1, 256, 256) > 0.99).float()
    loss = build_loss([dict(type="deep_supervision", loss=dict(type="soft_iou"))])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = loss([logits, logits], target)
    plain = loss([logits.float(), logits.float()], target)
    assert out["loss"].dtype == torch.float32
    assert out["loss"].item() == pytest.approx(plain["loss"].item(), abs=1e-6)
    probs = torch.sigmoid(logits.float())
    by_hand = 1 - ((probs * target).sum() + 1) / ((probs + target - probs * target).sum() + 1)
    assert out["loss"].item() == pytest.approx(by_hand.item(), abs=1e-6)  # both outputs alike: their mean
