"""Hyperspectral patch classifiers, registered in ``MODELS``: ``hybridsn`` and the light baseline ``hsi_lite``."""

from tasks.hsi.models.hybridsn import HybridSN
from tasks.hsi.models.lite import HSILiteNet

__all__ = ["HybridSN", "HSILiteNet"]
