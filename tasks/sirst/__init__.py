"""Single-frame infrared small-target segmentation: datasets, ACM / DNANet / U-Net, the field's metrics.

Importing the package registers the task ``sirst``, the models ``dnanet``, ``acm`` and ``unet``, the
dataset ``sirst`` (built from a config's ``data`` section, see ``configs/_base_/datasets/sirst.py``) and
(through ``toolkit.metrics`` and ``toolkit.losses``) the IRSTD metrics and the segmentation losses.
"""

from tasks.sirst import models
from tasks.sirst.data import SIRSTDataset
from tasks.sirst.synth import ensure_dataset, generate_dataset
from tasks.sirst.task import SIRSTTask, sirst_dataset

__all__ = ["models", "SIRSTDataset", "SIRSTTask", "ensure_dataset", "generate_dataset", "sirst_dataset"]
