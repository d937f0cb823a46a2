"""Pixel-wise regression losses: MSE, L1, Charbonnier; SSIM / MS-SSIM losses via pytorch-msssim."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from toolkit.registry import LOSSES

__all__ = ["MSELoss", "L1Loss", "CharbonnierLoss", "SSIMLoss", "MSSSIMLoss"]


@LOSSES.register("mse")
class MSELoss(nn.Module):
    """Mean squared error over all elements."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(pred, target)


@LOSSES.register("l1")
class L1Loss(nn.Module):
    """Mean absolute error over all elements."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(pred, target)


@LOSSES.register("charbonnier")
class CharbonnierLoss(nn.Module):
    """Charbonnier loss ``mean(sqrt((pred - target)^2 + eps^2))`` (a smooth L1; eps 1e-3 as in restoration work)."""

    def __init__(self, eps: float = 1e-3):
        super().__init__()
        self.eps = eps

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.sqrt((pred - target) ** 2 + self.eps**2).mean()


def _fold_time(x: torch.Tensor) -> torch.Tensor:
    # (B, T, C, H, W) clips are scored frame by frame: (B*T, C, H, W)
    return x.flatten(0, 1) if x.ndim == 5 else x


@LOSSES.register("ssim")
class SSIMLoss(nn.Module):
    """``1 - SSIM`` (Gaussian window 11, sigma 1.5) from pytorch-msssim; clips are folded to frames.

    Shape:
        - pred, target: (B, C, H, W) or (B, T, C, H, W), values in [0, data_range]
    """

    def __init__(self, data_range: float = 1.0, win_size: int = 11):
        super().__init__()
        self.data_range = data_range
        self.win_size = win_size

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        from pytorch_msssim import ssim

        p, t = _fold_time(pred).float(), _fold_time(target).float()
        return 1.0 - ssim(p, t, data_range=self.data_range, win_size=self.win_size, size_average=True)


@LOSSES.register("ms_ssim")
class MSSSIMLoss(nn.Module):
    """``1 - MS-SSIM`` from pytorch-msssim (needs images larger than 160 px at the default 5 scales)."""

    def __init__(self, data_range: float = 1.0, win_size: int = 11):
        super().__init__()
        self.data_range = data_range
        self.win_size = win_size

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        from pytorch_msssim import ms_ssim

        p, t = _fold_time(pred).float(), _fold_time(target).float()
        return 1.0 - ms_ssim(p, t, data_range=self.data_range, win_size=self.win_size, size_average=True)
