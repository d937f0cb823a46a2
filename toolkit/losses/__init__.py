"""Losses, registered in ``LOSSES``; a config list of weighted terms becomes one :class:`WeightedSum`.

Every module in this package registers its losses when imported; all are imported below.
"""

import importlib
import pkgutil

from toolkit.losses.base import WeightedSum, build_loss

__all__ = ["WeightedSum", "build_loss"]

for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")
