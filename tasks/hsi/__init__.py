"""Hyperspectral image classification: HybridSN and a light baseline, leak-free splits, lazy patches.

Importing the package registers the task ``hsi``, the models ``hybridsn`` and ``hsi_lite``, the dataset
``hsi_scene`` (the prepared scene whose ``subset('train' | 'val' | 'test')`` are the patch datasets, built
from a config's ``data`` section, see ``configs/_base_/datasets/hsi.py``) and, from the toolkit, the
``classification`` metric and the ``cross_entropy`` loss.
"""

from tasks.hsi import models
from tasks.hsi.data import PatchDataset
from tasks.hsi.models import HSILiteNet, HybridSN
from tasks.hsi.scene import PreparedScene
from tasks.hsi.task import HSITask

__all__ = ["models", "PatchDataset", "PreparedScene", "HSITask", "HybridSN", "HSILiteNet"]
