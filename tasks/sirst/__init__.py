"""Single-frame infrared small-target segmentation: datasets, ACM / DNANet / U-Net, the field's metrics.

Importing the package registers the task ``sirst``, the models ``dnanet``, ``acm`` and ``unet``, the
dataset ``sirst`` and (through ``toolkit.metrics`` and ``toolkit.losses``) the IRSTD metrics and the
segmentation losses.
"""

import toolkit.losses  # noqa: F401  (registers soft_iou, dice, bce, focal, deep_supervision)
import toolkit.metrics  # noqa: F401  (registers miou, niou, pd_fa, pixel_roc, pd_fa_curve)

from . import models
from .data import SIRSTDataset
from .synth import ensure_dataset, generate_dataset
from .task import SIRSTTask

__all__ = ["models", "SIRSTDataset", "SIRSTTask", "ensure_dataset", "generate_dataset"]
