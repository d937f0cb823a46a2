"""Binary segmentation losses on logits: soft-IoU, Dice, BCE, focal, and a deep-supervision wrapper.

- Soft-IoU as used to train DNANet and ACM (Li et al., IEEE TIP 2022; Dai et al., WACV 2021): with
  ``p = sigmoid(logits)``, ``1 - (sum(p*t) + s) / (sum(p) + sum(t) - sum(p*t) + s)``, smoothing s = 1,
  sums over the whole batch.
- Dice (Milletari et al., "V-Net", 3DV 2016): ``1 - (2 sum(p*t) + s) / (sum(p) + sum(t) + s)``.
- Focal loss (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017), sigmoid form with
  alpha = 0.25 and gamma = 2 as in the paper.
- Deep supervision (Lee et al., "Deeply-Supervised Nets", AISTATS 2015): a weighted mean of one loss
  over every output of a model that returns a list of logits (DNANet averages its four outputs).

Every loss takes logits (B, 1, H, W) and a 0/1 target of the same shape. A plain loss given a list
of outputs says to wrap it in ``deep_supervision`` instead of silently scoring one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from toolkit.errors import ConfigError, DataError
from toolkit.registry import LOSSES

__all__ = ["SoftIoULoss", "DiceLoss", "BCEWithLogitsLoss", "FocalLoss", "DeepSupervision"]


def _check(name: str, logits: Any, target: torch.Tensor) -> None:
    if isinstance(logits, (list, tuple)):
        raise ConfigError(
            f"loss {name!r} got a list of {len(logits)} outputs (a deep-supervision model); wrap it as "
            f"dict(type='deep_supervision', loss=dict(type='{name}'))"
        )
    if logits.shape != target.shape:
        raise DataError(
            f"loss {name!r}: logits of shape {tuple(logits.shape)} do not match the target {tuple(target.shape)}"
        )


def _reduce_dims(x: torch.Tensor, per_image: bool) -> torch.Tensor:
    # (B, ...) -> (B,) per image, or a scalar over the whole batch
    return x.flatten(1).sum(dim=1) if per_image else x.sum()


@LOSSES.register("soft_iou")
class SoftIoULoss(nn.Module):
    """``1 - soft IoU`` of ``sigmoid(logits)`` and the target.

    Args:
        smooth: added to numerator and denominator (1 in DNANet / ACM).
        per_image: compute the ratio per image and average (default: one ratio over the batch, as DNANet).

    Shape:
        - logits, target: (B, 1, H, W)
        - Output: scalar
    """

    def __init__(self, smooth: float = 1.0, per_image: bool = False):
        super().__init__()
        self.smooth = smooth
        self.per_image = per_image

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check("soft_iou", logits, target)
        p = torch.sigmoid(logits.float())
        t = target.float()
        inter = _reduce_dims(p * t, self.per_image)
        union = _reduce_dims(p, self.per_image) + _reduce_dims(t, self.per_image) - inter
        return 1.0 - ((inter + self.smooth) / (union + self.smooth)).mean()


@LOSSES.register("dice")
class DiceLoss(nn.Module):
    """``1 - soft Dice`` of ``sigmoid(logits)`` and the target.

    Args:
        smooth: added to numerator and denominator.
        per_image: compute the ratio per image and average.

    Shape:
        - logits, target: (B, 1, H, W)
        - Output: scalar
    """

    def __init__(self, smooth: float = 1.0, per_image: bool = False):
        super().__init__()
        self.smooth = smooth
        self.per_image = per_image

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check("dice", logits, target)
        p = torch.sigmoid(logits.float())
        t = target.float()
        inter = _reduce_dims(p * t, self.per_image)
        total = _reduce_dims(p, self.per_image) + _reduce_dims(t, self.per_image)
        return 1.0 - ((2.0 * inter + self.smooth) / (total + self.smooth)).mean()


@LOSSES.register("bce")
class BCEWithLogitsLoss(nn.Module):
    """Binary cross-entropy on logits, averaged over pixels.

    Args:
        pos_weight: weight of the positive (target) pixels, useful for tiny targets.

    Shape:
        - logits, target: (B, 1, H, W)
        - Output: scalar
    """

    def __init__(self, pos_weight: float | None = None):
        super().__init__()
        self.pos_weight = pos_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check("bce", logits, target)
        pw = None if self.pos_weight is None else logits.new_tensor(float(self.pos_weight)).float()
        return F.binary_cross_entropy_with_logits(logits.float(), target.float(), pos_weight=pw)


@LOSSES.register("focal")
class FocalLoss(nn.Module):
    """Sigmoid focal loss ``-alpha_t (1 - p_t)^gamma log(p_t)``, averaged over pixels.

    Args:
        alpha: weight of the positive class (negatives get ``1 - alpha``); ``None`` disables it.
        gamma: focusing exponent.

    Shape:
        - logits, target: (B, 1, H, W)
        - Output: scalar
    """

    def __init__(self, alpha: float | None = 0.25, gamma: float = 2.0):
        super().__init__()
        self.alpha = alpha
        self.gamma = gamma

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check("focal", logits, target)
        x, t = logits.float(), target.float()
        ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")  # -log(p_t)
        p = torch.sigmoid(x)
        p_t = p * t + (1 - p) * (1 - t)
        loss = ce * (1 - p_t).pow(self.gamma)
        if self.alpha is not None:
            loss = loss * (self.alpha * t + (1 - self.alpha) * (1 - t))
        return loss.mean()


@LOSSES.register("deep_supervision")
class DeepSupervision(nn.Module):
    """A weighted mean of one loss over every output of a deeply supervised model.

    Args:
        loss: the loss applied to each output (a ``LOSSES`` spec, e.g. ``dict(type='soft_iou')``).
        weights: one weight per output (normalised to sum to 1); ``None`` gives the plain mean.

    A single tensor is scored as one output, so the same config also trains a model without deep
    supervision. Outputs smaller than the target are upsampled bilinearly to the target size.

    Shape:
        - logits: a list of (B, 1, h_i, w_i) or one (B, 1, H, W)
        - target: (B, 1, H, W)
        - Output: scalar
    """

    def __init__(self, loss: Any = "soft_iou", weights: Sequence[float] | None = None):
        super().__init__()
        self.loss = LOSSES.build(loss)
        self.weights = None if weights is None else [float(w) for w in weights]

    def forward(self, logits: Any, target: torch.Tensor) -> torch.Tensor:
        outputs = list(logits) if isinstance(logits, (list, tuple)) else [logits]
        if self.weights is not None and len(self.weights) != len(outputs):
            raise ConfigError(f"deep_supervision: {len(self.weights)} weights for {len(outputs)} model outputs")
        weights = self.weights or [1.0] * len(outputs)
        total = None
        for w, out in zip(weights, outputs):
            if out.shape[-2:] != target.shape[-2:]:
                out = F.interpolate(out, size=target.shape[-2:], mode="bilinear", align_corners=False)
            term = w * self.loss(out, target)
            total = term if total is None else total + term
        return total / sum(weights)
