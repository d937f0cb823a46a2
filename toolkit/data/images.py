"""Image files: the extensions the tasks read, a folder lister and one reader with a fixed output per mode.

Modes of :func:`read_image` (every array is in native byte order, channels last):

============== ======================================= =========== =====================================
mode           dtype, shape and range                  decoder     8-bit / high bit-depth files
============== ======================================= =========== =====================================
``rgb8``       uint8 (H, W, 3), 0..255                 OpenCV      8-bit only: 16-bit raises DataError;
                                                                   grey repeated and alpha dropped,
                                                                   each with a warning naming the file
``grey``       float32 (H, W, 1), [0, 255]             PIL         PIL's ``L`` conversion (palette,
                                                                   alpha, RGB); 16/32-bit and float
                                                                   files stretched from their own
                                                                   min..max to 0..255
``rgb``        float32 (H, W, 3), [0, 255]             PIL         PIL's ``RGB`` conversion; high bit
                                                                   depth as ``grey``, channel repeated
``grey_unit``  float32 (H, W, 1), [0, 1]               PIL         ``L`` / 255; 16- and 32-bit integers
                                                                   / 65535; float files as stored
``rgb_unit``   float32 (H, W, 3), [0, 1]               PIL         ``RGB`` / 255; high bit depth as
                                                                   ``grey_unit``, channel repeated
============== ======================================= =========== =====================================

Float files holding NaN or infinite pixels raise DataError naming the file and the first such pixel, in
every mode: a stretch from min..max would otherwise turn the whole image into zeros.

``rgb8`` is what the restoration task reads, ``grey``/``rgb`` what the SIRST task reads, and the
``*_unit`` modes what video clips read; each reproduces that task's former reader exactly.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from toolkit.errors import DataError

__all__ = ["IMAGE_EXTENSIONS", "IMAGE_MODES", "list_images", "read_image", "write_image"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
IMAGE_MODES = ("rgb8", "grey", "rgb", "grey_unit", "rgb_unit")


def list_images(folder: str | Path) -> list[Path]:
    """Image files (by extension, case-insensitive) directly in ``folder``, sorted by name.

    Raises:
        DataError: ``folder`` is missing or holds no image file; the message names the folder and the
            extensions looked for.
    """
    folder = Path(folder)
    exts = ", ".join(IMAGE_EXTENSIONS)
    if not folder.is_dir():
        raise DataError(f"image folder {folder} does not exist (expected a folder of {exts} files)")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not files:
        raise DataError(f"no images ({exts}) in {folder}")
    return files


def read_image(path: str | Path, mode: str = "rgb8") -> np.ndarray:
    """Read one image file as a numpy array; ``mode`` fixes the dtype, shape and range (module docstring).

    Raises:
        DataError: the file is missing, unreadable, not an image, of a bit depth the mode does not
            read (``rgb8``: 8-bit only), of an unexpected channel count or a float image with NaN or
            infinite pixels; the message names the file.
        ValueError: an unknown ``mode``.
    """
    path = Path(path)
    if mode not in IMAGE_MODES:
        raise ValueError(f"read_image: mode must be one of {IMAGE_MODES}, got {mode!r}")
    if not path.is_file():
        raise DataError(f"cannot read image file {path}: no such file")
    if mode == "rgb8":
        return _read_rgb8(path)
    grey = mode.startswith("grey")
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode.startswith("I") or im.mode == "F":  # 16/32-bit integer or float, one channel
                a = np.asarray(im)
                a = a.astype(a.dtype.newbyteorder("="))  # I;16B files arrive big-endian
                _check_finite(a, path)
                a = _stretch(a) if mode in ("grey", "rgb") else _high_depth_unit(a)
                return a[..., None] if grey else np.repeat(a[..., None], 3, axis=2)
            a = np.asarray(im.convert("L" if grey else "RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"cannot read image file {path}: {exc}") from None
    a = a.astype(np.float32) / 255.0 if mode.endswith("_unit") else a.astype(np.float32)
    return a[..., None] if grey else a  # (H, W, C)


def _check_finite(a: np.ndarray, path: Path) -> None:
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        bad = ~np.isfinite(a)
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{path}: {int(bad.sum())} NaN or infinite pixel(s) of {a.size} (first at row {row}, column {col}); "
            "a float image must hold finite values: fill or mask them in the file"
        )


def _stretch(a: np.ndarray) -> np.ndarray:
    """(H, W) -> float32 stretched linearly from its own min..max to 0..255 (zeros when constant)."""
    # NOTE: no common convention exists for high bit-depth IR frames; a per-image linear stretch keeps
    # every grey level (PIL's conversion to L would clip above 255).
    a = a.astype(np.float32)
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)


def _high_depth_unit(a: np.ndarray) -> np.ndarray:
    """(H, W) -> float32: integers divided by 65535 (16-bit full scale), floats as stored."""
    # NOTE: 32-bit integer files are divided by the 16-bit full scale too: PIL opens 16-bit PNGs as
    # 32-bit ``I`` in some versions, and the video task's frames were scaled this way.
    return a.astype(np.float32) if a.dtype.kind == "f" else a.astype(np.float32) / 65535.0


def _read_rgb8(path: Path) -> np.ndarray:
    """uint8 (H, W, 3) RGB through OpenCV, strictly 8-bit."""
    # NOTE: OpenCV rather than PIL here: PIL silently drops the low byte of 16-bit-per-channel RGB
    # PNGs, while OpenCV reads them as uint16, so such files can be refused instead of misread.
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DataError(f"cannot read image file {path}: unreadable or not an image")
    if img.dtype != np.uint8:
        bits = img.dtype.itemsize * 8
        raise DataError(
            f"{path} is a {bits}-bit {img.dtype} image; mode 'rgb8' reads 8-bit images only "
            "(convert it, e.g. with `convert in.png -depth 8 out.png`)"
        )
    channels = 1 if img.ndim == 2 else img.shape[2]
    if channels == 1:
        warnings.warn(f"{path} is a grey image; converted to RGB by repeating its channel", stacklevel=3)
        return np.repeat(img.reshape(img.shape[0], img.shape[1], 1), 3, axis=2)
    if channels == 4:
        warnings.warn(f"{path} has an alpha channel; it is ignored", stacklevel=3)
        img = img[..., :3]
    elif channels != 3:
        raise DataError(f"{path} has {channels} channels; expected 1 (grey), 3 (RGB) or 4 (RGBA)")
    return np.ascontiguousarray(img[..., ::-1])  # BGR -> RGB


def write_image(path: str | Path, image: np.ndarray) -> Path:
    """Write a uint8 image, grey (H, W) or RGB (H, W, 3), in the format of ``path``'s extension.

    Every failure (unknown extension, missing or read-only folder, full disk) raises a DataError naming
    the file; nothing is reported as written that was not.
    """
    import cv2

    path = Path(path)
    image = np.ascontiguousarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise DataError(f"{path}: can write uint8 (H, W) or (H, W, 3) images, got {image.dtype} {image.shape}")
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise DataError(f"{path}: unknown image extension; use one of {', '.join(IMAGE_EXTENSIONS)}")
    ok, encoded = cv2.imencode(path.suffix.lower(), image if image.ndim == 2 else image[..., ::-1])  # cv2 wants BGR
    if not ok:
        raise DataError(f"cannot encode {path} as {path.suffix}")
    try:
        path.write_bytes(encoded.tobytes())
    except OSError as exc:
        raise DataError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
