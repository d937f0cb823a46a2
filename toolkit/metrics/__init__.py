"""Metrics, registered in ``METRICS``; each accumulates with ``update`` and reduces under DDP.

Every module in this package registers its metrics when imported; all are imported below.
"""

import importlib
import pkgutil

from toolkit.metrics.base import Metric, MetricCollection, build_metrics

__all__ = ["Metric", "MetricCollection", "build_metrics"]

for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")
