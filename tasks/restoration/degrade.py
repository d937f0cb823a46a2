"""Synthetic degradations that turn clean images into restoration inputs.

The classical model ``y = JPEG((x * k)↓s + n)`` is applied in that order: blur with a Gaussian or
motion kernel ``k``, MATLAB-bicubic down-scaling by ``s`` (2, 3 or 4; the low-resolution image is
rounded to 8 bits as the stored LR images of SR benchmarks are), additive white Gaussian noise
``n`` and JPEG compression. Images are float32 (H, W, 3) RGB arrays in [0, 1].

Noise follows the common denoising protocol (DnCNN, Restormer): ``x + N(0, (sigma / 255)^2)`` on
[0, 1] data, neither clipped nor rounded. Every random choice is drawn from the ``rng`` passed in,
so evaluation degrades each image the same way every time (seeded per image by the dataset).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from toolkit.data.imresize import imresize
from toolkit.errors import ConfigError

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
    """Isotropic Gaussian blur kernel (odd ``size``, default ``2 ceil(3 sigma) + 1``), summing to 1."""
    size = size or 2 * int(math.ceil(3 * sigma)) + 1
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x * x) / (2 * sigma * sigma))
    k = np.outer(g, g)
    return (k / k.sum()).astype(np.float32)


def motion_kernel(length: int, angle: float) -> np.ndarray:
    """Linear motion blur: an anti-aliased line of ``length`` px through the centre at ``angle`` degrees."""
    length = max(1, int(length))
    size = length if length % 2 else length + 1
    k = np.zeros((size, size), np.float32)
    c = (size - 1) / 2
    dx, dy = math.cos(math.radians(angle)) * (length - 1) / 2, math.sin(math.radians(angle)) * (length - 1) / 2
    shift = 4  # cv2.line takes fixed-point coordinates with 4 fractional bits
    p0 = (round((c - dx) * 2**shift), round((c - dy) * 2**shift))
    p1 = (round((c + dx) * 2**shift), round((c + dy) * 2**shift))
    cv2.line(k, p0, p1, 1.0, thickness=1, lineType=cv2.LINE_AA, shift=shift)
    return k / k.sum()


def blur(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate every channel with ``kernel`` (symmetric reflection at the borders)."""
    return cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT)


def bicubic_downscale(img: np.ndarray, scale: int, quantize: bool = True) -> np.ndarray:
    """MATLAB-bicubic down-scaling by an integer ``scale``; the size must be a multiple of it.

    With ``quantize`` the result is rounded to 8 bits through MATLAB's uint8 path, as the LR
    images of SR benchmarks are; otherwise it stays float.
    """
    if quantize:
        u8 = np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)
        return imresize(u8, 1.0 / scale).astype(np.float32) / 255.0
    return imresize(img.astype(np.float32), 1.0 / scale)


def add_gaussian_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``img + N(0, (sigma/255)^2)``, sigma on the 0..255 scale; not clipped, not rounded."""
    return (img + rng.normal(0.0, sigma / 255.0, img.shape)).astype(np.float32)


def jpeg_compress(img: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as JPEG at ``quality`` (1-100) with OpenCV; the result is 8-bit."""
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
            ``None`` is drawn uniformly.
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
                kernel = motion_kernel(int(round(_draw(self.blur.get("length", 15), rng))), angle)
            out = blur(out, kernel)
        if self.scale > 1:
            out = bicubic_downscale(out, self.scale)
        if self.noise is not None:
            out = add_gaussian_noise(out, _draw(self.noise.get("sigma", 25), rng), rng)
        if self.jpeg is not None:
            out = jpeg_compress(out, int(round(_draw(self.jpeg.get("quality", 75), rng))))
        return out.astype(np.float32)
