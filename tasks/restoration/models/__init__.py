"""Restoration models: SAFMN (super-resolution) and Restormer (denoising, deblurring)."""

from tasks.restoration.models.restormer import Restormer
from tasks.restoration.models.safmn import SAFMN

__all__ = ["SAFMN", "Restormer"]
