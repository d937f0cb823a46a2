"""Image restoration: super-resolution (SAFMN), denoising and deblurring (Restormer).

Importing the package registers the models (``safmn``, ``restormer``), the dataset
(``restoration``) and the Task (``restoration``); the SAFM / MDTA attention blocks, the FFT loss
and the PSNR / SSIM metrics it uses live in the toolkit, where every task can use them.
"""

from tasks.restoration import models
from tasks.restoration.data import RestorationDataset
from tasks.restoration.models import SAFMN, Restormer
from tasks.restoration.task import RestorationTask

__all__ = ["models", "RestorationDataset", "RestorationTask", "SAFMN", "Restormer"]
