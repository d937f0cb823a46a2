"""Synthetic degradations that turn clean images into restoration inputs.

The classical model ``y = JPEG((x * k)↓s + n)`` is applied in that order: blur with a Gaussian or
motion kernel ``k``, MATLAB-bicubic down-scaling by ``s`` (2, 3 or 4; the low-resolution image is
rounded to 8 bits as the stored LR images of SR benchmarks are), additive white Gaussian noise
``n`` and JPEG compression. Images are float32 (H, W, 3) RGB arrays in [0, 1].

Noise follows the common denoising protocol (DnCNN, Restormer): ``x + N(0, (sigma / 255)^2)`` on
[0, 1] data, neither clipped nor rounded. Every random choice is drawn from the ``rng`` passed in,
so evaluation degrades each image the same way every time (seeded per image by the dataset).

The blur kernels and the convolution are kornia's (``kornia.filters``); the steps whose values must
match a reference stay as they are: MATLAB bicubic (the BasicSR protocol, bit-exact), libjpeg through
OpenCV, and the noise drawn from the per-image ``rng``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch

from toolkit.data.imresize import imresize
from toolkit.errors import ConfigError, DataError

__all__ = [
    "gaussian_kernel",
    "motion_kernel",
    "blur",
    "bicubic_downscale",
    "add_gaussian_noise",
    "jpeg_compress",
    "Degradation",
]


def _draw(value: float | Sequence[float], rng: np.random.Generator) -> float:
    """A fixed value, or a uniform draw from a ``[low, high]`` range."""
    if isinstance(value, (list, tuple)):
        low, high = float(value[0]), float(value[1])
        return float(rng.uniform(low, high))
    return float(value)


def gaussian_kernel(sigma: float, size: int | None = None) -> np.ndarray:
    """Isotropic Gaussian blur kernel (odd ``size``, default ``2 ceil(3 sigma) + 1``), summing to 1.

    Shape:
        - Output: (size, size) float32
    """
    from kornia.filters import get_gaussian_kernel2d

    size = size or 2 * int(math.ceil(3 * sigma)) + 1
    _check_kernel_size(size, "data.blur.size")
    return get_gaussian_kernel2d((size, size), (float(sigma), float(sigma)))[0].numpy()


def motion_kernel(length: int, angle: float) -> np.ndarray:
    """Linear motion blur: a line of ``length`` px (odd, >= 3) through the centre, summing to 1.

    ``angle`` is in degrees, clockwise from the x axis as the image is displayed (rows grow downwards).

    Shape:
        - Output: (length, length) float32
    """
    from kornia.filters import get_motion_kernel2d

    _check_kernel_size(length, "data.blur.length")
    # NOTE: kornia draws the line by rotating a horizontal one with nearest-neighbour sampling; the former
    # OpenCV anti-aliased line gives the same kernel at 0, 45, 90 and 135 degrees and a differently rasterised
    # one at other angles (the two blurs of crops of scikit-learn's china.jpg agree to 27.5-44 dB PSNR, of the
    # smooth test image to 35.6-50.9 dB; tests/tasks/restoration/test_degrade.py).
    # kornia measures angles counter-clockwise, hence -angle to keep this function's clockwise convention.
    return get_motion_kernel2d(int(length), -float(angle))[0].numpy()


def _check_kernel_size(size: Any, key: str) -> None:
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 3 or size % 2 == 0:
        raise ConfigError(f"{key} must be an odd integer >= 3 (a kernel has a centre pixel), got {size!r}")


def blur(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate every channel with ``kernel`` (kornia ``filter2d``, reflected borders without repeating the edge).

    Shape:
        - img: (H, W, C) float32; kernel: (k, k) with k // 2 < min(H, W)
        - Output: (H, W, C) float32
    """
    from kornia.filters import filter2d

    k = kernel.shape[0]
    if k // 2 >= min(img.shape[:2]):
        raise DataError(
            f"an image of {img.shape[0]}x{img.shape[1]} px is too small for a {k}x{k} blur kernel "
            f"(reflected borders need more than {k // 2} px); use a smaller data.blur or larger images"
        )
    x = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1)[None]  # (1, C, H, W)
    w = torch.from_numpy(np.ascontiguousarray(kernel, dtype=np.float32))[None]  # (1, k, k)
    # NOTE: borders reflect without repeating the edge pixel (kornia's and torch's 'reflect', OpenCV's default
    # BORDER_REFLECT_101, as BasicSR's degradations use); the former OpenCV BORDER_REFLECT repeated it. Pixels
    # farther than k // 2 from the border are unchanged.
    out = filter2d(x, w, border_type="reflect")  # (1, C, H, W)
    return out[0].permute(1, 2, 0).numpy()


def bicubic_downscale(img: np.ndarray, scale: int, quantize: bool = True) -> np.ndarray:
    """MATLAB-bicubic down-scaling by an integer ``scale``; the size must be a multiple of it.

    With ``quantize`` the result is rounded to 8 bits through MATLAB's uint8 path, as the LR
    images of SR benchmarks are; otherwise it stays float.
    """
    # NOTE: not kornia's bicubic resize: the LR inputs of the BasicSR protocol come from MATLAB's imresize
    # (antialiased Keys kernel, uint8 steps), which toolkit/data/imresize.py reproduces bit for bit.
    if quantize:
        u8 = np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)
        return imresize(u8, 1.0 / scale).astype(np.float32) / 255.0
    return imresize(img.astype(np.float32), 1.0 / scale)


def add_gaussian_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``img + N(0, (sigma/255)^2)``, sigma on the 0..255 scale; not clipped, not rounded."""
    # NOTE: not kornia's RandomGaussianNoise, which draws from torch's global generator: the noise comes
    # from the per-image ``rng`` so that evaluation images are degraded the same way every time.
    return (img + rng.normal(0.0, sigma / 255.0, img.shape)).astype(np.float32)


def jpeg_compress(img: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as JPEG at ``quality`` (1-100) with OpenCV; the result is 8-bit."""
    # NOTE: not kornia's differentiable JPEG: the artefacts must be those of a real codec (libjpeg).
    u8 = np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(u8[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV failure
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255.0


class Degradation:
    """The configured chain blur -> bicubic down-scaling -> noise -> JPEG.

    Args:
        scale: down-scaling factor (1 = none; 2, 3, 4 for super-resolution).
        blur: ``None``, ``dict(type='gaussian', sigma=s)`` or ``dict(type='motion', length=L,
            angle=a)``; numbers may be ``[low, high]`` ranges drawn per image; a motion angle of
            ``None`` is drawn uniformly. Kernel sides (``size``, ``length``) are odd integers >= 3; a
            drawn motion length is rounded to the nearest odd integer.
        noise: ``None`` or ``dict(sigma=25)`` (0..255 scale) or ``dict(sigma=[0, 50])``.
        jpeg: ``None`` or ``dict(quality=q)`` or ``dict(quality=[30, 95])``.
    """

    def __init__(self, scale: int = 1, blur: Any = None, noise: Any = None, jpeg: Any = None):
        if int(scale) != scale or scale < 1:
            raise ConfigError(f"data.scale must be a positive integer, got {scale!r}")
        self.scale = int(scale)
        self.blur = self._check(blur, "blur", {"type", "sigma", "length", "angle", "size"})
        if self.blur is not None and self.blur.get("type", "gaussian") not in ("gaussian", "motion"):
            raise ConfigError(f"data.blur.type must be 'gaussian' or 'motion', got {self.blur.get('type')!r}")
        if self.blur is not None:
            side = ("length", 15) if self.blur.get("type", "gaussian") == "motion" else ("size", None)
            value = self.blur.get(*side)
            if isinstance(value, (list, tuple)) and side[0] == "length":
                if len(value) != 2 or min(value) < 3:
                    raise ConfigError(f"data.blur.{side[0]} range must be [low, high] with low >= 3, got {value!r}")
            elif value is not None:
                _check_kernel_size(value, f"data.blur.{side[0]}")
        self.noise = self._check(noise, "noise", {"sigma"})
        self.jpeg = self._check(jpeg, "jpeg", {"quality"})

    @staticmethod
    def _check(spec: Any, key: str, allowed: set[str]) -> dict | None:
        if spec is None:
            return None
        if not isinstance(spec, dict):
            raise ConfigError(f"data.{key} must be None or a dict with keys {sorted(allowed)}, got {spec!r}")
        unknown = set(spec) - allowed
        if unknown:
            raise ConfigError(f"data.{key}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        return dict(spec)

    @property
    def is_identity(self) -> bool:
        return self.scale == 1 and self.blur is None and self.noise is None and self.jpeg is None

    def __call__(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Degrade a clean float32 (H, W, 3) image whose sides are multiples of ``scale``."""
        out = img
        if self.blur is not None:
            if self.blur.get("type", "gaussian") == "gaussian":
                kernel = gaussian_kernel(_draw(self.blur.get("sigma", 1.6), rng), self.blur.get("size"))
            else:
                angle = self.blur.get("angle")
                angle = float(rng.uniform(0, 180)) if angle is None else _draw(angle, rng)
                length = _draw(self.blur.get("length", 15), rng)
                kernel = motion_kernel(2 * int(round((length - 1) / 2)) + 1, angle)  # nearest odd length
            out = blur(out, kernel)
        if self.scale > 1:
            out = bicubic_downscale(out, self.scale)
        if self.noise is not None:
            out = add_gaussian_noise(out, _draw(self.noise.get("sigma", 25), rng), rng)
        if self.jpeg is not None:
            out = jpeg_compress(out, int(round(_draw(self.jpeg.get("quality", 75), rng))))
        return out.astype(np.float32)
