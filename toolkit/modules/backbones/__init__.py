"""Backbones with one feature-pyramid interface, registered in ``BACKBONES``.

Every backbone's ``forward`` returns a list of stage features, finest first; the attributes
``out_channels`` and ``strides`` (lists of the same length) declare each feature's channels and
its down-sampling factor relative to the input. Every backbone takes an ``attn`` spec (one for all
stages, or a list with one per stage) that its blocks build with ``build_attention``.
"""

from toolkit.modules.backbones.base import stage_values
from toolkit.modules.backbones.convnext import ConvNeXt, convnext_tiny
from toolkit.modules.backbones.resnet import ResNet, resnet18, resnet34, resnet50
from toolkit.modules.backbones.unet import UNetDecoder, UNetEncoder
from toolkit.registry import BACKBONES

__all__ = [
    "BACKBONES",
    "ConvNeXt",
    "ResNet",
    "UNetDecoder",
    "UNetEncoder",
    "convnext_tiny",
    "resnet18",
    "resnet34",
    "resnet50",
    "stage_values",
]
