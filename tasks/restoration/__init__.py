"""Image restoration: super-resolution (SAFMN, CAMixerSR), denoising and deblurring (Restormer).

Importing the package registers the models (``safmn``, ``camixersr``, ``restormer``), the dataset factory
(``restoration``, built from the whole ``data`` config) and the Task (``restoration``); the SAFM / MDTA
attention blocks, the FFT loss and the PSNR / SSIM metrics it uses live in the toolkit, where every task
can use them.
"""

from tasks.restoration import models
from tasks.restoration.data import RestorationDataset, restoration_dataset
from tasks.restoration.models import SAFMN, CAMixerSR, Restormer
from tasks.restoration.task import RestorationTask

__all__ = ["models", "RestorationDataset", "restoration_dataset", "RestorationTask", "SAFMN", "Restormer", "CAMixerSR"]
