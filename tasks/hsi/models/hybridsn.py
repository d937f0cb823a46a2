"""HybridSN: a 3-D / 2-D CNN for hyperspectral image classification.

S. K. Roy, G. Krishna, S. R. Dubey, B. B. Chaudhuri, "HybridSN: Exploring 3-D-2-D CNN Feature
Hierarchy for Hyperspectral Image Classification", IEEE GRSL 17(2), 2020.

Architecture (paper, Table I): three valid 3-D convolutions with 8, 16 and 32 filters and
spectral x spatial kernels 7x3x3, 5x3x3, 3x3x3; the spectral depth is folded into channels; one
valid 3x3 2-D convolution with 64 filters; dense layers of 256 and 128 units with dropout 0.4; the
classifier. At window 25 with 30 principal components and 16 classes it has 5,122,176 parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from toolkit.modules.attention import build_attention
from toolkit.modules.layers import make_act
from toolkit.modules.shape import check_shape
from toolkit.registry import MODELS

__all__ = ["HybridSN"]


@MODELS.register("hybridsn")
class HybridSN(nn.Module):
    """HybridSN for patch classification.

    Args:
        in_channels: spectral depth D of the input patch (PCA components or bands).
        num_classes: number of classes K.
        window: spatial size S of the (square) input patch.
        channels_3d: filters of the three 3-D convolutions.
        spectral_kernels: spectral kernel sizes of the three 3-D convolutions (spatial kernels are 3x3).
        hidden_channels: filters of the 2-D convolution.
        dense: widths of the fully connected layers.
        dropout: dropout after each fully connected layer.
        act_layer: activation name (``toolkit.modules.layers.make_act``).
        attn: attention spec applied to the 2-D feature map (``None`` = identity), e.g. ``dict(type='se')``.

    Shape:
        - Input: (B, 1, D, S, S)
        - Output: logits (B, K)
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        window: int = 25,
        channels_3d: tuple[int, int, int] = (8, 16, 32),
        spectral_kernels: tuple[int, int, int] = (7, 5, 3),
        hidden_channels: int = 64,
        dense: tuple[int, ...] = (256, 128),
        dropout: float = 0.4,
        act_layer: str = "relu",
        attn: dict | str | None = None,
    ):
        super().__init__()
        # NOTE: PyTorch's default initialisation is kept; the Keras reference uses glorot_uniform.
        depth = in_channels - sum(k - 1 for k in spectral_kernels)
        size = window - 2 * len(spectral_kernels) - 2  # every valid 3x3 convolution removes 2 pixels
        if depth < 1 or size < 1:
            raise ValueError(
                f"HybridSN needs more than {sum(k - 1 for k in spectral_kernels)} spectral components and a window "
                f"of at least {2 * len(spectral_kernels) + 3}; got in_channels={in_channels}, window={window}"
            )
        self.in_channels, self.num_classes, self.window = in_channels, num_classes, window

        layers, prev = [], 1
        for out, k in zip(channels_3d, spectral_kernels):
            layers += [nn.Conv3d(prev, out, kernel_size=(k, 3, 3)), make_act(act_layer)]
            prev = out
        self.conv3d = nn.Sequential(*layers)
        self.conv2d = nn.Sequential(nn.Conv2d(prev * depth, hidden_channels, 3), make_act(act_layer))
        self.attn = build_attention(attn, hidden_channels)

        head, width = [], hidden_channels * size * size
        for units in dense:
            head += [nn.Linear(width, units), make_act(act_layer), nn.Dropout(dropout)]
            width = units
        self.head = nn.Sequential(*head)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_shape(x, ("B", 1, self.in_channels, self.window, self.window), "hybridsn")
        x = self.conv3d(x)  # (B, 32, D', S', S')
        x = x.flatten(1, 2)  # (B, 32*D', S', S')
        x = self.attn(self.conv2d(x))  # (B, 64, S'-2, S'-2)
        x = self.head(x.flatten(1))  # (B, 128)
        return self.classifier(x)  # (B, K)
