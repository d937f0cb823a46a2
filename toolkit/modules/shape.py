"""One input-shape check for every model entry point, with one message format.

It lives in ``toolkit.modules`` (layer 1) rather than in ``toolkit.data`` (layer 2) because the shared
layers and backbones here check their inputs too and may not import upward; ``toolkit.data`` re-exports
it for the data side. It imports neither torch nor numpy: anything with a ``.shape`` (or a plain
sequence of sizes) can be checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolkit.errors import DataError

__all__ = ["ShapeError", "check_shape"]


class ShapeError(DataError, ValueError):
    """An input of the wrong rank or size.

    A :class:`~toolkit.errors.DataError`, so the tools print it as one line, and a ``ValueError``, the
    type torch and callers catching wrong arguments expect; model entry points used to raise either.
    """


def check_shape(x: Any, expected: Sequence[int | str], where: str, *, hint: str = "") -> None:
    """Raise :class:`ShapeError` unless ``x`` has the rank and sizes of ``expected``.

    Args:
        x: a tensor or array (its ``.shape`` is read) or a sequence of sizes.
        expected: one entry per dimension: an int must match exactly; a string (``"B"``, ``"H"``) names
            a free size that is not checked (a name used twice is not forced to be the same size).
        where: the module or model named in the message, e.g. its registry name.
        hint: a sentence appended to the message, e.g. which setting to change.

    The message reads ``"safmn: expected input (B, 3, H, W), got (2, 1, 8, 8)"``.
    """
    shape = tuple(int(s) for s in getattr(x, "shape", x))
    ok = len(shape) == len(expected) and all(isinstance(e, str) or s == e for s, e in zip(shape, expected))
    if not ok:
        message = f"{where}: expected input ({', '.join(str(e) for e in expected)}), got {shape}"
        raise ShapeError(f"{message}; {hint}" if hint else message)
