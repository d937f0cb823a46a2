"""Video prediction models (registered in MODELS)."""

from tasks.video_pred.models.simvp import SimVP

__all__ = ["SimVP"]
