"""Exponential moving average of model weights, evaluated and saved beside the raw weights."""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["EMA"]


class EMA:
    """``ema = decay * ema + (1 - decay) * weights`` after every optimiser step.

    Floating-point parameters and buffers are averaged; integer buffers (e.g. BatchNorm's
    ``num_batches_tracked``) are copied.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for key, value in model.state_dict().items():
            avg = self.shadow[key]
            if avg.is_floating_point():
                avg.lerp_(value.detach(), 1.0 - self.decay)
            else:
                avg.copy_(value)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in self.shadow.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for key, value in state.items():
            self.shadow[key].copy_(value)

    @contextmanager
    def applied(self, model: nn.Module):
        """Temporarily load the averaged weights into ``model`` (e.g. for validation)."""
        backup = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.shadow)
        try:
            yield model
        finally:
            model.load_state_dict(backup)
