"""Helpers shared by the backbones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolkit.errors import ConfigError
from toolkit.modules.shape import check_shape

__all__ = ["stage_values"]


def stage_values(value: Any, num_stages: int, name: str) -> list:
    """Expand a per-stage option: one value for every stage, or a list/tuple with one per stage.

    An attention spec is a dict or a string, so only lists and tuples count as per-stage values.
    """
    if isinstance(value, (list, tuple)):
        if len(value) != num_stages:
            raise ConfigError(f"{name}: expected one value or a list of {num_stages} (one per stage), got {value!r}")
        return list(value)
    return [value] * num_stages


def _check_input(x_shape: Sequence[int], in_channels: int, name: str) -> None:
    """Reject an input that is not (B, in_channels, H, W) with one message naming the expected shape."""
    check_shape(x_shape, ("B", in_channels, "H", "W"), name)
