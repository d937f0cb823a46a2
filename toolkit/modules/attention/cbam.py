"""Convolutional Block Attention Module: channel attention followed by spatial attention.

S. Woo, J. Park, J.-Y. Lee, I. S. Kweon, "CBAM: Convolutional Block Attention Module", ECCV 2018.

Channel gate (Eq. 2): ``Mc = sigmoid(MLP(avgpool(F)) + MLP(maxpool(F)))`` with one MLP shared by both
descriptors. Spatial gate (Eq. 3): ``Ms = sigmoid(conv7x7([mean_c(F'); max_c(F')]))``. Applied in
sequence, channel first (the order the paper found best, Table 3).
"""

from __future__ import annotations

import torch
from torch import nn

from toolkit.modules.layers import make_act
from toolkit.registry import ATTENTION

__all__ = ["ChannelGate", "SpatialGate", "CBAM"]


class ChannelGate(nn.Module):
    """CBAM's channel attention: a shared MLP on the average- and max-pooled descriptors.

    Args:
        channels: number of channels C.
        reduction: MLP bottleneck ratio r (hidden width ``max(min_channels, C // r)``).
        min_channels: lower bound of the hidden width.
        act_layer: hidden activation (paper: ``relu``).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    def __init__(
        self, channels: int, *, reduction: int = 16, min_channels: int = 1, act_layer: str = "relu", bias: bool = True
    ):
        super().__init__()
        hidden = max(min_channels, channels // reduction)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=bias), make_act(act_layer), nn.Conv2d(hidden, channels, 1, bias=bias)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = x.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
        mx = x.amax(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
        return x * torch.sigmoid(self.mlp(avg) + self.mlp(mx))


class SpatialGate(nn.Module):
    """CBAM's spatial attention: a k x k convolution of the channel-wise mean and max maps.

    Args:
        kernel_size: odd size of the spatial convolution (paper: 7).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    def __init__(self, kernel_size: int = 7, bias: bool = True):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"cbam: spatial kernel_size must be odd, got {kernel_size}")
        # NOTE: the authors' release adds a BatchNorm after this conv; the paper's Eq. 3 has none,
        # and a BatchNorm on a single-channel map misbehaves at batch 1, so we follow the paper.
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        desc = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)  # (B, 2, H, W)
        return x * torch.sigmoid(self.conv(desc))  # (B, 1, H, W) gate broadcast over C


@ATTENTION.register("cbam")
class CBAM(nn.Module):
    """Channel gate then spatial gate, each a multiplicative re-weighting of its input.

    Args:
        channels: number of input (and output) channels C.
        reduction: channel-MLP bottleneck ratio r (paper: 16).
        spatial_kernel: spatial convolution size (paper: 7).
        min_channels: lower bound of the channel-MLP hidden width.
        act_layer: channel-MLP activation.
        use_channel: keep the channel gate (set ``False`` for a spatial-only ablation).
        use_spatial: keep the spatial gate (set ``False`` for a channel-only ablation).
        bias: biases in the gates' convolutions (the paper's equations have them; DNANet's
            release has none).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    paper = "CBAM: Convolutional Block Attention Module (Woo et al., ECCV 2018)"

    def __init__(
        self,
        channels: int,
        *,
        reduction: int = 16,
        spatial_kernel: int = 7,
        min_channels: int = 1,
        act_layer: str = "relu",
        use_channel: bool = True,
        use_spatial: bool = True,
        bias: bool = True,
    ):
        super().__init__()
        self.channels = channels
        self.channel_gate = (
            ChannelGate(channels, reduction=reduction, min_channels=min_channels, act_layer=act_layer, bias=bias)
            if use_channel
            else nn.Identity()
        )
        self.spatial_gate = SpatialGate(spatial_kernel, bias=bias) if use_spatial else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial_gate(self.channel_gate(x))
