"""Selective kernel convolution: branches with different receptive fields mixed by a channel softmax.

X. Li, W. Wang, X. Hu, J. Yang, "Selective Kernel Networks", CVPR 2019.

Split (Sec. 3.1): M grouped convolutions (3x3, then 3x3 with dilation 2 for the "5x5" branch, ...),
each with BN + ReLU. Fuse: ``s = avgpool(sum_m U_m)``, ``z = relu(W s)`` with width
``d = max(C / r, L)`` (Eq. 4; r = 16, L = 32). Select: a softmax over the branches for every channel
(Eq. 5), ``V = sum_m a_m U_m``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from toolkit.modules.layers import ConvNormAct, make_act
from toolkit.registry import ATTENTION

__all__ = ["SelectiveKernel"]


@ATTENTION.register("sk")
class SelectiveKernel(nn.Module):
    """SK unit: M dilated grouped 3x3 branches, softly selected per channel.

    Args:
        channels: number of input (and output) channels C.
        branches: number of branches M (paper: 2); branch m uses dilation m + 1.
        groups: conv groups G (paper: 32); reduced to ``gcd(G, C)`` so that any C works.
        reduction: ratio r of the fuse width (paper: 16).
        min_channels: lower bound L of the fuse width (paper: 32).
        norm_layer: norm of the branches (paper: ``bn``).
        act_layer: activation of the branches and of the fuse layer (paper: ``relu``).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    paper = "Selective Kernel Networks (Li et al., CVPR 2019)"

    def __init__(
        self,
        channels: int,
        *,
        branches: int = 2,
        groups: int = 32,
        reduction: int = 16,
        min_channels: int = 32,
        norm_layer: str | None = "bn",
        act_layer: str = "relu",
    ):
        super().__init__()
        if branches < 1:
            raise ValueError(f"sk: branches must be >= 1, got {branches}")
        self.channels = channels
        self.branches = branches
        g = math.gcd(groups, channels)
        self.convs = nn.ModuleList(
            ConvNormAct(channels, channels, 3, dilation=m + 1, groups=g, norm_layer=norm_layer, act_layer=act_layer)
            for m in range(branches)
        )
        hidden = max(channels // reduction, min_channels)
        # NOTE: the paper puts a BatchNorm on the pooled descriptor z; that norm sees one value per
        # channel at batch 1 and cannot train there, so the fuse layer is a biased 1x1 conv + act.
        self.fuse = nn.Sequential(nn.Conv2d(channels, hidden, 1), make_act(act_layer))
        self.select = nn.Conv2d(hidden, channels * branches, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[0], x.shape[1]
        feats = torch.stack([conv(x) for conv in self.convs], dim=1)  # (B, M, C, H, W)
        s = feats.sum(dim=1).mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
        logits = self.select(self.fuse(s)).reshape(b, self.branches, c, 1, 1)  # (B, M, C, 1, 1)
        weights = torch.softmax(logits, dim=1)
        return (weights * feats).sum(dim=1)  # (B, C, H, W)
