"""PSNR and SSIM computed exactly the way BasicSR reports them for image restoration.

Definitions (BasicSR ``basicsr/metrics/psnr_ssim.py``, ``calculate_psnr`` / ``calculate_ssim``;
SSIM from Z. Wang et al., "Image quality assessment: from error visibility to structural
similarity", IEEE TIP 2004):

1. both images are rounded to 8 bits as BasicSR's ``tensor2img`` does: clamp to [0, 1], multiply
   by 255 in float32, round half to even;
2. ``crop_border`` rows and columns are dropped on every side;
3. optionally only the luma of ITU-R BT.601 is kept: ``Y = 16 + (65.481 R + 128.553 G + 24.966 B)``
   on [0, 1] RGB, not rounded (range 16..235), through BasicSR's float32 steps;
4. PSNR = ``10 log10(255^2 / MSE)`` per image (``inf`` for identical images), averaged over images;
5. SSIM per channel with an 11x11 Gaussian window (sigma 1.5) on the valid region at the
   [0, 255] scale, ``c1 = (0.01 * 255)^2``, ``c2 = (0.03 * 255)^2``, averaged over channels, then
   over images.

BasicSR's numpy functions take BGR arrays; the toolkit holds RGB tensors, so the luma weights are
applied in RGB order here and the numbers equal BasicSR's on the same pictures.

Two paths give the same numbers: the exact numpy path (default, float64 on the CPU, reproduces
BasicSR to 1e-9 dB) and a tensor path (``fast=True``) that stays on the tensor's device and
batches the work (float64; agrees with the exact path far below 1e-3 dB).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from toolkit.errors import DataError
from toolkit.metrics.base import Metric
from toolkit.registry import METRICS

__all__ = [
    "quantize_uint8",
    "rgb_to_y",
    "psnr_exact",
    "ssim_exact",
    "psnr_tensor",
    "ssim_tensor",
    "PSNR",
    "SSIM",
    "PSNRY",
    "SSIMY",
]

# BT.601 luma weights on [0, 1] data, in BGR order exactly as BasicSR's ``bgr2ycbcr`` holds them
_Y_WEIGHTS_BGR = [24.966, 128.553, 65.481]


def _gaussian_window_1d(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """Normalised 1-D Gaussian (what ``cv2.getGaussianKernel(11, 1.5)`` returns)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def quantize_uint8(x: torch.Tensor) -> torch.Tensor:
    """Round a [0, 1] float tensor to uint8 like BasicSR's ``tensor2img`` (float32, round half to even)."""
    x = x.detach().float().clamp(0.0, 1.0) * 255.0
    return torch.round(x).to(torch.uint8)  # torch.round rounds half to even, as numpy does


# --------------------------------------------------------------------------- exact numpy path


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """Luma (16..235, unrounded, float64) of a uint8 (H, W, 3) RGB image through BasicSR's float32 steps."""
    x = img.astype(np.float32) / 255.0  # float32, as BasicSR's to_y_channel
    y = np.dot(x[..., ::-1], _Y_WEIGHTS_BGR) + 16.0  # the BGR dot product in float64
    y = (y / 255.0).astype(np.float32)
    return (y * 255.0).astype(np.float64)  # the multiplication happens in float32


def _prepare_exact(img: np.ndarray, crop_border: int, test_y_channel: bool) -> np.ndarray:
    if img.ndim == 2:
        img = img[..., None]
    if crop_border > 0:
        img = img[crop_border:-crop_border, crop_border:-crop_border]
    if test_y_channel:
        if img.shape[2] == 3:
            return rgb_to_y(img)[..., None]
        return ((img.astype(np.float32) / 255.0) * 255.0).astype(np.float64)  # grey: BasicSR's float32 round trip
    return img.astype(np.float64)


def _check_pair(img: np.ndarray, img2: np.ndarray) -> None:
    if img.shape != img2.shape:
        raise DataError(f"image quality: images differ in shape: {img.shape} vs {img2.shape}")
    if img.dtype != np.uint8 or img2.dtype != np.uint8:
        raise DataError(f"image quality: the exact path takes uint8 arrays, got {img.dtype} and {img2.dtype}")


def psnr_exact(img: np.ndarray, img2: np.ndarray, crop_border: int = 0, test_y_channel: bool = False) -> float:
    """BasicSR PSNR of two uint8 RGB (H, W, 3) or grey (H, W) images (peak 255, ``inf`` when equal)."""
    _check_pair(img, img2)
    a = _prepare_exact(img, crop_border, test_y_channel)
    b = _prepare_exact(img2, crop_border, test_y_channel)
    mse = np.mean((a - b) ** 2)
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(255.0 * 255.0 / mse))


def _filter_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Correlate (H, W) with the separable window ``outer(g, g)``, keeping the valid region."""
    k = g.size
    h, w = x.shape
    rows = sum(g[i] * x[i : h - k + 1 + i] for i in range(k))  # (H-k+1, W)
    return sum(g[j] * rows[:, j : w - k + 1 + j] for j in range(k))  # (H-k+1, W-k+1)


def _ssim_channel(a: np.ndarray, b: np.ndarray, g: np.ndarray) -> float:
    c1 = (0.01 * 255) ** 2
    c2 = (0.03 * 255) ** 2
    mu1, mu2 = _filter_valid(a, g), _filter_valid(b, g)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    sigma1_sq = _filter_valid(a * a, g) - mu1_sq
    sigma2_sq = _filter_valid(b * b, g) - mu2_sq
    sigma12 = _filter_valid(a * b, g) - mu1_mu2
    num = (2 * mu1_mu2 + c1) * (2 * sigma12 + c2)
    den = (mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2)
    return float(np.mean(num / den))


def ssim_exact(img: np.ndarray, img2: np.ndarray, crop_border: int = 0, test_y_channel: bool = False) -> float:
    """BasicSR SSIM of two uint8 RGB (H, W, 3) or grey (H, W) images (mean over channels)."""
    _check_pair(img, img2)
    a = _prepare_exact(img, crop_border, test_y_channel)
    b = _prepare_exact(img2, crop_border, test_y_channel)
    if min(a.shape[:2]) < 11:
        raise DataError(f"SSIM needs at least 11x11 pixels after cropping {crop_border} px, got {a.shape[:2]}")
    g = _gaussian_window_1d()
    return float(np.mean([_ssim_channel(a[..., c], b[..., c], g) for c in range(a.shape[2])]))


# --------------------------------------------------------------------------- tensor path


def _prepare_tensor(u8: torch.Tensor, crop_border: int, test_y_channel: bool) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float64 (B, C', H', W') with the exact path's crop and luma steps."""
    if crop_border > 0:
        u8 = u8[..., crop_border:-crop_border, crop_border:-crop_border]
    x = u8.to(torch.float32) / 255.0
    if not test_y_channel:
        return u8.to(torch.float64)
    if x.shape[1] == 3:
        r, g, b = x.double().unbind(dim=1)  # each (B, H, W)
        y = b * _Y_WEIGHTS_BGR[0] + g * _Y_WEIGHTS_BGR[1] + r * _Y_WEIGHTS_BGR[2] + 16.0
        x = (y / 255.0).float().unsqueeze(1)  # (B, 1, H, W)
    return (x * 255.0).double()


def psnr_tensor(
    pred: torch.Tensor, target: torch.Tensor, crop_border: int = 0, test_y_channel: bool = False
) -> torch.Tensor:
    """Per-image BasicSR PSNR of [0, 1] float tensors, computed on their device; returns (B,) float64."""
    a = _prepare_tensor(quantize_uint8(pred), crop_border, test_y_channel)
    b = _prepare_tensor(quantize_uint8(target), crop_border, test_y_channel)
    mse = ((a - b) ** 2).flatten(1).mean(dim=1)  # (B,)
    return 10.0 * torch.log10(255.0**2 / mse)  # inf where mse == 0, as the exact path


def ssim_tensor(
    pred: torch.Tensor, target: torch.Tensor, crop_border: int = 0, test_y_channel: bool = False
) -> torch.Tensor:
    """Per-image BasicSR SSIM of [0, 1] float tensors, computed on their device; returns (B,) float64."""
    a = _prepare_tensor(quantize_uint8(pred), crop_border, test_y_channel)
    b = _prepare_tensor(quantize_uint8(target), crop_border, test_y_channel)
    if min(a.shape[-2:]) < 11:
        raise DataError(f"SSIM needs at least 11x11 pixels after cropping {crop_border} px, got {tuple(a.shape[-2:])}")
    channels = a.shape[1]
    g = torch.from_numpy(_gaussian_window_1d()).to(a.device)
    wv = g.view(1, 1, -1, 1).expand(channels, 1, -1, 1)  # (C, 1, 11, 1)
    wh = g.view(1, 1, 1, -1).expand(channels, 1, 1, -1)  # (C, 1, 1, 11)

    def filt(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(x, wv, groups=channels), wh, groups=channels)  # valid region

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu1, mu2 = filt(a), filt(b)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    sigma1_sq = filt(a * a) - mu1_sq
    sigma2_sq = filt(b * b) - mu2_sq
    sigma12 = filt(a * b) - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + c1) * (2 * sigma12 + c2)) / ((mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2))
    return ssim_map.flatten(2).mean(dim=2).mean(dim=1)  # channel means, then their mean: (B,)


# --------------------------------------------------------------------------- metrics


class _ImageQuality(Metric):
    """Shared update logic: per-image values kept in a ``cat`` state, averaged by ``compute``."""

    name = ""
    _default_y = False

    def __init__(self, crop_border: int = 0, test_y_channel: bool | None = None, fast: bool = False):
        super().__init__()
        self.crop_border = int(crop_border)
        self.test_y_channel = self._default_y if test_y_channel is None else bool(test_y_channel)
        self.fast = fast
        self.key = f"{self.name}_y" if self.test_y_channel else self.name
        self.higher_is_better = {self.key: True}
        self.add_state("values", [], reduce="cat")

    def _check(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if pred.ndim == 5:  # clips (B, T, C, H, W) are scored frame by frame
            pred, target = pred.flatten(0, 1), target.flatten(0, 1)  # (B*T, C, H, W)
        if pred.ndim != 4 or pred.shape != target.shape:
            raise DataError(
                f"{self.key}: expected prediction and target of the same shape (B, C, H, W), "
                f"got {tuple(pred.shape)} and {tuple(target.shape)}"
            )
        if self.test_y_channel and pred.shape[1] not in (1, 3):
            raise DataError(f"{self.key}: the Y channel needs RGB (3) or grey (1) images, got C={pred.shape[1]}")
        return pred, target

    def _exact(self, a: np.ndarray, b: np.ndarray) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _tensor(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Score a batch of [0, 1] float images (B, C, H, W), RGB channel order."""
        pred, target = self._check(pred, target)
        if self.fast:
            vals = self._tensor(pred, target).detach().cpu()
        else:
            a = quantize_uint8(pred).permute(0, 2, 3, 1).cpu().numpy()  # (B, H, W, C)
            b = quantize_uint8(target).permute(0, 2, 3, 1).cpu().numpy()  # (B, H, W, C)
            vals = torch.tensor([self._exact(x, y) for x, y in zip(a, b)], dtype=torch.float64)
        self.values.append(vals)

    def per_image(self) -> torch.Tensor:
        """The per-image values seen so far, in update order: (N,) float64."""
        return self.cat_state("values").double()

    def _compute(self) -> dict[str, float]:
        v = self.per_image()
        return {self.key: float(v.mean()) if v.numel() else float("nan")}


@METRICS.register("psnr")
class PSNR(_ImageQuality):
    """BasicSR PSNR (dB, peak 255, 8-bit rounded inputs) averaged over images; key ``psnr`` or ``psnr_y``.

    Args:
        crop_border: pixels dropped on every side before scoring (the SR scale, by convention).
        test_y_channel: score the BT.601 luma only (key ``psnr_y``).
        fast: compute on the tensors' device instead of the exact numpy path.
    """

    name = "psnr"

    def _exact(self, a: np.ndarray, b: np.ndarray) -> float:
        return psnr_exact(a, b, self.crop_border, self.test_y_channel)

    def _tensor(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return psnr_tensor(pred, target, self.crop_border, self.test_y_channel)


@METRICS.register("ssim")
class SSIM(_ImageQuality):
    """BasicSR SSIM (Gaussian 11x11, sigma 1.5, valid region) averaged over images; key ``ssim`` or ``ssim_y``.

    Args:
        crop_border: pixels dropped on every side before scoring.
        test_y_channel: score the BT.601 luma only (key ``ssim_y``).
        fast: compute on the tensors' device instead of the exact numpy path.
    """

    name = "ssim"

    def _exact(self, a: np.ndarray, b: np.ndarray) -> float:
        return ssim_exact(a, b, self.crop_border, self.test_y_channel)

    def _tensor(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ssim_tensor(pred, target, self.crop_border, self.test_y_channel)


@METRICS.register("psnr_y")
class PSNRY(PSNR):
    """:class:`PSNR` on the luma channel (``test_y_channel`` defaults to True); key ``psnr_y``."""

    _default_y = True


@METRICS.register("ssim_y")
class SSIMY(SSIM):
    """:class:`SSIM` on the luma channel (``test_y_channel`` defaults to True); key ``ssim_y``."""

    _default_y = True
