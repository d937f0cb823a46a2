"""Training engine: the Task base class, the Trainer, evaluation, loaders, checkpoints and distributed helpers."""

from toolkit.engine.evaluate import Evaluation, evaluate, load_for_eval
from toolkit.engine.loader import eval_loader, to_device, train_loader
from toolkit.engine.task import Task, build_task, task_class, task_module
from toolkit.engine.trainer import Trainer, TrainingDiverged, resolve_device

__all__ = [
    "Evaluation",
    "Task",
    "Trainer",
    "TrainingDiverged",
    "build_task",
    "eval_loader",
    "evaluate",
    "load_for_eval",
    "resolve_device",
    "task_class",
    "task_module",
    "to_device",
    "train_loader",
]
