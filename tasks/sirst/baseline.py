"""The training-free detector every SIRST model must beat: a white top-hat with an adaptive threshold.

The classic single-frame detector of the field (morphological top-hat, Rivest & Fortin 1996; the
"Top-Hat" row of the comparison tables of ACM and DNANet): a bright target smaller than the
structuring element disappears from the grey-level opening of the image, so

    T = I - open(I)                       (open = dilate(erode(I)), a square of ``size`` pixels)

keeps the small bright structures and removes the background. A pixel is a target where
``T > mean(T) + k * std(T)`` over its image (the adaptive threshold of the top-hat literature). Both
the top-hat and this threshold are unchanged by the affine normalisation of the input, so the
detector reads the network's normalised input as it is; colour images are averaged over channels.

The score handed to the metrics is the monotone map ``s = T r / (T r + t)`` with ``t`` the image's
threshold and ``r = thr / (1 - thr)`` for the evaluation threshold ``thr``: ``s > thr`` exactly where
``T > t``, so mIoU, nIoU, Pd and Fa score the detector's own masks, and the ROC AUC ranks its top-hat
response (normalised per image). The keys are the model's keys with the prefix ``tophat_``.

NOTE: ``size=11`` and ``k=12`` were chosen on the 213 training images of NUAA-SIRST (50_50 split) by
training-split mIoU over sizes 5-15 and k 2-30 (best: 50.35), never on the test images (``docs/sirst.md``,
"Baseline"); the published comparison tables tune each paper's traditional detectors on their own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from toolkit.metrics import Metric, MetricCollection

__all__ = ["TopHatBaseline", "tophat", "tophat_score", "PREFIX", "DESCRIPTION", "SIZE", "K"]

PREFIX = "tophat_"
DESCRIPTION = "top-hat detector"
SIZE = 11  # side of the square structuring element (pixels): larger than the targets (at most about 9 x 9)
K = 12.0  # the adaptive threshold: mean + K std of the image's top-hat response


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


def tophat_score(image: torch.Tensor, threshold: float = 0.5, size: int = SIZE, k: float = K) -> torch.Tensor:
    """The detector's score in [0, 1): above ``threshold`` exactly where the top-hat exceeds mean + k std.

    Args:
        image: one image (C, H, W), any affine normalisation.
        threshold: the evaluation threshold the metrics apply (``prob > threshold``), in (0, 1).

    Shape:
        - Output: (1, H, W)
    """
    t_map = tophat(image.float().mean(0, keepdim=True)[None], size)[0]  # (1, H, W)
    cut = (t_map.mean() + k * t_map.std(correction=0)).clamp_min(1e-12)  # a flat image: nothing passes
    odds = threshold / (1.0 - threshold)
    return t_map * odds / (t_map * odds + cut)


class TopHatBaseline(Metric):
    """The wrapped IRSTD metrics of the top-hat detector, run on ``batch['input']`` at the evaluation size.

    Each image of the batch is cropped to its target's size first (a batch of mixed sizes is padded),
    so the detector sees exactly the pixels the model's prediction is scored on.

    Args:
        metrics: metrics taking ``(prob, mask)``, built from the same specs as the model's.
        threshold: the evaluation threshold of those metrics.
    """

    uses_batch = True

    def __init__(self, metrics: MetricCollection, threshold: float = 0.5, size: int = SIZE, k: float = K):
        super().__init__()
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"TopHatBaseline: the threshold must lie in (0, 1), got {threshold}")
        self.threshold, self.size, self.k = float(threshold), int(size), float(k)
        self.inner = metrics
        self.higher_is_better = {PREFIX + k: v for m in metrics for k, v in m.higher_is_better.items()}

    def reset(self) -> None:
        super().reset()
        self.inner.reset()

    def update(self, pred, target, batch: dict) -> None:
        x = batch["input"]  # (B, C, H', W'), normalised
        masks = list(target) if isinstance(target, (list, tuple)) else list(target.split(1))
        scores = []
        for i, m in enumerate(masks):
            h, w = m.shape[-2:]
            scores.append(tophat_score(x[i, :, :h, :w], self.threshold, self.size, self.k)[None].to(m.device))
        self.inner.update(scores, masks)  # lists of (1, 1, h, w): the IRSTD metrics take mixed sizes

    def _compute(self) -> dict[str, float]:
        return {PREFIX + k: v for k, v in self.inner.compute().items()}  # the inner metrics sync themselves
