"""The Task: everything task-specific the generic Trainer must not know.

A Task is a class registered in ``TASKS`` and selected by the config's ``task`` key. It builds
datasets, model, loss and metrics from the config, states what the data decided, and defines one
training step and one evaluation step. The Trainer and the tools call only the methods below, so a
new task never touches the engine.

Where a Task lives (``task = ...`` in a config):

- ``'sirst'``: the package ``tasks/sirst`` of this repository;
- ``'tasks.sirst'`` or ``'mylab.tasks.change_detection'``: any importable package (a plug-in). Importing
  it registers its Task in ``TASKS`` under the package's last name (``'change_detection'``).

Batch contract: a dict ``{'input': Tensor, 'target': Tensor, optional 'meta': ...}``; the
Trainer moves every tensor value to the device and leaves ``'meta'`` alone.

Data-derived sizes: :meth:`Task.context` returns what the data decided (``in_channels``,
``num_classes``, ``upscale``, ``in_shape``, ...). :meth:`build_model` and :meth:`build_metrics` offer
each key to the constructors that name it, fill it where the config leaves ``None``, refuse a
config value that disagrees, and write the model's values back into ``cfg.model``, so the config
saved in the run folder and the checkpoint rebuilds the same model without the data.
"""

from __future__ import annotations

import importlib
import keyword
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from toolkit.config import Config
from toolkit.errors import ConfigError, RegistryError, ToolkitError
from toolkit.losses import build_loss
from toolkit.metrics import MetricCollection, build_metrics
from toolkit.modules.init import init_weights
from toolkit.registry import ATTENTION, BACKBONES, DATASETS, LOSSES, METRICS, MODELS, TASKS, Registry

__all__ = ["Task", "add_aux_losses", "baseline_gain", "build_task", "has_aux_loss", "task_class", "task_module"]


def has_aux_loss(model: nn.Module) -> bool:
    """Whether the model (possibly inside DDP; ``torch.compile`` forwards attributes) returns auxiliary losses
    from ``forward(x, return_aux=True)`` (PastNet's commitment loss, CAMixerSR's ratio loss)."""
    if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        model = model.module
    return bool(getattr(model, "has_aux_loss", False))


def add_aux_losses(out: dict[str, torch.Tensor], aux: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Add the model's auxiliary losses to the objective ``out['loss']``; their sum is logged as ``loss_aux``."""
    if aux:
        total = sum(aux.values())
        out["loss_aux"] = total.detach()
        out["loss"] = out["loss"] + total
    return out


def baseline_gain(results: dict[str, Any], key: str, prefix: str, unit: str, warning: str) -> list[str]:
    """The lines under a results table that has a baseline column: the model's gain on ``key`` and, when it
    is negative, ``'warning: ' + warning``.

    Args:
        results: the evaluation's results, the baseline's under ``prefix + key``; ``key`` is a fraction whose
            higher values are better, shown in points (x100).
        prefix: the baseline's key prefix, e.g. ``'logreg_'``; the line names the baseline by it.
        unit: what a point is, e.g. ``'OA points'``.

    Returns:
        No line when either value is missing.
    """
    if key not in results or prefix + key not in results:
        return []
    gain = 100 * (results[key] - results[prefix + key])
    lines = [f"model - {prefix.rstrip('_')}: {gain:+.2f} {unit}"]
    return lines + ([f"warning: {warning}"] if gain < 0 else [])


def task_module(name: str) -> str:
    """The module that registers task ``name``: ``'sirst'`` -> ``'tasks.sirst'``; dotted names as given."""
    return name if "." in name else f"tasks.{name}"


def task_class(name: Any, where: str = "config") -> type[Task]:
    """The Task class registered by the task package ``name``, imported on first use.

    ``name`` is a package of ``tasks/`` (``'sirst'``) or a dotted module path; it is checked before
    anything is imported, so a path (``'../../x'``) never reaches importlib. ``where`` names the
    source of ``name`` in messages.
    """
    if not name or not isinstance(name, str):
        raise ConfigError(f"{where}: no 'task' key (e.g. task = 'video_pred')")
    if not all(part.isidentifier() and not keyword.iskeyword(part) for part in name.split(".")):
        raise ConfigError(
            f"{where}: task = {name!r} is not a task name: expected a package of tasks/ "
            "('sirst') or a dotted module path ('mylab.tasks.change_detection')"
        )
    module = task_module(name)
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            hint = f"no package tasks/{name}/" if "." not in name else f"cannot import {module!r} (is it installed?)"
            raise ConfigError(f"task {name!r}: {hint}") from None
        raise
    return TASKS.get(module.rsplit(".", 1)[-1])


def build_task(cfg: Config) -> Task:
    """Import the module of ``cfg.task`` (which registers the Task) and build the Task."""
    return task_class(cfg.get("task"), cfg.get("_source_", "config"))(cfg)


class Task:
    """Base class of every task; subclasses override what differs.

    Attributes:
        primary_metric: the key of ``metrics.compute()`` that selects the best checkpoint and
            drives early stopping; its direction comes from the metric's ``higher_is_better``.
        default_configs: configs (paths relative to the repository root) that ``tools/eval.py
            --task NAME`` looks for.
        default_metrics: metric specs used when the config's ``metrics`` list is empty.
    """

    primary_metric: str = "loss"
    default_configs: tuple[str, ...] = ()
    default_metrics: tuple[Any, ...] = ()

    def __init__(self, cfg: Config):
        self.cfg = cfg

    # ------------------------------------------------------------------ building
    def build_dataset(self, split: str) -> Dataset:
        """The dataset of ``split`` in ``('train', 'val', 'test')``: ``DATASETS.build(cfg.data, split=split)``."""
        return DATASETS.build(self.cfg.data, split=split)

    def context(self) -> dict[str, Any]:
        """What the data decided, e.g. ``{'in_channels': 30, 'num_classes': 16}``; known after a dataset is built.

        Keys are offered to the model and metric constructors that name them (see the module docstring).
        """
        return {}

    def metric_options(self) -> dict[str, Any]:
        """Defaults offered to the metrics that name them (a metric's own spec wins), e.g. one threshold."""
        return {}

    def build_model(self) -> nn.Module:
        """Build ``cfg.model`` with the data's sizes filled in, and write them back into the config.

        ``model.init`` (see :func:`toolkit.modules.init_weights`) initialises the built model; absent, ``None`` or
        ``'default'`` leave PyTorch's initialisation untouched. A model whose constructor takes ``init`` itself
        (SimVP, whose default is its paper's scheme) receives it and applies it with the same function.
        """
        spec = MODELS.resolve(self.cfg.model, context=self.context())
        self.cfg["model"] = spec  # the run folder's config.py and the checkpoint show the filled sizes
        if not isinstance(spec, dict) or "init" in (MODELS.accepts(spec["type"]) or set()):
            return MODELS.build(self.cfg.model)
        init = spec.get("init")
        model = MODELS.build({k: v for k, v in self.cfg.model.items() if k != "init"})
        init_weights(model, init, where="model.init")
        return model

    def build_loss(self) -> nn.Module:
        return build_loss(self.cfg.loss)

    def build_metrics(self) -> MetricCollection:
        """A fresh collection for one evaluation (it holds all of that evaluation's state)."""
        specs = self.cfg.get("metrics") or list(self.default_metrics)
        return build_metrics(specs, context=self.context(), offer=self.metric_options())

    def check_components(self) -> None:
        """Look up every registry name of the config (model, its attention and backbone slots, losses, metrics).

        Called before any data is read, so that a typo fails at once naming its key, not after the datasets
        are built; arguments are still checked by the constructors.
        """
        import toolkit.modules.attention  # noqa: F401 - fills ATTENTION
        import toolkit.modules.backbones  # noqa: F401 - fills BACKBONES

        _check_names(MODELS, self.cfg.get("model"), "model")
        for where, registry in (("loss", LOSSES), ("metrics", METRICS)):
            specs = self.cfg.get(where)
            for i, spec in enumerate(specs if isinstance(specs, (list, tuple)) else []):
                _check_names(registry, spec, f"{where}.{i}")

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

    def report(
        self,
        metrics: MetricCollection,
        results: dict[str, Any],
        out_dir: Path,
        *,
        model: nn.Module | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        """Extra evaluation outputs (curves, maps, tables) written by ``tools/eval.py`` into ``out_dir``.

        Args:
            metrics: the collection of the evaluation (its curves, per-image values, samples).
            results: its reduced values; a report may add keys (they go to ``metrics.json``).
            model: the evaluated model (eval mode), for outputs beyond the split (e.g. a full map).
            device: where ``model`` is.
        """

    def format_results(self, results: dict[str, Any], metrics: MetricCollection | None = None) -> str:
        """The metrics table printed after evaluation."""
        width = max((len(k) for k in results), default=0)
        return "\n".join(f"{k:<{width}}  {_fmt(v)}" for k, v in results.items())

    def summary(self, results: dict[str, Any]) -> str:
        """The one-line validation summary in the training log: ``name value`` for every number.

        A task whose metric is printed in other units in its tables (SIRST's Fa, x1e-6) shows it the same
        way here.
        """
        return ", ".join(f"{k} {v:.4g}" for k, v in results.items() if isinstance(v, float))

    # ------------------------------------------------------------------ explanation (tools/explain.py)
    def explain_target(
        self, model: nn.Module, x: torch.Tensor, batch: dict, target_class: int | None = None
    ) -> tuple[torch.Tensor, list[str]]:
        """One differentiable scalar per sample for Grad-CAM to explain, and a line per sample saying what it is.

        The model runs on ``x`` (``batch['input']`` or Captum's copy of it) the way ``eval_step`` runs it.
        Default: the sum of the model's output over every axis but the batch's.

        Args:
            target_class: a class to explain instead of the predicted one (tasks with classes only).

        Shape:
            - Output: (B,) scalars
        """
        if target_class is not None:
            raise ConfigError(f"--target-class: task {type(self).__name__} has no classes to choose from")
        out = model(x)
        value = out.flatten(1).sum(1)  # (B,)
        return value, [f"sum of the model output: {v:.4g}" for v in value.tolist()]

    def explain_layers(self, model: nn.Module) -> list[str]:
        """Module paths Grad-CAM explains when ``--layer`` is not given. Default: the last attention slot."""
        from toolkit.engine.explain import attention_slots

        return list(attention_slots(model))[-1:]

    def infer(self, model: nn.Module, args: Any, device: torch.device) -> None:
        """``tools/infer.py``: run ``model`` on user data given by ``args.input`` and write ``args.out``."""
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


def _check_names(registry: Registry, spec: Any, where: str) -> None:
    """Raise RegistryError naming the key ``where`` when ``spec`` (a name or a dict with a type) is not registered.

    Nested specs are looked up too: ``attn`` / ``*_attn`` in ATTENTION, ``backbone`` in BACKBONES, and a loss
    inside a loss (deep supervision's ``loss``) in LOSSES. A type left ``None`` is an empty slot.
    """
    if isinstance(spec, str):
        name, key = spec, where
    elif isinstance(spec, dict):
        name, key = spec.get("type"), f"{where}.type"
        for sub, value in spec.items():
            if sub == "attn" or sub.endswith("_attn"):
                _check_names(ATTENTION, value, f"{where}.{sub}")
            elif sub == "backbone":
                _check_names(BACKBONES, value, f"{where}.{sub}")
            elif registry is LOSSES and isinstance(value, dict) and "type" in value:
                _check_names(LOSSES, value, f"{where}.{sub}")
    else:
        return
    if name is not None:
        try:
            registry.get(name)
        except RegistryError as exc:
            raise RegistryError(f"{key}: {exc}") from None
