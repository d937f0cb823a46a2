"""Classification losses: cross-entropy on logits (B, K) or dense logits (B, K, H, W)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from toolkit.registry import LOSSES

__all__ = ["CrossEntropyLoss"]


@LOSSES.register("cross_entropy")
class CrossEntropyLoss(nn.Module):
    """Softmax cross-entropy with optional class weights, label smoothing and an ignored index.

    Args:
        class_weights: optional per-class weights (length K), e.g. inverse class frequencies.
        label_smoothing: amount of smoothing in [0, 1) (0 = plain cross-entropy).
        ignore_index: targets with this value contribute nothing (-1 marks unlabelled pixels).

    Shape:
        - pred: logits (B, K) or (B, K, H, W)
        - target: class indices (B,) or (B, H, W), int64
        - output: scalar
    """

    def __init__(
        self, class_weights: Sequence[float] | None = None, label_smoothing: float = 0.0, ignore_index: int = -1
    ):
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing}")
        weight = None if class_weights is None else torch.as_tensor(list(class_weights), dtype=torch.float32)
        self.register_buffer("class_weights", weight, persistent=False)
        self.label_smoothing = label_smoothing
        self.ignore_index = ignore_index

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # NOTE: computed in float32 under autocast, where bf16 log-softmax loses too much precision.
        return F.cross_entropy(
            pred.float(),
            target.long(),
            weight=self.class_weights,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
        )
