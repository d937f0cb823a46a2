"""Restoration models: SAFMN and CAMixerSR (super-resolution), Restormer (denoising, deblurring)."""

from tasks.restoration.models.camixersr import CAMixerSR
from tasks.restoration.models.restormer import Restormer
from tasks.restoration.models.safmn import SAFMN

__all__ = ["SAFMN", "Restormer", "CAMixerSR"]
