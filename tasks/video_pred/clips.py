"""User clip data for video prediction: an array file of clips or a folder of clip folders of frames.

Sources (``data.path``):

- ``.npy`` / ``.npz`` holding (N, T, H, W) or (N, T, C, H, W) clips (``layout='NTHWC'`` for
  channels-last arrays; ``data.key`` picks the array of a multi-array ``.npz``). ``.npy`` files are
  memory-mapped, so arrays larger than memory work.
- a folder whose sub-folders are clips, each holding its frames as PNG/JPG/BMP/TIFF files in
  natural order (``frame2.png`` before ``frame10.png``).

Pixel scale: uint8 is divided by 255 and uint16 by 65535; other types are used as they are. Clips
longer than ``input_frames + output_frames`` give one window from their start, or one every
``stride`` frames. Clips (not windows) are split into train / val / test by seeded ratios or by
explicit index ranges, so windows of one clip never land in two splits.

Every item is normalised per channel with statistics of the training split (``.stats``), which the
video task stores with the checkpoint and uses to de-normalise predictions; other splits get them
through ``stats=``. Training clips can be augmented identically on every frame (a random up-scale,
a random crop back to size, flips) with albumentations.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from toolkit.data import IMAGE_EXTENSIONS as FRAME_SUFFIXES
from toolkit.data import read_image, reseed
from toolkit.errors import ConfigError, DataError
from toolkit.registry import DATASETS

__all__ = [
    "ClipDataset",
    "ArrayClips",
    "FolderClips",
    "open_clips",
    "resize_frames",
    "to_unit_scale",
    "FRAME_SUFFIXES",
]

_SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class _Augment:
    """``data.augment`` options (documented in ``tasks/video_pred/clips_example.py``); ``True`` means these."""

    scale: Any = (1.0, 1.15)  # random up-scale range, then a crop back to the frame size
    hflip: float = 0.5
    vflip: float = 0.0


def to_unit_scale(x: np.ndarray) -> np.ndarray:
    """float32 copy of ``x`` with uint8 divided by 255 and uint16 by 65535 (other types unchanged)."""
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    if x.dtype == np.uint16:
        return x.astype(np.float32) / 65535.0
    return x.astype(np.float32)


def resize_frames(clip: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Resize float (T, C, H, W) frames to ``size`` = (h, w): area averaging to shrink, bilinear to grow."""
    h, w = int(size[0]), int(size[1])
    if tuple(clip.shape[-2:]) == (h, w):
        return clip
    import cv2

    interp = cv2.INTER_AREA if h * w < clip.shape[-2] * clip.shape[-1] else cv2.INTER_LINEAR
    frames = [cv2.resize(np.ascontiguousarray(f.transpose(1, 2, 0)), (w, h), interpolation=interp) for f in clip]
    return np.stack([f.reshape(h, w, -1).transpose(2, 0, 1) for f in frames])  # (T, C, h, w)


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


class ArrayClips:
    """Clips of a ``.npy`` / ``.npz`` array, viewed as (N, T, C, H, W) without loading ``.npy`` data.

    Args:
        path: the array file.
        key: array name inside a ``.npz`` with several arrays.
        layout: ``'NTCHW'`` or ``'NTHWC'`` for 5-D arrays; ``None`` guesses (channels-last when the
            last axis has 1-4 entries and axis 2 does not). 4-D arrays are (N, T, H, W).
        option: the setting that named ``path``, for error messages.
    """

    def __init__(
        self, path: str | Path, *, key: str | None = None, layout: str | None = None, option: str = "data.path"
    ):
        self.path, self.option = Path(path).expanduser(), option
        arr = self._load(key)
        if arr.ndim == 4:
            arr = arr[:, :, None]  # (N, T, 1, H, W)
        elif arr.ndim == 5:
            if layout is None:
                layout = "NTHWC" if arr.shape[-1] <= 4 < arr.shape[2] else "NTCHW"
            if layout == "NTHWC":
                arr = np.moveaxis(arr, -1, 2)  # (N, T, C, H, W), a view
            elif layout != "NTCHW":
                raise ConfigError(f"data.layout must be 'NTCHW' or 'NTHWC', got {layout!r}")
        else:
            raise DataError(
                f"{self.path}: expected clips of shape (N, T, H, W) or (N, T, C, H, W), got shape {arr.shape}"
            )
        if arr.dtype.kind not in "uifb":
            raise DataError(f"{self.path}: expected a numeric array of clips, got dtype {arr.dtype}")
        self.array = arr
        self.channels = arr.shape[2]

    def _load(self, key: str | None) -> np.ndarray:
        if not self.path.exists():
            raise DataError(f"{self.option}={self.path}: file not found")
        try:
            if self.path.suffix == ".npz":
                with np.load(self.path) as npz:
                    names = list(npz.keys())
                    if key is None and len(names) != 1:
                        raise DataError(f"{self.path}: holds arrays {names}; set data.key to the one with the clips")
                    name = key if key is not None else names[0]
                    if name not in names:
                        raise DataError(f"{self.path}: no array {name!r} (data.key); arrays: {names}")
                    return npz[name]
            return np.load(self.path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"{self.path}: not a readable .npy/.npz file ({exc})") from None

    def __len__(self) -> int:
        return self.array.shape[0]

    def length(self, i: int) -> int:
        return self.array.shape[1]

    def frame_size(self, i: int) -> tuple[int, int]:
        return tuple(self.array.shape[-2:])

    def describe(self, i: int) -> str:
        return f"{self.path} (clip {i})"

    def read(self, i: int, start: int, length: int) -> np.ndarray:
        """Frames ``start .. start+length`` of clip ``i``: float32 (length, C, H, W) in unit scale."""
        return to_unit_scale(np.asarray(self.array[i, start : start + length]))


class FolderClips:
    """Clips stored as one folder of frame images per clip, checked once at construction.

    Args:
        path: folder of clip folders.
        channels: 1 (read as grey) or 3 (read as RGB); ``None`` takes the first frame's.
        min_frames: clips with fewer frames raise :class:`DataError`.
        same_size: require every clip to have the frames of the same size (not needed when the
            dataset resizes).
        option: the setting that named ``path``, for error messages.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        channels: int | None = None,
        min_frames: int = 1,
        same_size: bool = True,
        option: str = "data.path",
    ):
        self.path, self.option = Path(path).expanduser(), option
        if not self.path.is_dir():
            raise DataError(f"{self.option}={self.path}: folder not found")
        folders = sorted((p for p in self.path.iterdir() if p.is_dir()), key=_natural_key)
        self.clips: list[list[Path]] = []
        for folder in folders:
            frames = sorted((p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES), key=_natural_key)
            if frames:
                self.clips.append(frames)
        if not self.clips:
            raise DataError(
                f"{self.option}={self.path}: expected a folder of clip folders holding frames "
                f"({', '.join(FRAME_SUFFIXES)}), found none"
            )
        self.sizes: list[tuple[int, int]] = []
        self.channels = channels
        for frames in self.clips:
            self.sizes.append(self._check_clip(frames, min_frames))
        if same_size and len(set(self.sizes)) > 1:
            first = self.clips[0][0].parent
            other = next(i for i, s in enumerate(self.sizes) if s != self.sizes[0])
            raise DataError(
                f"{self.clips[other][0].parent}: frames of {self.sizes[other][0]}x{self.sizes[other][1]} but "
                f"{first} has {self.sizes[0][0]}x{self.sizes[0][1]}; set data.image_size to resize all clips"
            )

    def _check_clip(self, frames: list[Path], min_frames: int) -> tuple[int, int]:
        from PIL import Image, UnidentifiedImageError

        folder = frames[0].parent
        if len(frames) < min_frames:
            raise DataError(f"{folder}: {len(frames)} frames, but a clip needs at least {min_frames} frames")
        size = None
        for f in frames:
            try:
                with Image.open(f) as img:  # reads the header only
                    w, h, mode = img.width, img.height, img.mode
            except (UnidentifiedImageError, OSError) as exc:
                raise DataError(f"{f}: not a readable image ({exc})") from None
            native = 1 if mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F") else 3
            if self.channels is None:
                self.channels = native
            elif native != self.channels:
                raise DataError(
                    f"{f}: a {native}-channel image (mode {mode}) but data.channels={self.channels}; "
                    f"expected frames of shape ({self.channels}, H, W)"
                )
            if size is None:
                size = (h, w)
            elif (h, w) != size:
                raise DataError(
                    f"{f}: frame of {h}x{w} but {frames[0].name} of the same clip is {size[0]}x{size[1]}; "
                    f"every frame of a clip must have shape ({self.channels}, {size[0]}, {size[1]})"
                )
        return size

    def __len__(self) -> int:
        return len(self.clips)

    def length(self, i: int) -> int:
        return len(self.clips[i])

    def frame_size(self, i: int) -> tuple[int, int]:
        return self.sizes[i]

    def describe(self, i: int) -> str:
        return str(self.clips[i][0].parent)

    def read(self, i: int, start: int, length: int) -> np.ndarray:
        """Frames ``start .. start+length`` of clip ``i``: float32 (length, C, H, W) in unit scale."""
        return np.stack([self._read_frame(f) for f in self.clips[i][start : start + length]])

    def _read_frame(self, path: Path) -> np.ndarray:
        # 8-bit frames / 255, 16-bit / 65535, float frames as stored (see toolkit.data.images)
        return read_image(path, "grey_unit" if self.channels == 1 else "rgb_unit").transpose(2, 0, 1)  # (C, H, W)


def open_clips(
    path: str | Path,
    *,
    key: str | None = None,
    layout: str | None = None,
    channels: int | None = None,
    option: str = "data.path",
    **folder_kw,
) -> ArrayClips | FolderClips:
    """An :class:`ArrayClips` for ``.npy``/``.npz`` files, a :class:`FolderClips` for folders.

    ``option`` names the setting that gave ``path`` in error messages (``data.path``, ``--input``).
    """
    p = Path(path).expanduser()
    if p.suffix in (".npy", ".npz"):
        return ArrayClips(p, key=key, layout=layout, option=option)
    if p.is_dir():
        return FolderClips(p, channels=channels, option=option, **folder_kw)
    if not p.exists():
        raise DataError(f"{option}={p}: not found")
    raise DataError(f"{option}={p}: expected a .npy/.npz array of clips or a folder of clip folders")


@DATASETS.register("clips")
class ClipDataset(Dataset):
    """Windows of user clips, split by clip, normalised with training statistics, optionally augmented.

    Args:
        split: ``'train'``, ``'val'`` or ``'test'``.
        input_frames, output_frames: frames of the input and of the target of every item.
        path: ``.npy`` / ``.npz`` file or folder of clip folders (see the module docstring).
        key, layout: array name in a ``.npz`` and the 5-D axis order (``'NTCHW'`` / ``'NTHWC'``).
        channels: expected channel count (``None`` = the data's); a mismatch raises DataError.
        image_size: resize frames to ``(H, W)`` (or ``S`` for S x S); ``None`` keeps them.
        stride: start a window every ``stride`` frames of a long clip; ``None`` = one per clip.
        split_ratios: fractions of the clips for (train, val[, test]) after a seeded shuffle;
            ``None`` = every clip in every split (e.g. one file per split through ``data.splits``).
        split_ranges: ``dict(train=(start, stop), ...)`` clip index ranges in file order; wins over
            ``split_ratios``.
        seed: seed of the shuffle behind ``split_ratios``.
        normalise: subtract the per-channel mean and divide by the std of the training split.
        augment: ``True``, ``False``/``None`` or ``dict(scale=(1.0, 1.15), hflip=0.5, vflip=0.0)``;
            applied to the training split only, identically to every frame of a clip.
        stats: ``dict(mean=[...], std=[...])`` of the training split, for the other splits; when
            absent the statistics are computed on this source's training clips.
        stats_max_clips: clips (evenly spaced) read to compute the statistics.

    Items: ``{'input': float32 (T_in, C, H, W), 'target': float32 (T_out, C, H, W)}``.
    """

    def __init__(
        self,
        split: str,
        *,
        input_frames: int,
        output_frames: int,
        path: str,
        key: str | None = None,
        layout: str | None = None,
        channels: int | None = None,
        image_size: int | Sequence[int] | None = None,
        stride: int | None = None,
        split_ratios: Sequence[float] | None = (0.8, 0.1, 0.1),
        split_ranges: dict | None = None,
        seed: int = 0,
        normalise: bool = True,
        augment: bool | dict | None = None,
        stats: dict | None = None,
        stats_max_clips: int = 1000,
    ):
        if split not in _SPLITS:
            raise ConfigError(f"split must be one of {_SPLITS}, got {split!r}")
        if path is None:
            raise ConfigError("data.path is required for data.type='clips' (a .npy/.npz file or a folder of clips)")
        self.split = split
        self.input_frames, self.output_frames = int(input_frames), int(output_frames)
        self.frames = self.input_frames + self.output_frames
        if isinstance(image_size, int):
            image_size = (image_size, image_size)
        self.image_size = tuple(image_size) if image_size is not None else None
        self.source = open_clips(
            path, key=key, layout=layout, channels=channels, min_frames=self.frames, same_size=self.image_size is None
        )
        if channels is not None and self.source.channels != channels:
            raise DataError(
                f"{path}: clips have {self.source.channels} channels but data.channels={channels}; "
                f"expected clips of shape (N, T, {channels}, H, W)"
            )
        self.channels = self.source.channels
        self._check_lengths()
        partition = self._partition(split_ratios, split_ranges, seed)
        self.clip_ids = partition[split]
        if not self.clip_ids:
            raise DataError(f"{path}: the {split} split has no clips (data.split_ratios / data.split_ranges)")
        self.windows = [
            (i, s) for i in self.clip_ids for s in range(0, self.source.length(i) - self.frames + 1, stride or 10**9)
        ]
        self._check_finite()
        self.stats: dict | None = None
        if normalise:
            self.stats = (
                self._checked_stats(stats)
                if stats is not None
                else self._compute_stats(partition["train"] or self.clip_ids, stats_max_clips)
            )
            self._mean = np.asarray(self.stats["mean"], dtype=np.float32)[:, None, None]  # (C, 1, 1)
            self._std = np.asarray(self.stats["std"], dtype=np.float32)[:, None, None]
        self._augment = self._build_augment(augment) if split == "train" else None

    # ------------------------------------------------------------------ checks and splits
    def _check_lengths(self) -> None:
        for i in range(len(self.source)):
            if self.source.length(i) < self.frames:
                h, w = self.source.frame_size(i)
                raise DataError(
                    f"{self.source.describe(i)}: clip of {self.source.length(i)} frames is shorter than "
                    f"input_frames + output_frames = {self.frames}; expected clips of shape "
                    f"(T>={self.frames}, {self.source.channels}, {h}, {w})"
                )

    def _partition(self, ratios: Sequence[float] | None, ranges: dict | None, seed: int) -> dict[str, list[int]]:
        n = len(self.source)
        if ranges is not None:
            out = {}
            for name in _SPLITS:
                r = ranges.get(name)
                if r is None:
                    out[name] = []
                    continue
                if len(r) != 2 or not 0 <= r[0] <= r[1] <= n:
                    raise ConfigError(f"data.split_ranges.{name}={r!r}: expected (start, stop) within 0..{n}")
                out[name] = list(range(int(r[0]), int(r[1])))
            return out
        if ratios is None:
            return {name: list(range(n)) for name in _SPLITS}
        ratios = [float(r) for r in ratios]
        if not 2 <= len(ratios) <= 3 or min(ratios) < 0 or sum(ratios) > 1 + 1e-6:
            raise ConfigError(f"data.split_ratios={ratios}: expected 2 or 3 non-negative fractions summing to <= 1")
        order = np.random.default_rng(seed).permutation(n).tolist()
        bounds = np.round(np.cumsum([0.0] + ratios) * n).astype(int)
        return {
            name: sorted(order[bounds[k] : bounds[k + 1]]) if k < len(ratios) else [] for k, name in enumerate(_SPLITS)
        }

    def _check_finite(self) -> None:
        # integer arrays and 8/16-bit images cannot hold NaN; float arrays are read once here
        source = self.source
        if not isinstance(source, ArrayClips) or source.array.dtype.kind != "f":
            return
        for i in self.clip_ids:
            clip = np.asarray(source.array[i])
            if not np.isfinite(clip).all():
                t = int(np.argwhere(~np.isfinite(clip))[0][0])
                raise DataError(
                    f"{self.source.describe(i)}: NaN or infinite values (first in frame {t}); "
                    f"expected finite clips of shape {tuple(clip.shape)}"
                )

    def _checked_stats(self, stats: dict) -> dict:
        try:
            mean = [float(v) for v in np.atleast_1d(stats["mean"])]
            std = [float(v) for v in np.atleast_1d(stats["std"])]
        except (KeyError, TypeError, ValueError):
            raise DataError(
                f"stats must be dict(mean=[...], std=[...]) with one value per channel, got {stats!r}"
            ) from None
        if len(mean) != self.channels or len(std) != self.channels:
            raise DataError(
                f"stats have {len(mean)} channels but {self.source.describe(0)} has {self.channels}; "
                "the checkpoint was trained on data with a different channel count"
            )
        return {"mean": mean, "std": std}

    def _compute_stats(self, clip_ids: list[int], max_clips: int) -> dict:
        picks = (
            clip_ids
            if len(clip_ids) <= max_clips
            else [clip_ids[int(k)] for k in np.linspace(0, len(clip_ids) - 1, max_clips)]
        )
        total = np.zeros(self.channels)
        total_sq = np.zeros(self.channels)
        count = 0
        for i in picks:
            clip = self._resize(self.source.read(i, 0, self.source.length(i))).astype(np.float64)  # (T, C, H, W)
            if not np.isfinite(clip).all():
                raise DataError(f"{self.source.describe(i)}: NaN or infinite values; expected finite clips")
            total += clip.sum(axis=(0, 2, 3))
            total_sq += (clip**2).sum(axis=(0, 2, 3))
            count += clip.shape[0] * clip.shape[2] * clip.shape[3]
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
        std = np.where(std < 1e-8, 1.0, std)  # a constant channel is left unscaled
        return {"mean": mean.tolist(), "std": std.tolist()}

    # ------------------------------------------------------------------ items
    def _build_augment(self, augment: bool | dict | None):
        if not augment:
            return None
        given = dict(augment) if isinstance(augment, dict) else {}
        known = [f.name for f in fields(_Augment)]
        unknown = set(given) - set(known)
        if unknown:
            raise ConfigError(f"data.augment: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
        opts = asdict(_Augment(**given))
        import albumentations as A

        lo, hi = (opts["scale"], opts["scale"]) if np.isscalar(opts["scale"]) else opts["scale"]
        if not 1.0 <= lo <= hi:
            raise ConfigError(
                f"data.augment.scale={opts['scale']}: expected an up-scale range (lo, hi) with 1 <= lo <= hi"
            )
        h, w = self.image_size or self.source.frame_size(self.clip_ids[0])
        return A.Compose(
            [
                A.RandomScale(scale_limit=(lo - 1.0, hi - 1.0), p=1.0),
                A.RandomCrop(h, w),
                A.HorizontalFlip(p=float(opts["hflip"])),
                A.VerticalFlip(p=float(opts["vflip"])),
            ]
        )

    def _resize(self, clip: np.ndarray) -> np.ndarray:
        return clip if self.image_size is None else resize_frames(clip, self.image_size)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        i, start = self.windows[index]
        clip = self._resize(self.source.read(i, start, self.frames))  # (T, C, H, W)
        if self._augment is not None:
            # one draw from torch's generator: reproducible under the run's seed and distinct per worker
            reseed(self._augment, int(torch.randint(0, 2**31 - 1, ()).item()))  # each transform its own
            frames = self._augment(images=np.ascontiguousarray(clip.transpose(0, 2, 3, 1)))["images"]  # (T, H, W, C)
            clip = np.asarray(frames).reshape(len(clip), *frames[0].shape[:2], -1).transpose(0, 3, 1, 2)
        if self.stats is not None:
            clip = (clip - self._mean) / self._std
        x = torch.from_numpy(np.ascontiguousarray(clip, dtype=np.float32))
        return {"input": x[: self.input_frames], "target": x[self.input_frames :]}

    def describe(self) -> dict[str, Any]:
        """A summary for logs: source, split sizes and shapes."""
        return {
            "path": str(getattr(self.source, "path", "")),
            "split": self.split,
            "clips": len(self.clip_ids),
            "windows": len(self.windows),
            "channels": self.channels,
            "stats": self.stats,
        }
