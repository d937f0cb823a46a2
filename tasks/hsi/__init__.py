"""Hyperspectral image classification: HybridSN and a light baseline, leak-free splits, lazy patches."""

import toolkit.losses.classification  # noqa: F401  (registers 'cross_entropy')
import toolkit.metrics.classification  # noqa: F401  (registers 'classification')
from tasks.hsi import data, models, splits, synth, task, visualise

__all__ = ["data", "models", "splits", "synth", "task", "visualise"]
