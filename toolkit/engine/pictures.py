"""Pictures people can see: whole-factor nearest-neighbour enlargement, titled panels and colour legends.

Every picture the toolkit saves for viewing (``vis/``, TensorBoard, ``tools/eval.py`` reports, GIFs) is
at least :data:`MIN_SIDE` pixels on its short side. Small data is enlarged by a whole factor ``k`` with
nearest-neighbour sampling, so each data pixel becomes a ``k x k`` block of one colour: nothing is
interpolated, and a pixel can still be counted. Text is drawn with OpenCV's Hershey font on white bands
above (titles) or below (legends) the data, never over it.

Example::

    image = enlarge(mask_rgb)                                    # short side >= 256, k x k blocks
    picture = row([titled(image, "input"), titled(pred, "prediction")])
    picture = column([picture, legend([((0, 220, 0), "detected"), ((255, 40, 40), "missed")], picture.shape[1])])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "MIN_SIDE",
    "GAP",
    "factor_for",
    "enlarge",
    "text_width",
    "text_band",
    "titled",
    "row",
    "column",
    "legend",
    "ramp",
]

MIN_SIDE = 256  # short side of every saved picture, in pixels
GAP = 4  # white pixels between panels
_FONT_SCALE = 0.5
_BAND = 22  # height of one line of text
_SWATCH = 14


def factor_for(height: int, width: int, min_side: int = MIN_SIDE) -> int:
    """The least whole factor that brings the short side of a ``height x width`` picture to ``min_side``."""
    return max(1, math.ceil(min_side / max(1, min(int(height), int(width)))))


def enlarge(img: np.ndarray, factor: int | None = None, *, min_side: int = MIN_SIDE) -> np.ndarray:
    """Repeat every pixel ``factor`` times along both axes (nearest neighbour; ``None``: :func:`factor_for`).

    Shape:
        - Input: (H, W), (H, W, C) or frames (F, H, W, C)
        - Output: (H k, W k), (H k, W k, C) or (F, H k, W k, C)
    """
    img = np.asarray(img)
    rows, cols = (0, 1) if img.ndim <= 3 else (1, 2)
    k = factor_for(img.shape[rows], img.shape[cols], min_side) if factor is None else int(factor)
    if k < 1:
        raise ValueError(f"enlarge: the factor must be a whole number >= 1, got {factor!r}")
    return img if k == 1 else img.repeat(k, axis=rows).repeat(k, axis=cols)


def _ascii(text: str) -> str:
    # the Hershey fonts draw ASCII only: other characters would come out as '?' boxes
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in str(text))


def text_width(text: str, scale: float = _FONT_SCALE) -> int:
    """The width in pixels of ``text`` in the titles' font."""
    import cv2

    return cv2.getTextSize(_ascii(text), cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0]


def _fit(text: str, width: int) -> tuple[str, float]:
    """The text and font scale that fit ``width`` pixels: a smaller font first, then the end cut with '..'."""
    text = _ascii(text)
    for scale in (_FONT_SCALE, 0.42, 0.35):
        if text_width(text, scale) <= width:
            return text, scale
    while len(text) > 1 and text_width(text + "..", 0.35) > width:
        text = text[:-1]
    return text + "..", 0.35


def _put(img: np.ndarray, text: str, x: int, y: int, scale: float, colour=(0, 0, 0)) -> None:
    import cv2

    cv2.putText(
        img, text, (int(x), int(y)), cv2.FONT_HERSHEY_SIMPLEX, scale, tuple(int(c) for c in colour), 1, cv2.LINE_AA
    )


def text_band(text: str, width: int, *, center: bool = True) -> np.ndarray:
    """A white uint8 (22 n, width, 3) band holding ``text`` in black, one band line per ``\\n``-separated line."""
    lines = str(text).split("\n")
    band = np.full((_BAND * len(lines), max(int(width), 1), 3), 255, np.uint8)
    for i, line in enumerate(lines):
        shown, scale = _fit(line, band.shape[1] - 4)
        w = text_width(shown, scale)
        x = (band.shape[1] - w) // 2 if center else 3
        _put(band, shown, max(x, 2), _BAND * i + 16, scale)
    return band


def titled(img: np.ndarray, title: str) -> np.ndarray:
    """``img`` (H, W, 3) uint8 with ``title`` on a white band above it: (22 n + H, W, 3)."""
    return np.concatenate([text_band(title, img.shape[1]), img], axis=0)


def _pad(img: np.ndarray, height: int, width: int) -> np.ndarray:
    out = np.full((height, width, 3), 255, np.uint8)
    out[: img.shape[0], : img.shape[1]] = img
    return out


def row(panels: Sequence[np.ndarray], gap: int = GAP) -> np.ndarray:
    """Panels (H_i, W_i, 3) uint8 side by side, top-aligned, white-padded to the tallest, ``gap`` px apart."""
    height = max(p.shape[0] for p in panels)
    parts = []
    for i, p in enumerate(panels):
        if i:
            parts.append(np.full((height, gap, 3), 255, np.uint8))
        parts.append(_pad(p, height, p.shape[1]))
    return np.concatenate(parts, axis=1)


def column(panels: Sequence[np.ndarray], gap: int = GAP) -> np.ndarray:
    """Panels (H_i, W_i, 3) uint8 stacked top to bottom, left-aligned, white-padded to the widest."""
    width = max(p.shape[1] for p in panels)
    parts = []
    for i, p in enumerate(panels):
        if i:
            parts.append(np.full((gap, width, 3), 255, np.uint8))
        parts.append(_pad(p, p.shape[0], width))
    return np.concatenate(parts, axis=0)


def ramp(colours: np.ndarray, width: int = 64) -> np.ndarray:
    """A (14, width, 3) uint8 swatch running through a colour map given as (N, 3) uint8 (N >= 2), left to right."""
    colours = np.asarray(colours, np.float32)
    pos = np.linspace(0, len(colours) - 1, width)
    lo = np.floor(pos).astype(int).clip(0, len(colours) - 2)
    t = (pos - lo)[:, None]
    line = (1 - t) * colours[lo] + t * colours[lo + 1]  # (width, 3)
    return np.repeat(line[None].round().astype(np.uint8), _SWATCH, axis=0)


def legend(entries: Sequence[tuple[Sequence[int] | np.ndarray, str]], width: int, *, title: str = "") -> np.ndarray:
    """A white band of ``swatch label`` items, wrapped into lines ``width`` pixels wide.

    Args:
        entries: ``(colour, label)`` pairs; a colour is an RGB triple (a square swatch) or a uint8
            (14, w, 3) picture (e.g. a :func:`ramp`) drawn in its place.
        width: the band's width (the picture's).
        title: text before the first item (e.g. ``"overlay:"``).

    Returns:
        uint8 (22 n, width, 3), n lines.
    """
    width = max(int(width), 1)
    items = []  # (swatch or None, text, font scale, width in pixels)
    if title:
        text, scale = _fit(title, width - 6)
        items.append((None, text, scale, text_width(text, scale)))
    for colour, label in entries:
        swatch = np.asarray(colour, np.uint8)
        if swatch.ndim == 1:  # an RGB triple
            swatch = np.broadcast_to(swatch, (_SWATCH, _SWATCH, 3))
        swatch = swatch[:, : max(width - 20, 4)]
        text, scale = _fit(label, max(width - swatch.shape[1] - 12, 8))
        items.append((swatch, text, scale, swatch.shape[1] + 4 + text_width(text, scale)))
    lines: list[list] = [[]]
    x = 3
    for item in items:
        if lines[-1] and x + item[3] > width - 3:
            lines.append([])
            x = 3
        lines[-1].append((x, item))
        x += item[3] + 14
    band = np.full((_BAND * len(lines), width, 3), 255, np.uint8)
    for i, line in enumerate(lines):
        top = _BAND * i
        for x, (swatch, text, scale, _) in line:
            if swatch is not None:
                h, w = swatch.shape[:2]
                box = band[top + 4 : top + 4 + h, x : x + w]
                box[:] = swatch
                box[[0, -1]] = box[:, [0, -1]] = 0  # a thin black outline, so that a white swatch shows
                x += w + 4
            _put(band, text, x, top + 16, scale)
    return band
