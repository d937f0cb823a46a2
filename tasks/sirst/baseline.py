"""The training-free detector every SIRST model must beat: a white top-hat with an adaptive threshold.

The classic single-frame detector of the field (morphological top-hat, Rivest & Fortin 1996; the
"Top-Hat" row of the comparison tables of ACM and DNANet): a bright target smaller than the
structuring element disappears from the grey-level opening of the image, so

    T = I - open(I)                       (open = dilate(erode(I)), a square of ``size`` pixels)

keeps the small bright structures and removes the background. A pixel is a target where
``T > t = mean(T) + k * std(T)`` over its image (the adaptive threshold of the top-hat literature).
The detector reads the grey image: the network's input with its normalisation undone and, for colour
input, the ITU-R 601 luma that ``data.color='grey'`` reads (PIL's ``convert('L')``, without its rounding
to whole grey levels). So one image gives the same detection under every config.

The score handed to a metric of threshold ``thr`` is the monotone map ``s = q r / (q r + 1)`` of
``q = T / t``, with ``r = thr / (1 - thr)``: ``s > thr`` exactly where ``T > t``, so mIoU, nIoU, Pd and Fa
score the detector's own masks whatever threshold each metric uses, and the ROC AUC ranks ``T / t``
(the response relative to its image's threshold). The keys are the model's keys with the prefix
``tophat_``.

NOTE: ``size=11`` and ``k=12`` were chosen on the 213 training images of NUAA-SIRST (50_50 split), at
their original resolution, by training-split mIoU over sizes 5-15 and k 2-30 (best: 50.35), never on
the test images (``benchmarks/sirst_tophat.py``; ``docs/sirst.md``, "Baseline"). Evaluated on resized
images (``data.eval_size``) the same detector scores lower.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from toolkit.metrics import Metric, MetricCollection

__all__ = ["TopHatBaseline", "tophat", "tophat_ratio", "tophat_score", "PREFIX", "DESCRIPTION", "SIZE", "K"]

PREFIX = "tophat_"
DESCRIPTION = "top-hat detector"
SIZE = 11  # side of the square structuring element (pixels): larger than the targets (at most about 9 x 9)
K = 12.0  # the adaptive threshold: mean + K std of the image's top-hat response
_LUMA = torch.tensor([0.299, 0.587, 0.114])  # ITU-R 601-2, PIL's convert('L')


def tophat(image: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """White top-hat ``I - dilate(erode(I))`` with a ``size`` x ``size`` square, per image and channel.

    Borders: the erosion and dilation take the extreme over the pixels inside the image only.

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W), >= 0
    """
    if size < 1 or size % 2 == 0:
        raise ValueError(f"tophat: size must be an odd number >= 1, got {size}")
    pad = size // 2
    eroded = -F.max_pool2d(-image, size, stride=1, padding=pad)  # max_pool2d pads with -inf: image pixels only
    opened = F.max_pool2d(eroded, size, stride=1, padding=pad)
    return (image - opened).clamp_min(0)


def tophat_ratio(grey: torch.Tensor, size: int = SIZE, k: float = K) -> torch.Tensor:
    """``T / (mean(T) + k std(T))`` of one grey image: above 1 exactly where the detector fires.

    Args:
        grey: (1, H, W) grey image, any scale and offset (the ratio ignores both).
        size: side of the square structuring element (odd).
        k: the threshold in standard deviations of the image's top-hat response above its mean.

    Shape:
        - Output: (1, H, W), >= 0
    """
    t_map = tophat(grey.float()[None], size)[0]  # (1, H, W)
    cut = (t_map.mean() + k * t_map.std(correction=0)).clamp_min(1e-12)  # a flat image: nothing passes
    return t_map / cut


def _score(ratio: torch.Tensor, threshold: float) -> torch.Tensor:
    """The monotone map of ``ratio`` into [0, 1) that passes ``threshold`` exactly where ``ratio > 1``."""
    r = threshold / (1.0 - threshold)
    return ratio * r / (ratio * r + 1.0)


def tophat_score(grey: torch.Tensor, threshold: float = 0.5, size: int = SIZE, k: float = K) -> torch.Tensor:
    """The detector's score in [0, 1) for a metric of threshold ``threshold`` in (0, 1).

    Args:
        grey: (1, H, W) grey image (see :func:`tophat_ratio`).
        threshold: the metric's threshold (``prob > threshold``): the score passes it where the detector fires.

    Shape:
        - Output: (1, H, W)
    """
    return _score(tophat_ratio(grey, size, k), threshold)


class TopHatBaseline(Metric):
    """The wrapped IRSTD metrics of the top-hat detector, run on ``batch['input']`` at the evaluation size.

    Each image of the batch is cropped to its target's size first (a batch of mixed sizes is padded),
    so the detector sees exactly the pixels the model's prediction is scored on. Each wrapped metric
    receives the score for its own ``threshold``.

    Args:
        metrics: metrics taking ``(prob, mask)``, built from the same specs as the model's.
        mean, std: the per-channel normalisation of the input (any units), undone before the grey conversion;
            ``None``: the input is used as it is.
        size, k: the detector's square and threshold (:func:`tophat_ratio`).
    """

    uses_batch = True

    def __init__(
        self,
        metrics: MetricCollection,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        size: int = SIZE,
        k: float = K,
    ):
        super().__init__()
        for name, m in metrics.metrics.items():
            thr = getattr(m, "threshold", 0.5)
            if not 0.0 < thr < 1.0:
                raise ValueError(f"the top-hat baseline needs thresholds in (0, 1); metric {name!r} has {thr}")
        self.mean = None if mean is None else torch.tensor(mean, dtype=torch.float32)[:, None, None]  # (C, 1, 1)
        self.std = None if std is None else torch.tensor(std, dtype=torch.float32)[:, None, None]
        self.size, self.k = int(size), float(k)
        self.inner = metrics
        self.higher_is_better = {PREFIX + key: v for m in metrics for key, v in m.higher_is_better.items()}

    def reset(self) -> None:
        super().reset()
        self.inner.reset()

    def grey(self, x: torch.Tensor) -> torch.Tensor:
        """(C, H, W) normalised input -> (1, H, W) grey image (one channel: the normalisation undone)."""
        x = x.detach().float().cpu()
        if self.mean is not None and self.std is not None:
            x = x * self.std + self.mean
        if len(x) == 3:
            return torch.einsum("c,chw->hw", _LUMA, x)[None]
        return x.mean(0, keepdim=True)

    def update(self, pred: Any, target: Any, batch: dict) -> None:
        x = batch["input"]  # (B, C, H', W'), normalised
        masks = list(target) if isinstance(target, (list, tuple)) else list(target.split(1))  # (1, 1, h, w) each
        ratios = []
        for i, m in enumerate(masks):
            h, w = m.shape[-2:]
            ratios.append(tophat_ratio(self.grey(x[i, :, :h, :w]), self.size, self.k)[None].to(m.device))
        by_threshold: dict[float, list[torch.Tensor]] = {}
        for metric in self.inner:
            thr = float(getattr(metric, "threshold", 0.5))
            if thr not in by_threshold:
                by_threshold[thr] = [_score(q, thr) for q in ratios]
            metric.update(by_threshold[thr], masks)  # lists of (1, 1, h, w): the IRSTD metrics take mixed sizes

    def _compute(self) -> dict[str, float]:
        return {PREFIX + key: v for key, v in self.inner.compute().items()}  # the inner metrics sync themselves
