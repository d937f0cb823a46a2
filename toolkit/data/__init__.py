"""Data helpers shared by the tasks: image resizing, readers and augmentation utilities."""

__all__: list[str] = []
