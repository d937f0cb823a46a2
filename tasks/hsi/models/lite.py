"""A light 3-D / 2-D CNN baseline for hyperspectral patch classification.

One padded 3-D convolution mixes neighbouring bands, the spectral axis is folded into channels (as
in HybridSN, Roy et al., IEEE GRSL 2020), two batch-normalised 3x3 2-D convolutions follow, then
global average pooling and a linear classifier. Unlike HybridSN it has no window-sized dense layer,
so it accepts any window and has about 100x fewer parameters; it is meant for quick CPU runs
and as a host for attention blocks.
"""

from __future__ import annotations

import torch
from torch import nn

from toolkit.modules.attention import build_attention
from toolkit.modules.layers import ConvNormAct, make_act
from toolkit.modules.shape import check_shape
from toolkit.registry import MODELS

__all__ = ["HSILiteNet"]


@MODELS.register("hsi_lite")
class HSILiteNet(nn.Module):
    """Spectral 3-D convolution, spectral folding, two 2-D conv-norm-act blocks, attention, pooling.

    Args:
        in_channels: spectral depth D of the input patch.
        num_classes: number of classes K.
        window: spatial size of the patch (only checked; any size works).
        channels_3d: filters of the 3-D convolution.
        spectral_kernel: spectral kernel size of the 3-D convolution (stride 2 along the spectrum).
        hidden_channels: filters of the 2-D convolutions.
        dropout: dropout before the classifier.
        norm_layer: norm of the 2-D blocks (``toolkit.modules.layers.make_norm`` names).
        act_layer: activation name.
        attn: attention spec applied after the 2-D stage (``None`` = identity).

    Shape:
        - Input: (B, 1, D, S, S)
        - Output: logits (B, K)
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        window: int | None = None,
        channels_3d: int = 8,
        spectral_kernel: int = 7,
        hidden_channels: int = 64,
        dropout: float = 0.2,
        norm_layer: str = "bn",
        act_layer: str = "relu",
        attn: dict | str | None = None,
    ):
        super().__init__()
        self.in_channels, self.num_classes, self.window = in_channels, num_classes, window
        pad = spectral_kernel // 2
        self.conv3d = nn.Sequential(
            nn.Conv3d(1, channels_3d, (spectral_kernel, 3, 3), stride=(2, 1, 1), padding=(pad, 1, 1), bias=False),
            nn.BatchNorm3d(channels_3d),
            make_act(act_layer),
        )
        depth = (in_channels + 2 * pad - spectral_kernel) // 2 + 1
        self.conv2d = nn.Sequential(
            ConvNormAct(channels_3d * depth, hidden_channels, 3, norm_layer=norm_layer, act_layer=act_layer),
            ConvNormAct(hidden_channels, hidden_channels, 3, norm_layer=norm_layer, act_layer=act_layer),
        )
        self.attn = build_attention(attn, hidden_channels)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_shape(x, ("B", 1, self.in_channels, "S", "S"), "hsi_lite")
        if self.window is not None:  # built for one window size
            check_shape(x, ("B", 1, self.in_channels, self.window, self.window), "hsi_lite")
        x = self.conv3d(x)  # (B, C3, D', S, S)
        x = x.flatten(1, 2)  # (B, C3*D', S, S)
        x = self.attn(self.conv2d(x))  # (B, hidden, S, S)
        x = x.mean(dim=(2, 3))  # (B, hidden)
        return self.classifier(self.dropout(x))  # (B, K)
