"""U-Net encoder-decoder feature extractor.

O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation", MICCAI 2015. Each level is two 3x3 conv-norm-act layers; the encoder halves the
resolution by 2x2 max-pooling and doubles the width (64 ... 1024); the decoder up-samples with a
2x2 transposed conv that halves the width, concatenates the encoder feature of the same level and
applies two 3x3 convs.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from toolkit.errors import ConfigError
from toolkit.modules.attention import build_attention
from toolkit.modules.backbones.base import _check_input, stage_values
from toolkit.modules.layers import ConvNormAct
from toolkit.registry import BACKBONES

__all__ = ["UNet"]


class _DoubleConv(nn.Sequential):
    """Two 3x3 conv-norm-act layers followed by the level's attention."""

    def __init__(self, in_channels: int, out_channels: int, attn: Any, norm_layer: str, act_layer: str):
        super().__init__(
            ConvNormAct(in_channels, out_channels, 3, norm_layer=norm_layer, act_layer=act_layer),
            ConvNormAct(out_channels, out_channels, 3, norm_layer=norm_layer, act_layer=act_layer),
            build_attention(attn, out_channels),
        )


@BACKBONES.register("unet")
class UNet(nn.Module):
    """U-Net; returns the decoder output of every level, finest first, and the bottleneck last.

    NOTE: the paper uses unpadded convolutions and crops the skip features; here the convs are
    padded ('same') and odd sizes are handled by padding the up-sampled feature to the skip's
    size, so the finest output has the input's resolution, which dense-prediction heads need.

    Args:
        in_channels: input image channels.
        base_channels: width of the first level (paper: 64); level i has ``base * 2**i``.
        num_levels: number of resolution levels including the bottleneck (paper: 5).
        attn: attention spec applied after every double conv, or a list with one per level
            (encoder and decoder of a level share the spec).
        norm_layer: norm short name (``bn``; the paper predates BatchNorm in U-Nets and has none).
        act_layer: activation short name.

    Shape:
        - Input: (B, in_channels, H, W)
        - Output: list of ``num_levels`` tensors; level i is (B, base * 2**i, ~H / 2**i, ~W / 2**i),
          with level 0 exactly (B, base, H, W)
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        base_channels: int = 64,
        num_levels: int = 5,
        attn: Any = None,
        norm_layer: str = "bn",
        act_layer: str = "relu",
    ):
        super().__init__()
        if num_levels < 2:
            raise ConfigError(f"unet: num_levels must be >= 2, got {num_levels}")
        self.in_channels = in_channels
        widths = [base_channels * 2**i for i in range(num_levels)]
        attns = stage_values(attn, num_levels, "unet.attn")
        self.encoder = nn.ModuleList(
            _DoubleConv(in_channels if i == 0 else widths[i - 1], widths[i], attns[i], norm_layer, act_layer)
            for i in range(num_levels)
        )
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in range(num_levels - 1)
        )
        self.decoder = nn.ModuleList(
            _DoubleConv(2 * widths[i], widths[i], attns[i], norm_layer, act_layer) for i in range(num_levels - 1)
        )
        self.out_channels = widths
        self.strides = [2**i for i in range(num_levels)]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        _check_input(x.shape, self.in_channels, "unet")
        skips = []
        for i, enc in enumerate(self.encoder):
            x = enc(x if i == 0 else self.pool(x))
            skips.append(x)
        outs = [x]  # the bottleneck, coarsest level
        for i in range(len(self.decoder) - 1, -1, -1):
            skip = skips[i]
            up = self.up[i](x)  # (B, w_i, 2h, 2w), at most one pixel short of the skip per axis
            up = F.pad(up, (0, skip.shape[3] - up.shape[3], 0, skip.shape[2] - up.shape[2]))
            x = self.decoder[i](torch.cat([skip, up], dim=1))  # (B, 2 w_i, H_i, W_i) -> (B, w_i, H_i, W_i)
            outs.append(x)
        return outs[::-1]
