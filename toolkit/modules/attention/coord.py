"""Coordinate attention: channel attention factorised into two direction-aware 1-D encodings.

Q. Hou, D. Zhou, J. Feng, "Coordinate Attention for Efficient Mobile Network Design", CVPR 2021.

The input is average-pooled along W (giving one descriptor per row) and along H (one per column);
the two are concatenated, transformed by a shared 1x1 conv + BN + h-swish (Eq. 4, width
``max(8, C / r)`` with r = 32), split again, and each part gives a sigmoid gate along its axis
(Eqs. 5-6). Output: ``x * g_h * g_w`` (Eq. 7).
"""

from __future__ import annotations

import torch
from torch import nn

from toolkit.modules.layers import make_act, make_norm
from toolkit.registry import ATTENTION

__all__ = ["CoordAttention"]


@ATTENTION.register("coord")
class CoordAttention(nn.Module):
    """Coordinate attention block (pooling along H and W separately).

    Args:
        channels: number of input (and output) channels C.
        reduction: ratio r of the shared transform (paper: 32).
        min_channels: lower bound of the shared width (paper: 8).
        norm_layer: norm after the shared conv (paper: ``bn``).
        act_layer: activation after the norm; ``hswish`` (the paper's h-swish) or any
            :func:`toolkit.modules.layers.make_act` name.

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    paper = "Coordinate Attention for Efficient Mobile Network Design (Hou et al., CVPR 2021)"

    def __init__(
        self,
        channels: int,
        *,
        reduction: int = 32,
        min_channels: int = 8,
        norm_layer: str | None = "bn",
        act_layer: str = "hswish",
    ):
        super().__init__()
        self.channels = channels
        hidden = max(min_channels, channels // reduction)
        self.conv1 = nn.Conv2d(channels, hidden, 1)
        self.norm = make_norm(norm_layer, hidden)
        self.act = nn.Hardswish() if act_layer == "hswish" else make_act(act_layer)
        self.conv_h = nn.Conv2d(hidden, channels, 1)
        self.conv_w = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2], x.shape[3]
        pooled_h = x.mean(dim=3, keepdim=True)  # (B, C, H, 1)
        pooled_w = x.mean(dim=2, keepdim=True).transpose(2, 3)  # (B, C, W, 1)
        y = torch.cat([pooled_h, pooled_w], dim=2)  # (B, C, H+W, 1)
        y = self.act(self.norm(self.conv1(y)))  # (B, hidden, H+W, 1)
        y_h, y_w = torch.split(y, [h, w], dim=2)  # (B, hidden, H, 1), (B, hidden, W, 1)
        gate_h = torch.sigmoid(self.conv_h(y_h))  # (B, C, H, 1)
        gate_w = torch.sigmoid(self.conv_w(y_w.transpose(2, 3)))  # (B, C, 1, W)
        return x * gate_h * gate_w
