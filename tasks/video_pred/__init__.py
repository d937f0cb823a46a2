"""Video prediction: SimVP (IncepU, gSTA) and PastNet on Moving MNIST or user clips.

Importing the package registers the task ``video_pred``, the models ``simvp`` and ``pastnet``, the
datasets ``moving_mnist`` and ``clips`` and (through ``toolkit.metrics.video``) the ``video`` metrics.
"""

from tasks.video_pred import models
from tasks.video_pred.clips import ClipDataset
from tasks.video_pred.data import MovingMNIST
from tasks.video_pred.models import PastNet, SimVP
from tasks.video_pred.task import CopyLastFrame, VideoPredTask

__all__ = ["models", "ClipDataset", "CopyLastFrame", "MovingMNIST", "PastNet", "SimVP", "VideoPredTask"]
