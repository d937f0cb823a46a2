"""U-Net for infrared small-target segmentation: a feature-pyramid encoder, the U-Net decoder, a 1x1 head.

O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation", MICCAI 2015. Double 3x3 conv blocks, max-pool down-sampling, skip concatenation.
Encoder and decoder are the toolkit's (``toolkit.modules.backbones.unet``); the encoder can be any
``BACKBONES`` entry, the usual "U-Net with a ResNet / ConvNeXt encoder" of segmentation work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tasks.sirst.models.blocks import check_input
from toolkit.errors import ConfigError
from toolkit.modules.backbones import BACKBONES, UNetDecoder, UNetEncoder
from toolkit.registry import MODELS

__all__ = ["UNet"]

_DEFAULT_CHANNELS = (32, 64, 128, 256, 512)


@MODELS.register("unet")
class UNet(nn.Module):
    """U-Net with BatchNorm and bilinear up-sampling, on its own encoder or on any registered backbone.

    Args:
        in_channels: image channels (filled in by the task).
        num_classes: output maps.
        channels: widths of the built-in U-Net encoder, top to bottom (``None``: 32 ... 512). Leave it
            ``None`` when ``backbone`` is given: the decoder then takes the backbone's ``out_channels``.
        backbone: ``None`` (the built-in U-Net encoder) or a ``BACKBONES`` spec, e.g.
            ``dict(type='resnet18', base_channels=16, stem_stride=1)``; it is built with this model's
            ``in_channels`` and, unless the spec names its own, this model's ``attn``.
        upsample: decoder up-sampling, ``'bilinear'`` (resize + 1x1 conv) or ``'deconv'`` (paper).
        attn: attention re-weighting after every double-conv block (``None`` = plain U-Net).

    Shape:
        - Input: (B, in_channels, H, W), any H, W
        - Output: logits (B, num_classes, H, W)
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 1,
        channels: Sequence[int] | None = None,
        backbone: Any = None,
        upsample: str = "bilinear",
        attn: Any = None,
    ):
        super().__init__()
        # NOTE: bilinear up-sampling and a 1x1 reduction replace the paper's 2x2 up-convolution by default
        # (fewer parameters, no checkerboard artefacts on tiny targets); padding keeps sizes (paper: valid).
        self.in_channels = in_channels
        if backbone is None:
            self.backbone = UNetEncoder(in_channels=in_channels, channels=channels or _DEFAULT_CHANNELS, attn=attn)
        elif channels is not None:
            raise ConfigError(
                f"model.channels={list(channels)} sets the widths of the built-in U-Net encoder, but model.backbone "
                "is given and declares its own widths; set model.channels=None"
            )
        else:
            self.backbone = BACKBONES.build(backbone, in_channels=in_channels, attn=attn)
            if getattr(self.backbone, "in_channels", in_channels) != in_channels:
                raise ConfigError(
                    f"model.backbone.in_channels={self.backbone.in_channels} but the model takes {in_channels}; "
                    "leave the backbone's in_channels unset"
                )
        self.decoder = UNetDecoder(self.backbone.out_channels, upsample=upsample, attn=attn)
        self.head = nn.Conv2d(self.backbone.out_channels[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels)
        y = self.head(self.decoder(self.backbone(x))[0])  # (B, num_classes, H / stride_0, W / stride_0)
        if y.shape[-2:] != x.shape[-2:]:  # a backbone whose finest level is strided (ResNet's 4x stem)
            y = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return y
