"""Error types the tools turn into one clear message instead of a traceback.

Every error raised on bad user input (config, data, checkpoint, device) derives from
:class:`ToolkitError`; ``tools/*.py`` catch it, print ``error: <message>`` and exit with status 2.
"""

__all__ = ["ToolkitError", "ConfigError", "RegistryError", "DataError", "CheckpointError", "DeviceError"]


class ToolkitError(Exception):
    """Base class of errors caused by user input rather than by a bug in the toolkit."""


class ConfigError(ToolkitError):
    """A config file, key, value or override is wrong."""


class RegistryError(ConfigError):
    """An unknown registry name, an argument a constructor does not accept, or a size the data contradicts.

    A kind of :class:`ConfigError`: every registry entry is named and configured by a config.
    """


class DataError(ToolkitError):
    """A data file or folder is missing, unreadable or has the wrong shape."""


class CheckpointError(ToolkitError):
    """A checkpoint is missing, corrupt or belongs to a different model."""


class DeviceError(ToolkitError):
    """A setting asks for hardware this machine does not have."""
