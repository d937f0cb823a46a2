"""Inception blocks with parallel grouped kernels and the Inception U-Net translator of SimVP.

Gao et al., "SimVP: Simpler yet Better Video Prediction", CVPR 2022. The translator works on a
clip whose time axis is folded into channels, (B, T*C, H, W), so any 2-D block can process it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from toolkit.modules.attention import build_attention

__all__ = ["GroupConvNormAct", "InceptionBlock", "InceptionUNet"]


class GroupConvNormAct(nn.Module):
    """Grouped conv -> GroupNorm(groups) -> LeakyReLU(0.2), 'same' padding.

    Falls back to one group when ``in_channels`` is not divisible by ``groups``, so any channel
    count works.

    Shape:
        - Input: (B, in_channels, H, W)
        - Output: (B, out_channels, H, W)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, groups: int = 8):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            groups = 1
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, groups=groups)
        self.norm = nn.GroupNorm(groups, out_channels)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


class InceptionBlock(nn.Module):
    """1x1 bottleneck followed by parallel grouped convs of several kernel sizes, summed.

    Args:
        in_channels: input channels.
        hidden_channels: channels after the 1x1 bottleneck.
        out_channels: output channels of every branch.
        kernel_sizes: one branch per kernel size (SimVP: 3, 5, 7, 11).
        groups: groups of the branch convolutions.
        attn: optional attention spec applied to the block output (``None`` = identity).

    Shape:
        - Input: (B, in_channels, H, W)
        - Output: (B, out_channels, H, W)
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        kernel_sizes: Sequence[int] = (3, 5, 7, 11),
        groups: int = 8,
        attn: Any = None,
    ):
        super().__init__()
        self.reduce = nn.Conv2d(in_channels, hidden_channels, 1)
        self.branches = nn.ModuleList(
            GroupConvNormAct(hidden_channels, out_channels, k, groups=groups) for k in kernel_sizes
        )
        self.attn = build_attention(attn, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.reduce(x)
        y = self.branches[0](x)
        for branch in self.branches[1:]:
            y = y + branch(x)
        return self.attn(y)


class InceptionUNet(nn.Module):
    """SimVP's IncepU translator: ``num_layers`` Inception blocks down, ``num_layers`` up, with skips.

    The decoder's block i (i >= 1) takes the previous output concatenated with the encoder output
    ``num_layers - 1 - i`` levels up (a U-Net over depth, not over resolution).

    Args:
        channels: input and output channels (T * C_latent when time is folded into channels).
        hidden_channels: block width (SimVP hid_T, 512 at the Moving MNIST setting).
        num_layers: blocks per side (SimVP N_T, 8).
        kernel_sizes: Inception kernels (3, 5, 7, 11).
        groups: groups of the Inception convs (8).
        attn: attention spec applied after every block (``None`` keeps the paper's model).

    Shape:
        - Input: (B, channels, H, W)
        - Output: (B, channels, H, W)
    """

    def __init__(
        self,
        channels: int,
        hidden_channels: int = 512,
        num_layers: int = 8,
        *,
        kernel_sizes: Sequence[int] = (3, 5, 7, 11),
        groups: int = 8,
        attn: Any = None,
    ):
        super().__init__()
        if num_layers < 2:
            raise ValueError(f"InceptionUNet needs num_layers >= 2, got {num_layers}")
        mid = hidden_channels // 2
        opts = dict(kernel_sizes=kernel_sizes, groups=groups, attn=attn)
        self.enc = nn.ModuleList(
            [InceptionBlock(channels, mid, hidden_channels, **opts)]
            + [InceptionBlock(hidden_channels, mid, hidden_channels, **opts) for _ in range(num_layers - 1)]
        )
        self.dec = nn.ModuleList(
            [InceptionBlock(hidden_channels, mid, hidden_channels, **opts)]
            + [InceptionBlock(2 * hidden_channels, mid, hidden_channels, **opts) for _ in range(num_layers - 2)]
            + [InceptionBlock(2 * hidden_channels, mid, channels, **opts)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        z = x
        for i, block in enumerate(self.enc):
            z = block(z)
            if i < len(self.enc) - 1:
                skips.append(z)
        z = self.dec[0](z)
        for i, block in enumerate(self.dec[1:], start=1):
            z = block(torch.cat([z, skips[-i]], dim=1))  # (B, 2*hidden, H, W)
        return z
