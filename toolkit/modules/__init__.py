"""Layers, attention blocks, backbones and shared operators used by the task models."""

from toolkit.modules import attention, backbones, blocks
from toolkit.modules.attention import build_attention
from toolkit.modules.init import init_weights
from toolkit.modules.layers import ConvNormAct, DropPath, LayerNorm2d, make_act, make_norm
from toolkit.modules.quantize import VectorQuantizer, VQOutput
from toolkit.modules.spectral import AFNO2d, FourierBlock

__all__ = [
    "attention",
    "backbones",
    "blocks",
    "build_attention",
    "init_weights",
    "ConvNormAct",
    "DropPath",
    "LayerNorm2d",
    "make_act",
    "make_norm",
    "AFNO2d",
    "FourierBlock",
    "VectorQuantizer",
    "VQOutput",
]
