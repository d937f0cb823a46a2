"""Metrics, registered in ``METRICS``; each accumulates with ``update`` and reduces under DDP."""

from toolkit.metrics.base import Metric, MetricCollection, build_metrics

__all__ = ["Metric", "MetricCollection", "build_metrics"]
