"""Basic layers shared by every model: norm / activation factories, conv-norm-act, drop path.

Norms and activations are named by short strings so that configs can swap them:
norms ``bn``, ``gn`` (GroupNorm, ``groups`` option), ``ln2d`` (channels-first LayerNorm), ``in``, ``none``;
activations ``relu``, ``gelu``, ``silu``, ``lrelu``, ``sigmoid``, ``tanh``, ``none``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LayerNorm2d", "make_norm", "make_act", "ConvNormAct", "DropPath"]


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of a (B, C, H, W) tensor.

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), x.shape[1:2], self.weight, self.bias, self.eps)  # (B, H, W, C)
        return x.permute(0, 3, 1, 2)  # (B, C, H, W)


def make_norm(name: str | None, channels: int, *, groups: int = 2) -> nn.Module:
    """Build a 2-D norm layer by short name (``bn``, ``gn``, ``ln2d``, ``in``, ``none``)."""
    if name in (None, "none"):
        return nn.Identity()
    if name == "bn":
        return nn.BatchNorm2d(channels)
    if name == "gn":
        return nn.GroupNorm(groups, channels)
    if name == "ln2d":
        return LayerNorm2d(channels)
    if name == "in":
        return nn.InstanceNorm2d(channels, affine=True)
    raise ValueError(f"unknown norm {name!r}; expected one of bn, gn, ln2d, in, none")


def make_act(name: str | None, *, inplace: bool = False) -> nn.Module:
    """Build an activation by short name (``relu``, ``gelu``, ``silu``, ``lrelu``, ``sigmoid``, ``tanh``, ``none``)."""
    if name in (None, "none"):
        return nn.Identity()
    table = {
        "relu": lambda: nn.ReLU(inplace=inplace),
        "gelu": nn.GELU,
        "silu": lambda: nn.SiLU(inplace=inplace),
        "lrelu": lambda: nn.LeakyReLU(0.2, inplace=inplace),
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
    }
    if name not in table:
        raise ValueError(f"unknown activation {name!r}; expected one of {', '.join(table)}, none")
    return table[name]()


class ConvNormAct(nn.Sequential):
    """Conv2d -> norm -> activation, with 'same' padding for odd kernels.

    Shape:
        - Input: (B, in_channels, H, W)
        - Output: (B, out_channels, H / stride, W / stride)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        groups: int = 1,
        dilation: int = 1,
        norm_layer: str | None = "bn",
        act_layer: str | None = "relu",
        norm_groups: int = 2,
        bias: bool | None = None,
    ):
        padding = dilation * (kernel_size - 1) // 2
        if bias is None:
            bias = norm_layer in (None, "none")
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias=bias),
            make_norm(norm_layer, out_channels, groups=norm_groups),
            make_act(act_layer),
        )


class DropPath(nn.Module):
    """Stochastic depth: zero whole samples of a residual branch with probability ``drop_path``."""

    def __init__(self, drop_path: float = 0.0):
        super().__init__()
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_path == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_path
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep
