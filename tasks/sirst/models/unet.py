"""A plain U-Net baseline for infrared small-target segmentation.

O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation", MICCAI 2015. Double 3x3 conv blocks, max-pool down-sampling, skip concatenation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from toolkit.registry import MODELS

from .blocks import DoubleConv, check_input, resize_to

__all__ = ["UNet"]


@MODELS.register("unet")
class UNet(nn.Module):
    """U-Net with BatchNorm and bilinear up-sampling.

    Args:
        in_channels: image channels (filled in by the task).
        num_classes: output maps.
        channels: widths of the levels, top to bottom.
        attn: attention re-weighting after every double-conv block (``None`` = plain U-Net).

    Shape:
        - Input: (B, in_channels, H, W), any H, W
        - Output: logits (B, num_classes, H, W)
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 1,
        channels: Sequence[int] = (32, 64, 128, 256, 512),
        attn: Any = None,
    ):
        super().__init__()
        channels = list(channels)
        if len(channels) < 2:
            raise ValueError(f"UNet needs at least two levels, got channels={channels}")
        # NOTE: bilinear up-sampling and a 1x1 reduction replace the paper's 2x2 up-convolution
        # (fewer parameters, no checkerboard artefacts on tiny targets); padding keeps sizes (paper: valid).
        self.in_channels = in_channels
        self.down = nn.ModuleList()
        prev = in_channels
        for c in channels:
            self.down.append(DoubleConv(prev, c, attn=attn))
            prev = c
        self.reduce = nn.ModuleList(nn.Conv2d(channels[i + 1], channels[i], 1) for i in range(len(channels) - 1))
        self.up = nn.ModuleList(DoubleConv(2 * channels[i], channels[i], attn=attn) for i in range(len(channels) - 1))
        self.head = nn.Conv2d(channels[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels)
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for i in range(len(self.up) - 1, -1, -1):
            skip = skips.pop()
            x = self.reduce[i](resize_to(x, skip, align_corners=False))  # (B, C_i, H_i, W_i)
            x = self.up[i](torch.cat([skip, x], dim=1))  # (B, 2 C_i, H_i, W_i) -> (B, C_i, H_i, W_i)
        return self.head(x)
