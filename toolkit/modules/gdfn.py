"""Gated-Dconv feed-forward network (GDFN).

S. W. Zamir et al., "Restormer: Efficient Transformer for High-Resolution Image Restoration",
CVPR 2022, Sec. 3.2: a 1x1 convolution expands C to 2 x hidden channels, a depthwise 3x3
convolution adds local context, and one half gates the other (``GELU(x1) * x2``) before a 1x1
convolution projects back to C. The paper's expansion factor is 2.66 (hidden = int(2.66 C)); it is
``mlp_ratio`` here, the toolkit's one name for a hidden-width multiplier.
"""

from __future__ import annotations

import torch
from torch import nn

from toolkit.modules.layers import make_act

__all__ = ["GDFN"]


class GDFN(nn.Module):
    """Gated feed-forward ``W_out(act(dw(W_in x)_1) * dw(W_in x)_2)``.

    Args:
        channels: input and output channels C.
        mlp_ratio: hidden width factor, the paper's expansion factor; hidden = int(C * mlp_ratio) (paper: 2.66).
        bias: biases in the convolutions (Restormer: False).
        act_layer: gate activation (paper: ``gelu``).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    def __init__(self, channels: int, *, mlp_ratio: float = 2.66, bias: bool = False, act_layer: str = "gelu"):
        super().__init__()
        hidden = int(channels * mlp_ratio)
        self.hidden_channels = hidden
        self.project_in = nn.Conv2d(channels, hidden * 2, 1, bias=bias)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, 3, padding=1, groups=hidden * 2, bias=bias)
        self.act = make_act(act_layer)
        self.project_out = nn.Conv2d(hidden, channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.dwconv(self.project_in(x)).chunk(2, dim=1)  # each (B, hidden, H, W)
        return self.project_out(self.act(x1) * x2)
