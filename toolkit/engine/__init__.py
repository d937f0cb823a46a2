"""Training engine: the Task base class, the Trainer, checkpoints and distributed helpers."""

from toolkit.engine.task import Task
from toolkit.engine.trainer import Trainer, TrainingDiverged, build_task, resolve_device

__all__ = ["Task", "Trainer", "TrainingDiverged", "build_task", "resolve_device"]
