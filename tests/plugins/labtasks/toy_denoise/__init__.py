"""A whole task in one file: denoise random smooth images with a one-layer conv net.

This is the plug-in example of ``docs/architecture.md``: a config says
``task = "labtasks.toy_denoise"``, the toolkit imports this package (it only has to be importable),
and the package registers a dataset, a model, a metric and the Task. Nothing in the toolkit lists it.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Dataset

from toolkit.engine import Task
from toolkit.metrics import Metric
from toolkit.registry import DATASETS, METRICS, MODELS, TASKS

__all__ = ["NoisyImages", "ToyDenoiser", "ToyMSE", "ToyDenoiseTask"]


@DATASETS.register("toy_noisy_images")
class NoisyImages(Dataset):
    """``num_samples`` smooth images (channels, size, size) and their noisy copies, fixed by ``seed`` and ``split``."""

    def __init__(self, split: str, *, num_samples: int = 64, channels: int = 2, size: int = 8, noise: float = 0.1,
                 seed: int = 0):  # fmt: skip
        g = torch.Generator().manual_seed(seed * 10 + ("train", "val", "test").index(split))
        clean = torch.nn.functional.avg_pool2d(torch.rand(num_samples, channels, size + 2, size + 2, generator=g), 3, 1)
        self.clean = clean  # (N, C, size, size)
        self.noisy = clean + noise * torch.randn(clean.shape, generator=g)

    def __len__(self) -> int:
        return len(self.clean)

    def __getitem__(self, i: int) -> dict:
        return {"input": self.noisy[i], "target": self.clean[i]}


@MODELS.register("toy_denoiser")
class ToyDenoiser(nn.Module):
    """One 3x3 convolution, input plus a learned residual. Shape: (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, in_channels, 3, padding=1)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


@METRICS.register("toy_mse")
class ToyMSE(Metric):
    """Mean squared error over all pixels of the split."""

    higher_is_better = {"mse": False}

    def __init__(self):
        super().__init__()
        self.add_state("sse", torch.zeros((), dtype=torch.float64))
        self.add_state("n", torch.zeros((), dtype=torch.float64))

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        self.sse += ((pred.detach().double() - target.double()) ** 2).sum().cpu()
        self.n += target.numel()

    def _compute(self) -> dict[str, float]:
        return {"mse": float(self.sse / self.n.clamp(min=1))}


@TASKS.register("toy_denoise")
class ToyDenoiseTask(Task):
    """The data decides the channel count; everything else is the base class's default behaviour."""

    primary_metric = "mse"
    default_metrics = ("toy_mse",)

    def context(self) -> dict:
        return {"in_channels": self.cfg.data.get("channels", 2)}
