"""Weighted sums of losses built from a config list.

``loss = [dict(type='mse', weight=1.0), dict(type='fft', weight=0.05)]`` builds a
:class:`WeightedSum` whose forward returns ``{'loss': total, 'loss_mse': ..., 'loss_fft': ...}``
(unweighted terms, for logging).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from toolkit.errors import ConfigError
from toolkit.registry import LOSSES

__all__ = ["WeightedSum", "build_loss"]


def _float32(x: Any) -> Any:
    """``x`` with every half-precision tensor (also inside lists, tuples and dicts) cast to float32."""
    if isinstance(x, torch.Tensor):
        return x.float() if x.dtype in (torch.bfloat16, torch.float16) else x
    if isinstance(x, (list, tuple)):
        return type(x)(_float32(v) for v in x)
    if isinstance(x, dict):
        return {k: _float32(v) for k, v in x.items()}
    return x


def _device_type(x: Any) -> str | None:
    if isinstance(x, torch.Tensor):
        return x.device.type
    values = x.values() if isinstance(x, dict) else x if isinstance(x, (list, tuple)) else ()
    return next((t for t in map(_device_type, values) if t), None)


class WeightedSum(nn.Module):
    """Sum of ``weight * loss(pred, target)`` over named terms.

    The terms are computed in float32 with autocast off, whatever precision the model ran in: reductions
    over a whole image (soft IoU, SSIM windows, FFT magnitudes) lose digits in bfloat16, and the loss is a
    negligible part of a step's cost.
    """

    def __init__(self, terms: dict[str, tuple[float, nn.Module]]):
        super().__init__()
        self.weights = {name: w for name, (w, _) in terms.items()}
        self.terms = nn.ModuleDict({name: m for name, (_, m) in terms.items()})

    def forward(self, pred: Any, target: torch.Tensor) -> dict[str, torch.Tensor]:
        device = _device_type(pred)
        if device is not None and torch.is_autocast_enabled(device):
            with torch.autocast(device, enabled=False):
                return self.forward(_float32(pred), _float32(target))
        out: dict[str, torch.Tensor] = {}
        total = None
        for name, term in self.terms.items():
            value = term(pred, target)
            out[f"loss_{name}"] = value.detach()
            weighted = self.weights[name] * value
            total = weighted if total is None else total + weighted
        out["loss"] = total
        return out


def build_loss(spec: Any) -> WeightedSum:
    """Build a :class:`WeightedSum` from a name, a ``dict(type=..., weight=...)`` or a list of them."""
    if spec is None:
        raise ConfigError("config key 'loss' is empty; give e.g. loss=[dict(type='mse', weight=1.0)]")
    specs = spec if isinstance(spec, (list, tuple)) else [spec]
    terms: dict[str, tuple[float, nn.Module]] = {}
    for item in specs:
        item = {"type": item} if isinstance(item, str) else dict(item)
        weight = float(item.pop("weight", 1.0))
        name = item["type"]
        key, i = name, 1
        while key in terms:  # the same loss twice (e.g. at two settings) gets a suffix
            i += 1
            key = f"{name}{i}"
        terms[key] = (weight, LOSSES.build(item))
    return WeightedSum(terms)
