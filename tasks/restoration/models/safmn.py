"""SAFMN: spatially-adaptive feature modulation network for efficient super-resolution.

L. Sun, J. Dong, J. Tang, J. Pan, "Spatially-Adaptive Feature Modulation for Efficient Image
Super-Resolution", ICCV 2023.

A 3x3 convolution extracts C features, N blocks refine them, a global residual adds the shallow
features back, and a 3x3 convolution to ``3 s^2`` channels with pixel shuffle makes the output.
Each block is ``x + SAFM(LN(x))`` followed by ``x + CCM(LN(x))``, where the convolutional channel
mixer (CCM) is a 3x3 convolution to 2C channels, GELU and a 1x1 convolution back to C, and LN is a
channels-first LayerNorm. Published sizes at C = 36, N = 8: 227,820 (x2), 232,695 (x3) and
239,520 (x4) parameters.

The SAFM slot of every block is an ``attn`` config field: any ``ATTENTION`` entry can replace it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from toolkit.modules.attention import build_attention
from toolkit.modules.layers import LayerNorm2d, make_act
from toolkit.modules.shape import check_shape
from toolkit.registry import MODELS

__all__ = ["SAFMN", "SAFMBlock", "ConvChannelMixer"]


class ConvChannelMixer(nn.Module):
    """CCM: 3x3 convolution to ``C * mlp_ratio`` channels, activation, 1x1 convolution back to C.

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    def __init__(self, channels: int, *, mlp_ratio: float = 2.0, act_layer: str = "gelu"):
        super().__init__()
        hidden = int(channels * mlp_ratio)
        self.body = nn.Sequential(
            nn.Conv2d(channels, hidden, 3, padding=1), make_act(act_layer), nn.Conv2d(hidden, channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class SAFMBlock(nn.Module):
    """``x = x + attn(LN(x)); x = x + CCM(LN(x))``.

    Args:
        channels: feature width C.
        attn: attention spec for the modulation slot (default SAFM).
        mlp_ratio: CCM hidden width factor (paper: 2).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    def __init__(self, channels: int, *, attn: Any = "safm", mlp_ratio: float = 2.0):
        super().__init__()
        # NOTE: eps 1e-6 as in the authors' channels-first LayerNorm (the toolkit's LayerNorm2d default).
        self.norm1 = LayerNorm2d(channels)
        self.attn = build_attention(attn, channels)
        self.norm2 = LayerNorm2d(channels)
        self.ccm = ConvChannelMixer(channels, mlp_ratio=mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ccm(self.norm2(x))


@MODELS.register("safmn")
class SAFMN(nn.Module):
    """SAFMN super-resolution network.

    Args:
        in_channels: image channels of the input (3 for RGB).
        out_channels: image channels of the output (``None``: same as the input).
        channels: feature width C (paper: 36; SAFMN-L uses 128).
        num_blocks: number of blocks N (paper: 8; SAFMN-L uses 16).
        upscale: super-resolution factor s (1 gives a same-size restoration network).
        mlp_ratio: CCM hidden width factor (paper: 2).
        attn: attention spec of the blocks' modulation slot (``'safm'``; ``None`` disables it).

    Shape:
        - Input: (B, in_channels, H, W)
        - Output: (B, out_channels, H * upscale, W * upscale)
    """

    size_multiple = 1  # any input size works (the pooled pyramid levels clamp at 1 px)

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int | None = None,
        channels: int = 36,
        num_blocks: int = 8,
        upscale: int = 4,
        mlp_ratio: float = 2.0,
        attn: Any = "safm",
    ):
        super().__init__()
        out_channels = out_channels or in_channels
        self.in_channels = in_channels
        self.upscale = upscale
        self.to_feat = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.feats = nn.Sequential(*[SAFMBlock(channels, attn=attn, mlp_ratio=mlp_ratio) for _ in range(num_blocks)])
        self.to_img = nn.Sequential(
            nn.Conv2d(channels, out_channels * upscale**2, 3, padding=1),
            nn.PixelShuffle(upscale),  # (B, out, H*s, W*s)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_shape(x, ("B", self.in_channels, "H", "W"), "safmn")
        feat = self.to_feat(x)  # (B, C, H, W)
        feat = self.feats(feat) + feat
        return self.to_img(feat)
