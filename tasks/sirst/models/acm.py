"""ACM: asymmetric contextual modulation for infrared small targets (the U-Net host).

Y. Dai, Y. Wu, F. Zhou, K. Barnard, "Asymmetric Contextual Modulation for Infrared Small Target
Detection", WACV 2021 (arXiv 2009.14530).

- Backbone: a ResNet-20-style encoder (stem at stride 4 for the full model, three stages of residual
  blocks with widths ``channels[1:]``, strides 1, 2, 2).
- Decoder: two up-sampling steps; at each, the deep feature X (transposed-conv up-sampled) and the
  shallow skip feature Y are fused by the asymmetric bi-directional modulation

      Z = 2 * Y * G(X) + 2 * X * L(Y)

  where G is a top-down *global* channel attention (global pooling, bottleneck MLP, sigmoid) computed
  on the deep feature and L a bottom-up *point-wise* channel attention (1x1 bottleneck, sigmoid)
  computed on the shallow feature, followed by a 3x3 conv-BN-ReLU and a stage of residual blocks.
- Head: an FCN head (3x3 conv to C/4, dropout 0.1, 1x1 conv), bilinear up-sampling to input size.

The ``attn`` field adds any registered attention block inside every residual block (the paper has
none, so the default is ``None``); ``fuse='add'`` replaces the modulation by a plain sum (the paper's
ablation baseline).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tasks.sirst.models.blocks import check_input, make_stage
from toolkit.errors import ConfigError
from toolkit.modules import ConvNormAct
from toolkit.registry import MODELS

__all__ = ["ACM", "AsymBiFusion"]


class AsymBiFusion(nn.Module):
    """Asymmetric bi-directional modulation of a deep feature X and a shallow feature Y.

    Args:
        channels: channels of both inputs (and of the output).
        reduction: bottleneck ratio of both attention branches (paper: 4).

    Shape:
        - deep, shallow: (B, channels, H, W)
        - Output: (B, channels, H, W)
    """

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.top_down = nn.Sequential(  # global channel attention from the deep feature
            nn.AdaptiveAvgPool2d(1),
            ConvNormAct(channels, hidden, 1),
            ConvNormAct(hidden, channels, 1, act_layer="sigmoid"),
        )
        self.bottom_up = nn.Sequential(  # point-wise channel attention from the shallow feature
            ConvNormAct(channels, hidden, 1),
            ConvNormAct(hidden, channels, 1, act_layer="sigmoid"),
        )
        self.post = ConvNormAct(channels, channels, 3, bias=True)

    def forward(self, deep: torch.Tensor, shallow: torch.Tensor) -> torch.Tensor:
        if self.training and deep.shape[0] == 1:
            # BatchNorm over a globally pooled 1 x 1 feature has one value per channel when B == 1
            raise ConfigError(
                "ACM's top-down attention batch-normalises a globally pooled feature and needs a training "
                "batch of at least 2 per process (train.batch_size), or model.fuse='add'"
            )
        return self.post(2 * shallow * self.top_down(deep) + 2 * deep * self.bottom_up(shallow))


class _AddFusion(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.post = ConvNormAct(channels, channels, 3, bias=True)

    def forward(self, deep: torch.Tensor, shallow: torch.Tensor) -> torch.Tensor:
        return self.post(deep + shallow)


@MODELS.register("acm")
class ACM(nn.Module):
    """ACM U-Net: residual encoder, transposed-conv decoder with asymmetric modulation, FCN head.

    Args:
        in_channels: image channels (filled in by the task).
        num_classes: output maps.
        channels: stem width and the widths of the three stages (paper: 8, 16, 32, 64).
        num_blocks: residual blocks per stage (paper: ResNet-20, i.e. 3 per stage).
        fuse: ``'asym_bi'`` (the paper's modulation) or ``'add'`` (ablation).
        reduction: bottleneck ratio of the modulation branches.
        tiny: a stride-1 stem (one conv, no pooling) for very small inputs.
        attn: attention re-weighting inside every residual block (not in the paper).
        bn_momentum: PyTorch momentum (weight of the new batch) of the BatchNorms outside the residual
            blocks' main paths: stem, shortcut projections, fusion modules and head. None keeps PyTorch's
            0.1. BasicIRSTD's ACM builds exactly these with ``momentum=0.9``.

    Shape:
        - Input: (B, in_channels, H, W), any H, W
        - Output: logits (B, num_classes, H, W)
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 1,
        channels: Sequence[int] = (8, 16, 32, 64),
        num_blocks: Sequence[int] = (3, 3, 3),
        fuse: str = "asym_bi",
        reduction: int = 4,
        tiny: bool = False,
        attn: Any = None,
        bn_momentum: float | None = None,
    ):
        super().__init__()
        if len(channels) != 4 or len(num_blocks) != 3:
            raise ValueError(f"ACM takes 4 channel widths and 3 block counts, got {channels}, {num_blocks}")
        if fuse not in ("asym_bi", "add"):
            raise ValueError(f"ACM fuse must be 'asym_bi' or 'add', got {fuse!r}")
        self.in_channels = in_channels
        c0, c1, c2, c3 = channels
        # the input is normalised by a BatchNorm inside the network, as in the released model
        if tiny:
            self.stem = nn.Sequential(nn.BatchNorm2d(in_channels), ConvNormAct(in_channels, 2 * c0, 3))
        else:
            self.stem = nn.Sequential(
                nn.BatchNorm2d(in_channels),
                ConvNormAct(in_channels, c0, 3, stride=2),
                ConvNormAct(c0, c0, 3),
                ConvNormAct(c0, 2 * c0, 3),
                nn.MaxPool2d(3, 2, 1),
            )
        kw = dict(attn=attn)
        self.layer1 = make_stage(2 * c0, c1, num_blocks[0], **kw)
        self.layer2 = make_stage(c1, c2, num_blocks[1], stride=2, **kw)
        self.layer3 = make_stage(c2, c3, num_blocks[2], stride=2, **kw)
        fusion = AsymBiFusion if fuse == "asym_bi" else _AddFusion
        fkw = {"reduction": reduction} if fuse == "asym_bi" else {}
        self.up2 = nn.ConvTranspose2d(c3, c2, 4, stride=2, padding=1)
        self.fuse2 = fusion(c2, **fkw)
        self.uplayer2 = make_stage(c2, c2, num_blocks[1], **kw)
        self.up1 = nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1)
        self.fuse1 = fusion(c1, **fkw)
        self.uplayer1 = make_stage(c1, c1, num_blocks[0], **kw)
        hidden = c1 // 4
        self.head = nn.Sequential(ConvNormAct(c1, hidden, 3), nn.Dropout(0.1), nn.Conv2d(hidden, num_classes, 1))
        if bn_momentum is not None:
            if isinstance(bn_momentum, bool) or not isinstance(bn_momentum, (int, float)) or not 0 < bn_momentum <= 1:
                raise ConfigError(f"model.bn_momentum must be in (0, 1] or None, got {bn_momentum!r}")
            for name, module in self.named_modules():
                outside_blocks = name.startswith(("stem", "fuse", "head")) or ".shortcut." in name
                if isinstance(module, nn.BatchNorm2d) and outside_blocks:
                    module.momentum = bn_momentum

    @staticmethod
    def _up(layer: nn.ConvTranspose2d, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        y = layer(x)  # (B, C', 2h, 2w)
        if y.shape[-2:] != ref.shape[-2:]:  # odd sizes: match the skip feature
            y = F.interpolate(y, size=ref.shape[-2:], mode="bilinear", align_corners=False)
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels)
        size = x.shape[-2:]
        c1 = self.layer1(self.stem(x))  # (B, C1, H/4, W/4)
        c2 = self.layer2(c1)  # (B, C2, H/8, W/8)
        c3 = self.layer3(c2)  # (B, C3, H/16, W/16)
        u2 = self.uplayer2(self.fuse2(self._up(self.up2, c3, c2), c2))
        u1 = self.uplayer1(self.fuse1(self._up(self.up1, u2, c1), c1))
        out = self.head(u1)  # (B, num_classes, H/4, W/4)
        return F.interpolate(out, size=size, mode="bilinear", align_corners=False)
