"""SIRST models, registered in ``MODELS``: ``dnanet``, ``acm`` and ``unet``."""

from tasks.sirst.models.acm import ACM, AsymBiFusion
from tasks.sirst.models.blocks import ResidualBlock, make_stage
from tasks.sirst.models.dnanet import DNANet
from tasks.sirst.models.unet import UNet

__all__ = ["ACM", "AsymBiFusion", "DNANet", "ResidualBlock", "UNet", "make_stage"]
