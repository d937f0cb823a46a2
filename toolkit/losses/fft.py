"""Frequency-domain L1 loss (FFT loss) for image and video restoration.

S.-J. Cho, S.-W. Ji, J.-P. Hong, S.-W. Jung, S.-J. Ko, "Rethinking Coarse-to-Fine Approach in
Single Image Deblurring" (MIMO-UNet), ICCV 2021, Eq. 5: the multi-scale frequency reconstruction
loss is the mean absolute difference between the unnormalised 2-D FFTs of the prediction and the
target, real and imaginary parts taken as separate values, summed over the scales 1, 1/2 and 1/4
(targets down-sampled bilinearly); the total loss adds it with weight 0.1. OKNet (Cui et al.,
AAAI 2024) and SAFMN (Sun et al., ICCV 2023, weight 0.05) use the same term.

The weight belongs to the config's loss list, e.g.
``loss=[dict(type='l1', weight=1.0), dict(type='fft', weight=0.1, multi_scale=True)]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from toolkit.registry import LOSSES

__all__ = ["FFTLoss", "fft_l1"]


def fft_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean |FFT2(pred) - FFT2(target)| over real and imaginary parts of every frequency.

    Shape:
        - pred, target: (..., H, W), the same shape
        - Output: scalar
    """
    # NOTE: computed in float32 even under autocast: half-precision FFTs only accept power-of-two
    # sizes and lose the large DC term's precision.
    p = torch.fft.fft2(pred.float(), dim=(-2, -1))
    t = torch.fft.fft2(target.float(), dim=(-2, -1))
    return F.l1_loss(torch.view_as_real(p), torch.view_as_real(t))  # (..., H, W, 2) real and imaginary


@LOSSES.register("fft")
class FFTLoss(nn.Module):
    """L1 distance between the 2-D Fourier transforms of prediction and target.

    Single scale (default): ``fft_l1(pred, target)``. Multi-scale (``multi_scale=True``), as in
    MIMO-UNet: the target is down-sampled bilinearly by 2 and 4 and the terms of the three scales
    are added. The prediction may then be a list of outputs (any order, matched to the target
    scales by their spatial size, as MIMO-UNet's coarse-to-fine outputs); a single prediction is
    down-sampled the same way as the target.

    Args:
        multi_scale: add the 1/2 and 1/4 scale terms.
        scales: the down-sampling factors used when ``multi_scale`` (MIMO-UNet: 1, 2, 4).

    Shape:
        - pred: (B, C, H, W) or (B, T, C, H, W), or a list of those at the scales
        - target: (B, C, H, W) or (B, T, C, H, W)
        - Output: scalar
    """

    def __init__(self, multi_scale: bool = False, scales: Sequence[int] = (1, 2, 4)):
        super().__init__()
        self.multi_scale = multi_scale
        self.scales = tuple(int(s) for s in scales)

    @staticmethod
    def _fold(x: torch.Tensor) -> torch.Tensor:
        return x.flatten(0, 1) if x.ndim == 5 else x  # (B*T, C, H, W) for clips

    def forward(self, pred: torch.Tensor | Sequence[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        if not self.multi_scale:
            if not isinstance(pred, torch.Tensor):
                raise ValueError("single-scale FFT loss takes one prediction tensor; set multi_scale=True for a list")
            if pred.shape != target.shape:
                raise ValueError(f"FFT loss: prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ")
            return fft_l1(pred, target)
        target = self._fold(target)
        preds = [self._fold(p) for p in pred] if not isinstance(pred, torch.Tensor) else None
        full = self._fold(pred) if isinstance(pred, torch.Tensor) else None
        total = target.new_zeros((), dtype=torch.float32)
        for s in self.scales:
            t = target if s == 1 else F.interpolate(target.float(), scale_factor=1.0 / s, mode="bilinear")
            if full is not None:
                p = full if s == 1 else F.interpolate(full.float(), scale_factor=1.0 / s, mode="bilinear")
            else:
                match = [q for q in preds if q.shape[-2:] == t.shape[-2:]]
                if not match:
                    sizes = [tuple(q.shape[-2:]) for q in preds]
                    raise ValueError(
                        f"FFT loss: no prediction of size {tuple(t.shape[-2:])} for scale 1/{s}; got {sizes}"
                    )
                p = match[0]
            total = total + fft_l1(p, t)
        return total
