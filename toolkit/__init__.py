"""A modular PyTorch toolkit for dense prediction."""

__version__ = "0.1.0"
