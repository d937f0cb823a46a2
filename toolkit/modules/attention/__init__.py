"""Attention blocks, registered in ``ATTENTION`` and built with :func:`build_attention`.

Contract for every entry: ``__init__(channels, *, options with defaults)``; forward maps
(B, C, H, W) -> (B, C, H, W) for any H, W (odd sizes and 1x1 included) and batch 1; a pure
re-weighting or mixing of the input (residuals and norms belong to the host block).

Every module in this package registers its blocks when imported; the package imports all of its
modules below so that the registry is complete without a hand-kept list.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from torch import nn

from toolkit.errors import ConfigError
from toolkit.registry import ATTENTION

__all__ = ["ATTENTION", "build_attention", "Identity"]


@ATTENTION.register("none")
class Identity(nn.Module):
    """The empty attention slot: returns its input unchanged."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels

    def forward(self, x):
        return x


def build_attention(spec: Any, channels: int) -> nn.Module:
    """Build an attention block for ``channels`` from a name, ``dict(type=..., **opts)`` or ``None``.

    ``None`` (or ``dict(type=None)``) gives the identity, so hosts can always call the result.
    Options without a type are an error: they would otherwise vanish into the identity.
    """
    if spec is None:
        return Identity(channels)
    if isinstance(spec, dict) and spec.get("type") is None:
        options = {k: v for k, v in spec.items() if k != "type"}
        if options:
            raise ConfigError(
                f"attention options {options} name no 'type', so no block would use them (the slot would be empty). "
                f"Name the block first, e.g. --set model.attn.type=se +model.attn.reduction=8. "
                f"Known types: {', '.join(sorted(ATTENTION))}"
            )
        return Identity(channels)
    return ATTENTION.build(spec, channels=channels)


for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")
