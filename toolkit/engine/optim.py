"""Optimisers and learning-rate schedules from config dicts; every schedule steps once per iteration.

``optim = dict(type='adam'|'adamw'|'sgd'|'adagrad', lr=..., weight_decay=..., **torch options)``
``sched = dict(type='onecycle', max_lr=None, pct_start=0.3, ...)``
``sched = dict(type='cosine', eta_min=1e-5, warmup_iters=0)``
``sched = dict(type='multistep', milestones=[iters] or milestone_epochs=[epochs], gamma=0.1)``
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch
from torch import nn

from toolkit.errors import ConfigError

__all__ = ["build_optimizer", "build_scheduler", "check_optimizer", "check_scheduler"]

_OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
}


# the options each schedule takes (besides ``type``)
_SCHEDULES = {
    "onecycle": ("max_lr", "pct_start", "div_factor", "final_div_factor", "anneal_strategy", "three_phase"),
    "cosine": ("eta_min", "warmup_iters"),
    "multistep": ("milestones", "milestone_epochs", "gamma"),
}


def check_optimizer(spec: dict) -> tuple[str, type, dict]:
    """The optimiser's name, class and options, or a ConfigError naming the key; needs no model, so the
    Trainer calls it before any data is read."""
    spec = dict(spec)
    name = spec.pop("type", None)
    if name not in _OPTIMIZERS:
        raise ConfigError(f"optim.type must be one of {sorted(_OPTIMIZERS)}, got {name!r}")
    cls = _OPTIMIZERS[name]
    sig = inspect.signature(cls)
    unknown = [k for k in spec if k not in sig.parameters]
    if unknown:
        raise ConfigError(f"optim: {name} does not take {unknown}. Signature: {cls.__name__}{sig}")
    lr = spec.get("lr", 0.0)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr < 0:
        raise ConfigError(f"optim.lr={lr!r}: the learning rate must be >= 0")
    return name, cls, spec


def check_scheduler(spec: Any) -> tuple[str, dict] | None:
    """The schedule's name and options (None for a constant lr), or a ConfigError naming the key."""
    if spec is None or (isinstance(spec, dict) and spec.get("type") in (None, "none", "constant")):
        return None
    if not isinstance(spec, dict):
        raise ConfigError(f"sched must be a dict(type=...) or None, got {spec!r}")
    spec = dict(spec)
    name = spec.pop("type")
    if name not in _SCHEDULES:
        raise ConfigError(f"sched.type must be onecycle, cosine, multistep or None, got {name!r}")
    opts = _only(spec, _SCHEDULES[name], name)
    if name == "multistep" and opts.get("milestones") is None and opts.get("milestone_epochs") is None:
        raise ConfigError("sched: multistep needs milestones (iterations) or milestone_epochs")
    return name, spec


def build_optimizer(spec: dict, model: nn.Module) -> torch.optim.Optimizer:
    """Build the optimiser over the model's trainable parameters."""
    name, cls, spec = check_optimizer(spec)
    if "betas" in spec:
        spec["betas"] = tuple(spec["betas"])
    params = [p for p in model.parameters() if p.requires_grad]
    try:
        return cls(params, **spec)
    except (ValueError, TypeError) as exc:  # torch's range checks: betas in [0, 1), eps >= 0, ...
        raise ConfigError(f"optim: {name} refused its options {spec}: {exc}") from None


def build_scheduler(
    spec: Any, optimizer: torch.optim.Optimizer, *, total_iters: int, iters_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Build a per-iteration schedule over ``total_iters`` optimiser steps (``None`` = constant lr)."""
    checked = check_scheduler(spec)
    if checked is None:
        return None
    name, spec = checked
    base_lr = optimizer.param_groups[0]["lr"]
    if name == "onecycle":
        max_lr = spec.pop("max_lr", None) or base_lr
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=max_lr,
            total_steps=max(total_iters, 2),
            **_only(spec, _SCHEDULES[name][1:], name),  # the options after max_lr
        )
    if name == "cosine":
        opts = _only(spec, _SCHEDULES[name], name)
        eta_min, warmup = float(opts.get("eta_min", 0.0)), int(opts.get("warmup_iters", 0))
        floor = eta_min / base_lr if base_lr > 0 else 0.0
        decay = max(total_iters - warmup, 1)

        def factor(it: int) -> float:
            if it < warmup:
                return (it + 1) / warmup
            progress = min((it - warmup) / decay, 1.0)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    if name == "multistep":
        opts = _only(spec, _SCHEDULES[name], name)
        milestones = opts.get("milestones")
        if milestones is None:  # check_scheduler made sure one of the two is given
            milestones = [int(e * iters_per_epoch) for e in opts["milestone_epochs"]]
        return torch.optim.lr_scheduler.MultiStepLR(
            optimizer, milestones=list(milestones), gamma=opts.get("gamma", 0.1)
        )
    raise AssertionError(f"schedule {name!r} is in _SCHEDULES but not built")  # check_scheduler let it through


def _only(spec: dict, allowed: tuple[str, ...], name: str) -> dict:
    unknown = [k for k in spec if k not in allowed]
    if unknown:
        raise ConfigError(f"sched: {name} does not take {unknown}; allowed: {list(allowed)}")
    return {k: v for k, v in spec.items() if v is not None}
