"""Video prediction: SimVP (IncepU, gSTA) and PastNet on Moving MNIST or user clips."""

from tasks.video_pred import clips, data, models, task

__all__ = ["clips", "data", "models", "task"]
