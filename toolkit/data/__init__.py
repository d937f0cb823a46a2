"""Data helpers shared by the tasks: image files, padding to a size multiple and MATLAB-style resizing.

The input-shape check that goes with these lives in :mod:`toolkit.modules.shape` (``check_shape``): layers
and backbones use it too and may not import this package. It is deliberately not re-exported here, so
that reading an image never imports (and depends on) every module of ``toolkit.modules``.
"""

from toolkit.data.augment import reseed
from toolkit.data.batch_augment import PairedBatchAugment, build_batch_augment
from toolkit.data.images import IMAGE_EXTENSIONS, IMAGE_MODES, list_images, read_image, write_image
from toolkit.data.padding import PAD_MODES, crop_to, pad_to, pad_to_multiple

__all__ = [
    "IMAGE_EXTENSIONS",
    "IMAGE_MODES",
    "list_images",
    "read_image",
    "write_image",
    "PAD_MODES",
    "pad_to",
    "pad_to_multiple",
    "crop_to",
    "reseed",
    "PairedBatchAugment",
    "build_batch_augment",
]
