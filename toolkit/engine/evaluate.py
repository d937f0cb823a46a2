"""Evaluation as a function: a model, a Task and a loader in, the reduced metrics out.

The Trainer validates with :func:`evaluate` and ``tools/eval.py`` tests with it; neither keeps
evaluation state anywhere else. Everything one evaluation accumulates (metric counts, the samples a
report draws) lives in the :class:`~toolkit.metrics.MetricCollection` it returns.

Example::

    task, model = load_for_eval(cfg, "work_dirs/simvp/x/checkpoints/best.pt")
    dataset = task.build_dataset("test")
    ev = evaluate(model, task, eval_loader(dataset, cfg, task.collate_fn("test")))
    print(task.format_results(ev.results, ev.metrics))
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from toolkit.config import Config
from toolkit.engine.checkpoint import load_checkpoint, load_weights
from toolkit.engine.loader import to_device
from toolkit.metrics import MetricCollection

__all__ = ["Evaluation", "evaluate", "load_for_eval"]


@dataclass
class Evaluation:
    """What one evaluation produced.

    Attributes:
        results: ``{key: value}`` of every metric (reduced over processes).
        metrics: the collection after ``compute`` (curves, per-image values, collected samples).
        pictures: ``{name: uint8 (H, W, 3) or (F, H, W, 3)}`` of the first batch (rank 0 only).
        batches: how many batches were scored (less than the loader's length with ``max_batches``).
        samples: how many samples this process scored.
    """

    results: dict[str, Any]
    metrics: MetricCollection
    pictures: dict[str, np.ndarray] = field(default_factory=dict)
    batches: int = 0
    samples: int = 0


@torch.no_grad()
def evaluate(
    model: nn.Module,
    task: Any,
    loader: DataLoader,
    *,
    device: torch.device | str | None = None,
    amp_dtype: torch.dtype | None = None,
    max_batches: int | None = None,
    vis_items: int = 0,
    progress: str | None = None,
) -> Evaluation:
    """Score ``model`` on every batch of ``loader`` (or the first ``max_batches``) with the Task's metrics.

    Args:
        model: the model (its train/eval mode is restored afterwards).
        task: the Task: ``build_metrics``, ``eval_step`` and ``visualise`` are used.
        loader: batches ``{'input', 'target', optional 'meta'}``.
        device: where the batches go (default: the model's device).
        amp_dtype: autocast dtype, or ``None`` for full precision.
        max_batches: stop after this many batches (a partial evaluation; ``Evaluation.batches`` says so).
        vis_items: how many samples of the first batch ``task.visualise`` draws (0 = none).
        progress: a progress-bar label shown on a terminal, or ``None`` for no bar.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    metrics = task.build_metrics()
    was_training = model.training
    model.eval()
    autocast = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else nullcontext()
    pictures: dict[str, np.ndarray] = {}
    total = len(loader) if max_batches is None else min(len(loader), max_batches)
    bar = _bar(total, progress)
    batches = samples = 0
    for i, batch in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        batch = to_device(batch, device)
        with autocast:
            pred, target = task.eval_step(model, batch)
        metrics.update(pred, target, batch)
        if i == 0 and vis_items:
            pictures = task.visualise(batch, pred, vis_items)
        batches += 1
        samples += len(target) if isinstance(target, list) else int(target.shape[0])
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    results = metrics.compute()
    model.train(was_training)
    return Evaluation(results, metrics, pictures, batches, samples)


def load_for_eval(
    cfg: Config,
    checkpoint: str | Path,
    split: str = "test",
    device: torch.device | str = "cpu",
    *,
    weights_key: str | None = None,
    log: Callable[[str], Any] | None = None,
) -> tuple[Any, Any, nn.Module]:
    """Build the Task with the checkpoint's state, the ``split`` dataset and the model with its weights.

    The EMA weights are used when the checkpoint has them; released weights of another code base
    (``params_ema`` by default) load strictly through the model's ``from_release`` name mapping
    (:func:`~toolkit.engine.checkpoint.load_weights`). ``weights_key`` names another entry; ``log``
    receives the one-line load report of a released file. Returns ``(task, dataset, model)``; the
    model is in eval mode on ``device``.
    """
    from toolkit.engine.resume import check_task
    from toolkit.engine.task import build_task

    state = load_checkpoint(checkpoint)
    check_task(state, checkpoint, cfg)  # before a dataset is built for the wrong task
    task = build_task(cfg)
    task.load_state_dict(state.get("task") or {})  # e.g. normalisation statistics, before the dataset
    dataset = task.build_dataset(split)
    model = task.build_model().to(device)
    report = load_weights(model, checkpoint, strict=True, prefer_ema=True, state=state, key=weights_key)
    if log is not None and report.released:
        log(report.summary())
    return task, dataset, model.eval()


def _bar(total: int, desc: str | None):
    if desc is None:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, dynamic_ncols=True, disable=not sys.stderr.isatty(), leave=False)
