"""The Task: everything task-specific the generic Trainer must not know.

A Task is registered in ``TASKS`` under the name of its package (``tasks/<name>/``) and is
selected by the config's ``task`` key. It builds datasets, model, loss, metrics and pictures from
the config, and defines one training step and one evaluation step. The Trainer calls only the
methods below, so a new task never touches the engine.

Batch contract: a dict ``{'input': Tensor, 'target': Tensor, optional 'meta': ...}``; the
Trainer moves every tensor value to the device and leaves other values alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from toolkit.config import Config
from toolkit.losses import build_loss
from toolkit.metrics import MetricCollection, build_metrics
from toolkit.registry import MODELS

__all__ = ["Task"]


class Task:
    """Base class of the four tasks; subclasses override what differs.

    Attributes:
        primary_metric: the key of ``metrics.compute()`` that selects the best checkpoint and
            drives early stopping; its direction comes from the metric's ``higher_is_better``.
        default_configs: configs (paths relative to the repository root) that ``tools/eval.py
            --task NAME`` looks for, in order of preference.
    """

    primary_metric: str = "loss"
    default_configs: tuple[str, ...] = ()  # tried in order by `tools/eval.py --task NAME`

    def __init__(self, cfg: Config):
        self.cfg = cfg

    # ------------------------------------------------------------------ building
    def build_dataset(self, split: str) -> Dataset:
        """Return the dataset for ``split`` in ``('train', 'val', 'test')``."""
        raise NotImplementedError

    def build_model(self) -> nn.Module:
        """Build the model from ``cfg.model`` (called after the datasets, so data sizes are known)."""
        return MODELS.build(self.cfg.model)

    def build_loss(self) -> nn.Module:
        return build_loss(self.cfg.loss)

    def build_metrics(self) -> MetricCollection:
        return build_metrics(self.cfg.get("metrics", []))

    def collate_fn(self, split: str):
        """Collate function for the split's DataLoader (``None`` = torch's default)."""
        return None

    # ------------------------------------------------------------------ steps
    def train_step(self, model: nn.Module, batch: dict, loss_fn: nn.Module) -> dict[str, torch.Tensor]:
        """One forward pass and loss; returns a dict with at least ``'loss'`` (a scalar tensor)."""
        pred = model(batch["input"])
        return loss_fn(pred, batch["target"])

    def eval_step(self, model: nn.Module, batch: dict) -> tuple[Any, torch.Tensor]:
        """Prediction and target for the metrics, in the space the metrics expect."""
        return model(batch["input"]), batch["target"]

    # ------------------------------------------------------------------ outputs
    def visualise(self, batch: dict, pred: Any, max_items: int = 4) -> dict[str, np.ndarray]:
        """Pictures of a batch's predictions: ``{name: uint8 array (H, W, 3)}`` for vis/ and TensorBoard."""
        return {}

    def report(self, metrics: MetricCollection, results: dict[str, float], out_dir: Path) -> None:
        """Extra evaluation outputs (curves, maps, tables) written by ``tools/eval.py`` into ``out_dir``."""

    def format_results(self, results: dict[str, float]) -> str:
        """The metrics table printed after evaluation."""
        width = max((len(k) for k in results), default=0)
        return "\n".join(f"{k:<{width}}  {_fmt(v)}" for k, v in results.items())

    def infer(self, model: nn.Module, args: Any, device: torch.device) -> None:
        """``tools/infer.py``: run ``model`` on user data given by ``args.input`` and write ``args.out``."""
        from toolkit.errors import ToolkitError

        raise ToolkitError(f"task {type(self).__name__} has no inference entry point yet")

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Task state saved with checkpoints (e.g. normalisation statistics computed on the train split)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)
