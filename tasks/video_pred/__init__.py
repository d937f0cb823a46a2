"""Video prediction: SimVP (IncepU, gSTA) on Moving MNIST or user clips."""

from tasks.video_pred import data, models, task

__all__ = ["data", "models", "task"]
