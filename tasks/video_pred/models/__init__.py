"""Video prediction models (registered in MODELS)."""

from tasks.video_pred.models.pastnet import PastNet
from tasks.video_pred.models.simvp import SimVP

__all__ = ["PastNet", "SimVP"]
