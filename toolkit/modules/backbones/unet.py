"""U-Net: the contracting path as a feature-pyramid backbone, the expanding path as a decoder for any pyramid.

O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation", MICCAI 2015. Each level is two 3x3 conv-norm-act layers; the encoder halves the
resolution by 2x2 max-pooling and doubles the width (64 ... 1024); the decoder up-samples with a
2x2 transposed conv that halves the width, concatenates the encoder feature of the same level and
applies two 3x3 convs.

The two halves are separate so that the expanding path can sit on any ``BACKBONES`` entry (ResNet,
ConvNeXt, ...): ``UNetDecoder(backbone.out_channels)`` turns any pyramid into a U-Net, and
``UNetDecoder(UNetEncoder(...).out_channels)`` is the paper's network.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from toolkit.errors import ConfigError
from toolkit.modules.attention import build_attention
from toolkit.modules.backbones.base import _check_input, stage_values
from toolkit.modules.layers import ConvNormAct
from toolkit.registry import BACKBONES

__all__ = ["DoubleConv", "UNetDecoder", "UNetEncoder"]


class DoubleConv(nn.Sequential):
    """Two 3x3 conv-norm-act layers followed by an attention re-weighting (``None`` = none).

    Shape:
        - Input: (B, in_channels, H, W)
        - Output: (B, out_channels, H, W)
    """

    def __init__(
        self, in_channels: int, out_channels: int, *, attn: Any = None, norm_layer: str = "bn", act_layer: str = "relu"
    ):
        super().__init__(
            ConvNormAct(in_channels, out_channels, 3, norm_layer=norm_layer, act_layer=act_layer),
            ConvNormAct(out_channels, out_channels, 3, norm_layer=norm_layer, act_layer=act_layer),
            build_attention(attn, out_channels),
        )


@BACKBONES.register("unet")
class UNetEncoder(nn.Module):
    """U-Net contracting path; returns the double-conv output of every level, finest first.

    NOTE: the paper uses unpadded convolutions and crops the skip features; here the convs are
    padded ('same'), so level i has exactly the size of the input after i 2x2 poolings (floor).

    Args:
        in_channels: input image channels.
        channels: width of every level, finest first (paper: 64, 128, 256, 512, 1024); the last level
            is the bottleneck.
        attn: attention spec applied after every double conv, or a list with one per level.
        norm_layer: norm short name (``bn``; the paper predates BatchNorm in U-Nets and has none).
        act_layer: activation short name.

    Shape:
        - Input: (B, in_channels, H, W)
        - Output: list of ``len(channels)`` tensors (B, channels[i], H // 2**i, W // 2**i)
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        channels: Sequence[int] = (64, 128, 256, 512, 1024),
        attn: Any = None,
        norm_layer: str = "bn",
        act_layer: str = "relu",
    ):
        super().__init__()
        channels = list(channels)
        if len(channels) < 2:
            raise ConfigError(f"unet: channels needs at least two levels, got {channels}")
        self.in_channels = in_channels
        attns = stage_values(attn, len(channels), "unet.attn")
        widths = [in_channels, *channels]
        self.levels = nn.ModuleList(
            DoubleConv(widths[i], widths[i + 1], attn=attns[i], norm_layer=norm_layer, act_layer=act_layer)
            for i in range(len(channels))
        )
        self.out_channels = channels
        self.strides = [2**i for i in range(len(channels))]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        _check_input(x.shape, self.in_channels, "unet")
        feats = []
        for i, level in enumerate(self.levels):
            x = level(x if i == 0 else F.max_pool2d(x, 2))  # (B, channels[i], H / 2**i, W / 2**i)
            feats.append(x)
        return feats


class _Up(nn.Module):
    """Up-sample a deep feature to the size of its skip and change its width from ``in_channels`` to ``out_channels``.

    ``deconv``: the paper's 2x2 transposed conv, padded (or cropped) by at most a pixel per axis to the skip's
    size. ``bilinear``: bilinear resize to the skip's size, then a 1x1 conv.
    """

    def __init__(self, in_channels: int, out_channels: int, mode: str):
        super().__init__()
        self.mode = mode
        if mode == "deconv":
            self.conv = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        else:
            self.conv = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        h, w = skip.shape[-2:]
        if self.mode == "deconv":
            x = self.conv(x)  # (B, out, 2h', 2w')
            return F.pad(x, (0, w - x.shape[-1], 0, h - x.shape[-2]))  # (B, out, h, w)
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)  # (B, in, h, w)
        return self.conv(x)  # (B, out, h, w)


class UNetDecoder(nn.Module):
    """U-Net expanding path over a feature pyramid (finest first, as every ``BACKBONES`` entry returns).

    Level i (coarsest first) up-samples the running feature to the size of pyramid level i, changes its
    width to ``in_channels[i]``, concatenates the pyramid feature (skip first) and applies a double conv.

    Args:
        in_channels: channels of the pyramid levels, finest first (a backbone's ``out_channels``).
        upsample: ``'deconv'`` (paper: 2x2 transposed conv; needs levels that differ by a factor 2 in size)
            or ``'bilinear'`` (bilinear resize and a 1x1 conv; any size ratio).
        attn: attention spec after every double conv, or a list with one per level (the coarsest level's
            entry is unused: that level has no decoder block).
        norm_layer: norm short name.
        act_layer: activation short name.

    Shape:
        - Input: list of tensors (B, in_channels[i], H_i, W_i), finest first
        - Output: list of the same shapes: the decoded levels, finest first, and the coarsest input last
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        *,
        upsample: str = "deconv",
        attn: Any = None,
        norm_layer: str = "bn",
        act_layer: str = "relu",
    ):
        super().__init__()
        widths = list(in_channels)
        if len(widths) < 2:
            raise ConfigError(f"UNetDecoder needs a pyramid of at least two levels, got channels {widths}")
        if upsample not in ("deconv", "bilinear"):
            raise ConfigError(f"upsample must be 'deconv' or 'bilinear', got {upsample!r}")
        attns = stage_values(attn, len(widths), "unet decoder attn")
        self.up = nn.ModuleList(_Up(widths[i + 1], widths[i], upsample) for i in range(len(widths) - 1))
        self.blocks = nn.ModuleList(
            DoubleConv(2 * widths[i], widths[i], attn=attns[i], norm_layer=norm_layer, act_layer=act_layer)
            for i in range(len(widths) - 1)
        )
        self.out_channels = widths

    def forward(self, feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        x = feats[-1]
        outs = [x]
        for i in range(len(self.blocks) - 1, -1, -1):
            skip = feats[i]
            x = self.blocks[i](torch.cat([skip, self.up[i](x, skip)], dim=1))  # (B, 2 w_i, H_i, W_i) -> (B, w_i, ...)
            outs.append(x)
        return outs[::-1]
