"""Pixel-wise regression losses: MSE, L1, Charbonnier; SSIM / MS-SSIM losses via pytorch-msssim."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from toolkit.errors import ConfigError, DataError
from toolkit.registry import LOSSES

__all__ = [
    "MSELoss",
    "L1Loss",
    "CharbonnierLoss",
    "SSIMLoss",
    "MSSSIMLoss",
    "MS_SSIM_WEIGHTS",
    "max_ms_ssim_levels",
    "ms_ssim_weights",
]


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


def _check_window(x: torch.Tensor, win_size: int, name: str) -> None:
    if min(x.shape[-2:]) < win_size:
        raise DataError(
            f"{name} loss: images of {x.shape[-2]}x{x.shape[-1]} px are smaller than its {win_size}x{win_size} "
            "window; give a smaller odd win_size in the loss spec or larger images"
        )


def _check_win_size(win_size: Any, name: str) -> int:
    if not isinstance(win_size, int) or isinstance(win_size, bool) or win_size < 3 or win_size % 2 == 0:
        raise ConfigError(f"loss {name}: win_size must be an odd integer >= 3, got {win_size!r}")
    return win_size


@LOSSES.register("ssim")
class SSIMLoss(nn.Module):
    """``1 - SSIM`` (Gaussian window ``win_size``, sigma 1.5) from pytorch-msssim; clips are folded to frames.

    SSIM is Wang et al., "Image quality assessment: from error visibility to structural similarity",
    IEEE TIP 2004 (K1 = 0.01, K2 = 0.03), averaged over the valid region, channels and images.

    Args:
        data_range: the value range of the images (1.0 for [0, 1] data).
        win_size: side of the Gaussian window (odd); images must be at least this large.

    Shape:
        - pred, target: (B, C, H, W) or (B, T, C, H, W), values in [0, data_range]
        - Output: scalar
    """

    def __init__(self, data_range: float = 1.0, win_size: int = 11):
        super().__init__()
        self.data_range = data_range
        self.win_size = _check_win_size(win_size, "ssim")

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        from pytorch_msssim import ssim

        p, t = _fold_time(pred).float(), _fold_time(target).float()
        _check_window(p, self.win_size, "ssim")  # pytorch-msssim would skip the smoothing with only a warning
        return 1.0 - ssim(p, t, data_range=self.data_range, win_size=self.win_size, size_average=True)


# Wang, Simoncelli & Bovik, "Multi-scale structural similarity for image quality assessment", Asilomar
# 2003: the exponents of the five scales, finest first (pytorch-msssim's defaults).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def max_ms_ssim_levels(side: int, win_size: int = 11) -> int:
    """How many MS-SSIM scales an image whose smaller side is ``side`` px allows (0 to 5).

    The coarsest of ``n`` scales is the image down-sampled ``n - 1`` times by 2, and pytorch-msssim asks
    for a smaller side above ``(win_size - 1) * 2^(n - 1)``: 161 px for 5 scales at window 11, 41 px for 3.
    """
    n = 0
    while n < len(MS_SSIM_WEIGHTS) and side > (win_size - 1) * 2**n:
        n += 1
    return n


def ms_ssim_weights(levels: int) -> list[float]:
    """The exponents of the ``levels`` finest scales, rescaled to sum to one."""
    # NOTE: with fewer than the paper's five scales (small training crops) the finest ``levels``
    # exponents are kept and rescaled to sum to one, so a perfect match still scores 1 and the
    # scales keep their relative weights; the paper defines only the five-scale index.
    w = MS_SSIM_WEIGHTS[:levels]
    return [v / sum(w) for v in w]


def _ms_ssim_few_levels(
    x: torch.Tensor, y: torch.Tensor, weights: list[float], data_range: float, win_size: int
) -> torch.Tensor:
    """MS-SSIM over ``len(weights)`` scales with pytorch-msssim's per-scale SSIM, averaged over images.

    The same recursion as ``pytorch_msssim.ms_ssim`` (contrast-structure terms of the finer scales, the
    full SSIM at the coarsest, each to its exponent, then multiplied), which asserts the size of five
    scales whatever weights it is given; with five weights the two agree (tests/losses).
    """
    from pytorch_msssim.ssim import _fspecial_gauss_1d, _ssim

    win = _fspecial_gauss_1d(win_size, 1.5).repeat([x.shape[1], 1, 1, 1])  # (C, 1, 1, win)
    factors = []
    for level in range(len(weights)):
        ssim_c, cs_c = _ssim(x, y, data_range=data_range, win=win, size_average=False)  # (B, C) each
        if level < len(weights) - 1:
            factors.append(torch.relu(cs_c))
            pad = [s % 2 for s in x.shape[2:]]
            x, y = F.avg_pool2d(x, 2, padding=pad), F.avg_pool2d(y, 2, padding=pad)
    factors.append(torch.relu(ssim_c))
    stacked = torch.stack(factors)  # (levels, B, C)
    exponents = stacked.new_tensor(weights).view(-1, 1, 1)
    return torch.prod(stacked**exponents, dim=0).mean()


@LOSSES.register("ms_ssim")
class MSSSIMLoss(nn.Module):
    """``1 - MS-SSIM`` (Wang et al. 2003) from pytorch-msssim; clips are folded to frames.

    Five scales need images whose smaller side exceeds ``(win_size - 1) * 16`` px (161 px at window
    11). Smaller training crops take fewer scales with ``levels`` (64 px crops allow 3 at window 11;
    :func:`max_ms_ssim_levels`), whose exponents are the paper's finest ones rescaled to sum to one.
    Images too small for the configured ``levels`` are an error naming their size, never a silent change.

    Args:
        data_range: the value range of the images (1.0 for [0, 1] data).
        win_size: side of the Gaussian window (odd).
        levels: number of scales, 1 to 5 (the paper's 5 by default).

    Shape:
        - pred, target: (B, C, H, W) or (B, T, C, H, W), values in [0, data_range]
        - Output: scalar
    """

    def __init__(self, data_range: float = 1.0, win_size: int = 11, levels: int = 5):
        super().__init__()
        n = len(MS_SSIM_WEIGHTS)
        if not isinstance(levels, int) or isinstance(levels, bool) or not 1 <= levels <= n:
            raise ConfigError(f"loss ms_ssim: levels must be an integer from 1 to {n}, got {levels!r}")
        self.data_range = data_range
        self.win_size = _check_win_size(win_size, "ms_ssim")
        self.levels = levels

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        from pytorch_msssim import ms_ssim

        p, t = _fold_time(pred).float(), _fold_time(target).float()
        h, w = p.shape[-2:]
        allowed = max_ms_ssim_levels(min(h, w), self.win_size)
        if allowed < self.levels:
            need = (self.win_size - 1) * 2 ** (self.levels - 1) + 1
            raise DataError(
                f"ms_ssim loss: images of {h}x{w} px allow {allowed} of the {self.levels} scales set by levels "
                f"(at win_size {self.win_size} the smaller side must be at least {need} px); set "
                f"levels={allowed} in the loss spec or train on larger crops"
                if allowed
                else f"ms_ssim loss: images of {h}x{w} px are smaller than its {self.win_size}x{self.win_size} window"
            )
        if self.levels == len(MS_SSIM_WEIGHTS):
            value = ms_ssim(p, t, data_range=self.data_range, win_size=self.win_size, size_average=True)
        else:
            value = _ms_ssim_few_levels(p, t, ms_ssim_weights(self.levels), self.data_range, self.win_size)
        return 1.0 - value
