"""Gated spatial attention (gSTA) of SimVP v2.

Tan et al., "SimVP: Towards Simple yet Powerful Spatiotemporal Predictive Learning", arXiv 2211.12509.
A large receptive field (21 at the default) is decomposed into a depthwise 5x5 conv, a depthwise
7x7 conv with dilation 3 and a 1x1 conv that produces a value and a gate; output = sigmoid(gate) * value.
"""

from __future__ import annotations

import torch
from torch import nn

from toolkit.registry import ATTENTION

__all__ = ["GatedSpatialAttention"]


@ATTENTION.register("gsta")
class GatedSpatialAttention(nn.Module):
    """Gated large-kernel spatial attention.

    Args:
        channels: input/output channels.
        kernel_size: equivalent receptive field of the decomposed kernel (21 in SimVP v2).
        dilation: dilation of the second depthwise conv (3).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    paper = "SimVP v2 (Tan et al. 2022)"

    def __init__(self, channels: int, *, kernel_size: int = 21, dilation: int = 3):
        super().__init__()
        local = 2 * dilation - 1  # 5 for dilation 3
        far = kernel_size // dilation
        far = far if far % 2 else far - 1  # odd kernel: 7 for 21 // 3
        self.local = nn.Conv2d(channels, channels, local, padding=local // 2, groups=channels)
        self.far = nn.Conv2d(
            channels, channels, far, padding=dilation * (far - 1) // 2, groups=channels, dilation=dilation
        )
        self.gate = nn.Conv2d(channels, 2 * channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.gate(self.far(self.local(x))).chunk(2, dim=1)  # 2 x (B, C, H, W)
        return torch.sigmoid(gate) * value
