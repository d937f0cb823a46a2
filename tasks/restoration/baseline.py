"""The trivial restoration every model must beat, scored with the model's own metrics.

Super-resolution (``scale > 1``): the low-resolution input up-scaled by MATLAB's bicubic ``imresize``
(``toolkit/data/imresize.py``), the "Bicubic" row of every SR table; the input is rounded to 8 bits
first and each axis pass is stored as 8 bits, as MATLAB does with uint8 images, so the figures equal
the published bicubic baselines. Same-size restoration (denoising, deblurring, JPEG): the degraded
input itself. The keys are the wrapped metrics' keys with the prefix ``bicubic_`` or ``input_``.
"""

from __future__ import annotations

import numpy as np
import torch

from toolkit.data.imresize import imresize
from toolkit.metrics import Metric, MetricCollection
from toolkit.metrics.image_quality import quantize_uint8

__all__ = ["InputBaseline", "bicubic_upscale", "baseline_prefix"]


def baseline_prefix(scale: int) -> str:
    """``'bicubic_'`` for super-resolution, ``'input_'`` for same-size restoration."""
    return "bicubic_" if int(scale) > 1 else "input_"


def bicubic_upscale(lq: torch.Tensor, scale: int) -> torch.Tensor:
    """MATLAB ``imresize(uint8(lq), scale, 'bicubic')`` of a [0, 1] batch, returned as float in [0, 1].

    Shape:
        - Input: (B, C, h, w)
        - Output: (B, C, h * scale, w * scale)
    """
    lr = quantize_uint8(lq).permute(0, 2, 3, 1).cpu().numpy()  # (B, h, w, C) uint8
    up = np.stack([imresize(img, int(scale)) for img in lr])  # (B, h*s, w*s, C) uint8
    return torch.from_numpy(up).permute(0, 3, 1, 2).to(lq.device, torch.float32) / 255.0  # (B, C, h*s, w*s)


class InputBaseline(Metric):
    """The wrapped metrics (e.g. PSNR/SSIM, RGB and Y) of the baseline prediction made from ``batch['input']``.

    Args:
        metrics: metrics taking ``(pred, target)``, built from the same specs as the model's, so the
            baseline is scored with the same crop border, channel and rounding.
        scale: the super-resolution factor (1: the input itself is the baseline).
    """

    uses_batch = True

    def __init__(self, metrics: MetricCollection, scale: int):
        super().__init__()
        self.scale = int(scale)
        self.prefix = baseline_prefix(self.scale)
        self.inner = metrics
        self.higher_is_better = {self.prefix + k: v for m in metrics for k, v in m.higher_is_better.items()}

    def reset(self) -> None:
        super().reset()
        self.inner.reset()

    def update(self, pred: torch.Tensor, target: torch.Tensor, batch: dict) -> None:
        lq = batch["input"].float()
        guess = bicubic_upscale(lq, self.scale) if self.scale > 1 else lq
        self.inner.update(guess, target)

    def per_image_by_key(self) -> dict[str, torch.Tensor]:
        """Per-image values of the wrapped metrics that keep them, under the prefixed keys."""
        return {self.prefix + m.key: m.per_image() for m in self.inner if hasattr(m, "per_image") and hasattr(m, "key")}

    def _compute(self) -> dict[str, float]:
        return {self.prefix + k: v for k, v in self.inner.compute().items()}  # the inner metrics sync themselves
