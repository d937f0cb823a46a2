"""Exponential moving average of model weights, evaluated and saved beside the raw weights."""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

__all__ = ["EMA"]


class EMA:
    """``ema = decay * ema + (1 - decay) * weights`` after every optimiser step (PyTorch's ``AveragedModel``).

    Parameters and floating-point buffers are averaged (``use_buffers=True``, as BasicSR's and timm's EMA
    do); integer buffers (BatchNorm's ``num_batches_tracked``) are copied. The first update copies the
    weights (``AveragedModel``'s rule), so the average never holds the untrained initial weights.
    ``state_dict()`` is the averaged model's own state dict, the ``ema`` entry of a checkpoint, which
    evaluation loads like the raw weights.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
        self.averaged.requires_grad_(False)
        self._integers = [k for k, v in model.state_dict().items() if not v.is_floating_point()]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.averaged.update_parameters(model)
        if self._integers:  # AveragedModel would average them as numbers too; a count is copied
            own, theirs = self.averaged.module.state_dict(), model.state_dict()
            for key in self._integers:
                own[key].copy_(theirs[key])

    @property
    def shadow(self) -> dict[str, torch.Tensor]:
        """The averaged weights, by the model's own keys."""
        return self.averaged.module.state_dict()

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in self.shadow.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.averaged.module.load_state_dict(state)
        self.averaged.n_averaged.fill_(1)  # a resumed average goes on averaging, it is not copied over

    @contextmanager
    def applied(self, model: nn.Module):
        """Temporarily load the averaged weights into ``model`` (e.g. for validation)."""
        backup = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.shadow)
        try:
            yield model
        finally:
            model.load_state_dict(backup)
