"""SIRST models, registered in ``MODELS``: ``dnanet``, ``acm`` and ``unet``."""

from .acm import ACM, AsymBiFusion
from .blocks import DoubleConv, ResidualBlock, make_stage
from .dnanet import DNANet
from .unet import UNet

__all__ = ["ACM", "AsymBiFusion", "DNANet", "DoubleConv", "ResidualBlock", "UNet", "make_stage"]
