"""Metric base class: accumulate with ``update``, read with ``compute``, reduce across DDP ranks.

A metric keeps its running state in named tensors declared with :meth:`Metric.add_state`.
Under ``torch.distributed`` the states are combined across ranks before ``compute`` (``sum``
states are all-reduced, ``cat`` states are all-gathered), so a multi-process evaluation gives the
same numbers as one process over the same samples.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.distributed as dist

from toolkit.registry import METRICS

__all__ = ["Metric", "MetricCollection", "build_metrics"]


class Metric:
    """Base class. Subclasses declare states in ``__init__`` and implement ``update`` / ``_compute``.

    Attributes:
        higher_is_better: for each key returned by ``compute``, whether larger is better. The
            Trainer uses it to pick the best checkpoint by the Task's primary metric.
    """

    higher_is_better: dict[str, bool] = {}
    #: ``True`` when ``update`` takes the whole batch as a third argument (e.g. a baseline computed
    #: from the inputs, or samples kept for a report).
    uses_batch: bool = False

    def __init__(self) -> None:
        self._defaults: dict[str, tuple[torch.Tensor | list, str]] = {}

    def add_state(self, name: str, default: torch.Tensor | list, reduce: str = "sum") -> None:
        """Declare a state: a tensor reduced by ``sum``/``max``/``min``, or a list reduced by ``cat``."""
        if reduce not in ("sum", "max", "min", "cat"):
            raise ValueError(f"unknown reduce {reduce!r}")
        if (reduce == "cat") != isinstance(default, list):
            raise ValueError("'cat' states must default to a list, other states to a tensor")
        self._defaults[name] = (default, reduce)
        setattr(self, name, default.clone() if isinstance(default, torch.Tensor) else [])

    def reset(self) -> None:
        self._synced = False
        for name, (default, _) in self._defaults.items():
            setattr(self, name, default.clone() if isinstance(default, torch.Tensor) else [])

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _compute(self) -> dict[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def compute(self) -> dict[str, float]:
        """Reduce across ranks (when distributed) and return ``{name: value}``.

        After a distributed ``compute`` the states hold the global totals; call ``reset`` before
        accumulating a new evaluation.
        """
        self.sync()
        return self._compute()

    def sync(self) -> None:
        """Combine the states of all ranks in place (no-op without an initialised process group)."""
        if getattr(self, "_synced", False):
            return
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return
        backend_device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
        for name, (_, reduce) in self._defaults.items():
            value = getattr(self, name)
            if reduce == "cat":
                gathered: list[Any] = [None] * dist.get_world_size()
                dist.all_gather_object(gathered, [v.cpu() for v in value])
                setattr(self, name, [v for part in gathered for v in part])
                continue
            device = value.device
            t = value.to(backend_device) if backend_device is not None else value.clone()
            op = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}[reduce]
            dist.all_reduce(t, op=op)
            setattr(self, name, t.to(device))
        self._synced = True  # states are now global: a second compute must not add them again

    def cat_state(self, name: str) -> torch.Tensor:
        """Concatenate a ``cat`` state into one tensor (empty 1-D tensor when nothing was added)."""
        value = getattr(self, name)
        return torch.cat([v.reshape(-1) if v.ndim == 0 else v for v in value]) if value else torch.empty(0)


class MetricCollection:
    """Several metrics updated together; ``compute`` merges their dicts (keys must not clash)."""

    def __init__(self, metrics: dict[str, Metric]):
        self.metrics = dict(metrics)

    def __getitem__(self, name: str) -> Metric:
        return self.metrics[name]

    def __iter__(self):
        return iter(self.metrics.values())

    def update(self, pred: torch.Tensor, target: torch.Tensor, batch: dict | None = None) -> None:
        """Update every metric; those with ``uses_batch`` also receive the batch the prediction came from."""
        for m in self.metrics.values():
            if m.uses_batch:
                m.update(pred, target, batch)
            else:
                m.update(pred, target)

    def reset(self) -> None:
        for m in self.metrics.values():
            m.reset()

    def compute(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for m in self.metrics.values():
            out.update(m.compute())
        return out

    def higher_is_better(self, key: str) -> bool:
        for m in self.metrics.values():
            if key in m.higher_is_better:
                return m.higher_is_better[key]
        known = sorted(k for m in self.metrics.values() for k in m.higher_is_better)
        raise KeyError(f"no metric reports {key!r}; available: {known}")


def build_metrics(
    specs: Iterable[Any], *, context: dict | None = None, offer: dict | None = None, **defaults: Any
) -> MetricCollection:
    """Build a :class:`MetricCollection` from a list of names or ``dict(type=...)`` specs.

    ``context`` and ``offer`` reach the metrics that name them (see :meth:`toolkit.registry.Registry.resolve`).
    """
    metrics = {}
    for spec in specs:
        name = key = spec if isinstance(spec, str) else spec["type"]
        i = 1
        while key in metrics:  # the same metric twice (e.g. at two settings) gets a suffix
            i += 1
            key = f"{name}{i}"
        metrics[key] = METRICS.build(spec, context=context, offer=offer, **defaults)
    return MetricCollection(metrics)
