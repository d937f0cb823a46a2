"""Training engine: the Task base class, the Trainer, checkpoints and distributed helpers."""

from toolkit.engine.task import Task

__all__ = ["Task"]
