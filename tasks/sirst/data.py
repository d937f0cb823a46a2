"""SIRST data: the folder layouts in use, split lists, image modes, augmentation and evaluation protocols.

A dataset folder holds ``images/<id>.<ext>`` and ``masks/<id><suffix>.<ext>`` (NUAA-SIRST names masks
``<id>_pixels0.png``; NUDT-SIRST and IRSTD-1K use no suffix) and split lists in one of the layouts

- ``50_50/{train,test}.txt`` (DNANet),
- ``img_idx/{train,test}_<DATASET>.txt`` (BasicIRSTD),
- ``idx_427/{trainval,test}.txt`` or ``idx_320/...`` (ACM; ``train`` reads ``trainval.txt``),

one id per line, LF or CRLF. Images of any mode (RGB, L, RGBA, palette, 16-bit) become grey or RGB as
configured; masks are binarised with ``> 127`` (masks stored as 0/1 with ``> 0``). A mask whose size
differs from its image is resized with nearest neighbour or skipped, with a warning naming the file.

Training samples are augmented identically for image and mask with albumentations (flips, transpose,
random scale of the short side, pad and random crop, optionally centred on a target; Gaussian blur on
the image only). Evaluation samples keep their original size unless a resize protocol is chosen.
"""

from __future__ import annotations

import glob
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from toolkit.data import IMAGE_EXTENSIONS as IMAGE_EXTS
from toolkit.data import list_images, pad_to, reseed
from toolkit.data import read_image as load_image
from toolkit.errors import DataError

__all__ = [
    "IMAGE_EXTS",
    "Normalisation",
    "SIRSTDataset",
    "find_split_file",
    "read_split",
    "load_image",
    "load_mask",
    "compute_normalisation",
    "collate_eval",
    "protocol_name",
]

LAYOUTS = ("50_50", "img_idx", "idx_427", "idx_320")
_SPLIT_ALIASES = {"idx_427": {"train": "trainval"}, "idx_320": {"train": "trainval"}}
_AUTO_SUFFIXES = ("", "_pixels0")


# --------------------------------------------------------------------------- split lists
def find_split_file(root: Path, split: str, layout: str = "auto") -> Path | None:
    """The list file of ``split`` under ``root`` for ``layout`` (``None`` for layout ``'folder'``)."""
    if layout == "folder":
        return None
    layouts = [lay for lay in LAYOUTS if (root / lay).is_dir()] if layout == "auto" else [layout]
    if layout != "auto" and layout not in LAYOUTS:
        raise DataError(f"data.layout must be 'auto', 'folder' or one of {LAYOUTS}, got {layout!r}")
    if not layouts:
        raise DataError(
            f"{root} has no split folder ({', '.join(LAYOUTS)}); give data.split_files={{'train': 'train.txt', "
            "'test': 'test.txt'} (image ids one per line, relative to data.root), or set data.layout=folder to "
            "train and evaluate on every image (no held-out split; a warning says so)"
        )
    tried: list[str] = []
    for lay in layouts:
        name = _SPLIT_ALIASES.get(lay, {}).get(split, split)
        if lay == "img_idx":
            candidates = [root / lay / f"{name}_{root.name}.txt"]
            candidates += sorted(Path(p) for p in glob.glob(str(root / lay / f"{glob.escape(name)}_*.txt")))
            candidates.append(root / lay / f"{name}.txt")
        else:
            candidates = [root / lay / f"{name}.txt"]
        for c in candidates:
            if c.is_file():
                return c
        tried += [str(c) for c in candidates[:1]]
    raise DataError(f"no split list for split {split!r} under {root} (looked for {', '.join(tried)})")


def read_split(path: Path) -> list[str]:
    """Ids listed in a split file (LF or CRLF, blank lines and extensions ignored)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"cannot read split list {path}: {exc}") from None
    ids = []
    for line in text.splitlines():
        name = line.strip()
        if name:
            stem, ext = os.path.splitext(name)
            ids.append(stem if ext.lower() in IMAGE_EXTS else name)
    if not ids:
        raise DataError(f"split list {path} is empty")
    return ids


def _index_folder(folder: Path) -> dict[str, Path]:
    """``{file stem: path}`` of the image files in ``folder``."""
    return {p.stem: p for p in list_images(folder)}


# --------------------------------------------------------------------------- reading files
# ``load_image(path, color)`` is toolkit.data.read_image: with color 'grey' / 'rgb' it returns float32
# (H, W, C) in [0, 255], 16-bit and float images stretched from their own minimum and maximum.
def load_mask(path: Path) -> np.ndarray:
    """Read a mask as uint8 (H, W) with values 0/1: ``> 127``, or ``> 0`` for masks stored as 0/1."""
    a = load_image(path, "grey")[..., 0]  # (H, W) float32 in [0, 255]
    # NOTE: the field binarises with > 127; a mask saved with values {0, 1} would then be empty, so such
    # masks (maximum 1) are read with > 0 instead. 16-bit masks are stretched like images, so one stored
    # as {0, k} reads as 0/1 for any k (PIL's 8-bit conversion clips at 255, which lost k in 2..127).
    return (a > (0 if a.max() <= 1 else 127)).astype(np.uint8)


def _strip_suffix(name: str, suffixes: Sequence[str]) -> str:
    for sfx in sorted(suffixes, key=len, reverse=True):
        if sfx and name.endswith(sfx):
            return name[: -len(sfx)]
    return name


def _image_size(path: Path, what: str) -> tuple[int, int]:
    try:
        with Image.open(path) as im:
            return im.size[1], im.size[0]  # (H, W)
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"cannot read {what} {path}: {exc}") from None


# --------------------------------------------------------------------------- normalisation
@dataclass
class Normalisation:
    """Per-channel mean and std in [0, 1] units; shared by the datasets and saved with checkpoints."""

    mean: list[float] = field(default_factory=lambda: [0.5])
    std: list[float] = field(default_factory=lambda: [0.25])

    def apply(self, img: np.ndarray) -> np.ndarray:
        """(H, W, C) float in [0, 255] -> normalised (H, W, C) float32."""
        mean = np.asarray(self.mean, dtype=np.float32) * 255.0
        std = np.asarray(self.std, dtype=np.float32) * 255.0
        return ((img - mean) / std).astype(np.float32)

    def undo(self, x: np.ndarray) -> np.ndarray:
        """Normalised (C, H, W) -> uint8 (H, W, C) picture."""
        mean = np.asarray(self.mean, dtype=np.float32)[:, None, None]
        std = np.asarray(self.std, dtype=np.float32)[:, None, None]
        img = (x * std + mean) * 255.0
        return np.clip(img, 0, 255).round().astype(np.uint8).transpose(1, 2, 0)  # (H, W, C)


def compute_normalisation(paths: Sequence[Path], color: str) -> Normalisation:
    """Mean and std over every pixel of the given images (the training split)."""
    channels = 1 if color == "grey" else 3
    s = np.zeros(channels)
    s2 = np.zeros(channels)
    n = 0
    for p in paths:
        a = load_image(p, color).reshape(-1, channels).astype(np.float64) / 255.0
        if not np.isfinite(a).all():  # one such pixel would make the mean and std NaN, and every input with them
            raise DataError(f"{p}: NaN or infinite pixel values; the normalisation statistics need finite images")
        s += a.sum(0)
        s2 += (a * a).sum(0)
        n += a.shape[0]
    mean = s / n
    std = np.sqrt(np.maximum(s2 / n - mean * mean, 1e-12))
    return Normalisation(mean.tolist(), std.tolist())


# --------------------------------------------------------------------------- dataset
# registered in DATASETS as "sirst" through tasks.sirst.task.sirst_dataset (the config's data keys)
class SIRSTDataset(Dataset):
    """Images and binary target masks of one split.

    Args:
        root: dataset folder holding ``image_dir`` and ``mask_dir`` (and the split lists).
        split: ``'train'``, ``'val'``, ``'test'`` or another list name of the layout.
        train: apply the training augmentation (otherwise the evaluation protocol).
        layout: ``'auto'``, one of ``50_50``, ``img_idx``, ``idx_427``, ``idx_320``, or ``'folder'``
            (every image of ``image_dir``).
        split_file: explicit list file (relative to ``root`` or absolute), overriding ``layout``.
        image_dir, mask_dir: folder names under ``root``.
        mask_suffix: ``'auto'`` (no suffix or ``_pixels0``) or the exact suffix.
        color: ``'grey'`` (1 channel) or ``'rgb'`` (3 channels).
        norm: normalisation applied to images (shared object; see :class:`Normalisation`).
        size_mismatch: ``'resize'`` the mask (nearest), ``'skip'`` the sample, or ``'error'``.
        crop_size: training crop size.
        base_size: short side that ``scale_range`` multiplies.
        scale_range: random scale of the short side (``None`` keeps the size).
        flip: random horizontal / vertical flips and transpose.
        target_crop_prob: probability that a training crop contains a target.
        blur_prob: probability of a Gaussian blur of the training image (not the mask).
        pad_fill: what pads a training image smaller than ``crop_size``: ``'zero'`` (black in pixel units,
            as DNANet's and ACM's own pipelines) or ``'mean'`` (the normalisation mean, so 0 after
            normalisation, as BasicIRSTD pads normalised images; evaluation pads so too).
        pad_position: ``'center'`` or ``'bottom_right'`` (DNANet and BasicIRSTD pad bottom and right).
        flip_after_crop: flip and transpose the crop (BasicIRSTD) instead of the image before padding.
        eval_size: ``None`` evaluates at original size; an int resizes image (bilinear) and mask
            (nearest) to ``eval_size x eval_size`` (256 as DNANet, 512 as ACM).
        seed: base seed of the augmentation stream.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        train: bool = False,
        layout: str = "auto",
        split_file: str | None = None,
        image_dir: str = "images",
        mask_dir: str = "masks",
        mask_suffix: str = "auto",
        color: str = "grey",
        norm: Normalisation | None = None,
        size_mismatch: str = "resize",
        crop_size: int = 256,
        base_size: int = 256,
        scale_range: Sequence[float] | None = (0.5, 2.0),
        flip: bool = True,
        target_crop_prob: float = 0.0,
        blur_prob: float = 0.0,
        pad_fill: str = "zero",
        pad_position: str = "center",
        flip_after_crop: bool = False,
        eval_size: int | None = None,
        seed: int = 0,
    ):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"data.root {self.root} does not exist or is not a folder")
        if color not in ("grey", "rgb"):
            raise DataError(f"data.color must be 'grey' or 'rgb', got {color!r}")
        if size_mismatch not in ("resize", "skip", "error"):
            raise DataError(f"data.size_mismatch must be 'resize', 'skip' or 'error', got {size_mismatch!r}")
        if pad_fill not in ("zero", "mean"):
            raise DataError(f"data.pad_fill must be 'zero' or 'mean', got {pad_fill!r}")
        if pad_position not in _PAD_POSITIONS:
            raise DataError(f"data.pad_position must be 'center' or 'bottom_right', got {pad_position!r}")
        if flip_after_crop and not flip:
            raise DataError("data.flip_after_crop=True has no effect with data.flip=False; set one of them")
        self.split, self.train, self.color = split, train, color
        self.pad_fill = pad_fill
        self._aug = self._pad = None  # the training pipeline and its PadIfNeeded (whose fill follows norm)
        self.norm = norm or Normalisation([0.5] * (1 if color == "grey" else 3), [0.25] * (1 if color == "grey" else 3))
        self.size_mismatch = size_mismatch
        self.crop_size, self.eval_size = crop_size, eval_size
        self.samples = self._index(layout, split_file, image_dir, mask_dir, mask_suffix)
        if train:
            self._aug, self._pad = _build_augmentation(
                crop_size,
                base_size,
                scale_range,
                flip,
                target_crop_prob,
                blur_prob,
                seed,
                pad_position,
                flip_after_crop,
            )
            self.norm = self._norm  # sets the padding value of pad_fill='mean'
        self._seed = seed

    @property
    def norm(self) -> Normalisation:
        """The normalisation of the inputs; setting it also sets the training padding of ``pad_fill='mean'``."""
        return self._norm

    @norm.setter
    def norm(self, value: Normalisation) -> None:
        self._norm = value
        if self._pad is not None and self.pad_fill == "mean":
            # the same float32 product Normalisation.apply subtracts, so padded pixels normalise to exactly 0
            fill = (np.asarray(value.mean, dtype=np.float32) * 255.0).tolist()
            self._pad.fill = fill[0] if len(fill) == 1 else tuple(fill)

    # ------------------------------------------------------------------ indexing
    def _index(self, layout: str, split_file: str | None, image_dir: str, mask_dir: str, suffix: str) -> list[dict]:
        images = _index_folder(self.root / image_dir)
        masks = _index_folder(self.root / mask_dir)
        suffixes = _AUTO_SUFFIXES if suffix == "auto" else (suffix,)

        def mask_of(stem: str) -> Path | None:
            for s in suffixes:
                if stem + s in masks:
                    return masks[stem + s]
            return None

        if split_file is not None:
            list_path = Path(split_file) if Path(split_file).is_absolute() else self.root / split_file
            if not list_path.is_file():
                raise DataError(f"split list {list_path} (data.split_files) does not exist")
        else:
            list_path = find_split_file(self.root, self.split, layout)
        if list_path is None:  # folder layout: every image, and every mask must have its image
            ids = sorted(images)  # never empty: list_images refuses an empty folder
            orphans = [path for m, path in masks.items() if _strip_suffix(m, suffixes) not in images]
            if orphans:
                raise DataError(f"mask {orphans[0]} has no image in {self.root / image_dir}")
        else:
            ids = read_split(list_path)
        self.list_file = list_path
        samples = []
        for stem in ids:
            if stem not in images:
                where = f"split list {list_path}" if list_path else str(self.root / image_dir)
                raise DataError(
                    f"{where}: entry {stem!r} has no image {stem}.<png|bmp|jpg|tif> in {self.root / image_dir}"
                )
            mask = mask_of(stem)
            if mask is None:
                tried = ", ".join(f"{stem}{s}.png" for s in suffixes)
                raise DataError(f"image {images[stem]} has no mask in {self.root / mask_dir} (looked for {tried})")
            img_hw, mask_hw = _image_size(images[stem], "image"), _image_size(mask, "mask")
            if img_hw != mask_hw:
                action = {"resize": "resizing the mask (nearest neighbour)", "skip": "skipping the sample"}
                if self.size_mismatch == "error":
                    raise DataError(
                        f"mask {mask} is {mask_hw[1]}x{mask_hw[0]} but image {images[stem]} is {img_hw[1]}x{img_hw[0]}"
                    )
                warnings.warn(
                    f"mask {mask} is {mask_hw[1]}x{mask_hw[0]} but image {images[stem]} is {img_hw[1]}x{img_hw[0]}: "
                    f"{action[self.size_mismatch]} (data.size_mismatch={self.size_mismatch!r})",
                    stacklevel=2,
                )
                if self.size_mismatch == "skip":
                    continue
            samples.append({"name": stem, "image": images[stem], "mask": mask, "size": img_hw})
        if not samples:
            raise DataError(f"split {self.split!r} ({list_path or self.root}) has no usable sample")
        return samples

    # ------------------------------------------------------------------ items
    def __len__(self) -> int:
        return len(self.samples)

    def read(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Image (H, W, C) float32 in [0, 255] and mask (H, W) uint8 0/1 of sample ``i``, sizes matched."""
        s = self.samples[i]
        img, mask = load_image(s["image"], self.color), load_mask(s["mask"])
        if mask.shape != img.shape[:2]:
            mask = np.asarray(Image.fromarray(mask).resize((img.shape[1], img.shape[0]), Image.NEAREST))
        return img, mask

    def __getitem__(self, i: int) -> dict[str, Any]:
        img, mask = self.read(i)
        if self.train:
            self._reseed()
            out = self._aug(image=img, mask=mask)
            img, mask = out["image"], out["mask"]
        elif self.eval_size is not None:
            size = (self.eval_size, self.eval_size)
            img = _resize_bilinear(img, size)
            mask = np.asarray(Image.fromarray(mask).resize(size, Image.NEAREST))
        x = torch.from_numpy(self.norm.apply(img).transpose(2, 0, 1).copy())  # (C, H, W)
        y = torch.from_numpy(mask[None].astype(np.float32))  # (1, H, W)
        item: dict[str, Any] = {"input": x, "target": y}
        if not self.train:
            item["meta"] = {"name": self.samples[i]["name"], "size": tuple(mask.shape)}
        return item

    def _reseed(self) -> None:
        # one seed per sample from torch's generator: reproducible under torch.manual_seed, different in
        # every DataLoader worker and epoch, and restored with the Trainer's RNG state on resume
        reseed(self._aug, (int(torch.randint(0, 2**31 - 1, ())) + self._seed) % 2**32)  # each transform its own


def _resize_bilinear(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, C) float -> (size[1], size[0], C) with PIL's bilinear filter, as DNANet / ACM resize."""
    chans = [
        np.asarray(Image.fromarray(np.ascontiguousarray(img[..., c], dtype=np.float32)).resize(size, Image.BILINEAR))
        for c in range(img.shape[2])
    ]
    return np.stack(chans, axis=2)


_PAD_POSITIONS = {"center": "center", "bottom_right": "top_left"}  # ours -> albumentations' (where the image stays)


def _build_augmentation(crop, base, scale_range, flip, target_prob, blur_prob, seed, pad_position, flip_after_crop):
    """The seeded training pipeline, and its PadIfNeeded (SIRSTDataset sets its fill for ``pad_fill='mean'``)."""
    import albumentations as A

    ops: list = []
    flips = [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5), A.Transpose(p=0.5)] if flip else []
    if not flip_after_crop:
        ops += flips
    if scale_range is not None:
        lo, hi = int(round(base * scale_range[0])), int(round(base * scale_range[1]))
        ops.append(A.SmallestMaxSize(max_size=list(range(lo, hi + 1)), p=1.0))  # mask: nearest
    pad = A.PadIfNeeded(crop, crop, position=_PAD_POSITIONS[pad_position], border_mode=0, fill=0, fill_mask=0)
    ops.append(pad)
    if target_prob >= 1:
        ops.append(A.CropNonEmptyMaskIfExists(crop, crop))
    elif target_prob <= 0:
        ops.append(A.RandomCrop(crop, crop))
    else:
        ops.append(
            A.OneOf(
                [A.CropNonEmptyMaskIfExists(crop, crop, p=target_prob), A.RandomCrop(crop, crop, p=1 - target_prob)],
                p=1.0,
            )
        )
    if flip_after_crop:
        ops += flips
    if blur_prob > 0:
        ops.append(A.GaussianBlur(blur_limit=(3, 5), sigma_limit=(0.1, 1.0), p=blur_prob))  # image only
    return reseed(A.Compose(ops), seed), pad


# --------------------------------------------------------------------------- evaluation batches
def collate_eval(items: list[dict]) -> dict[str, Any]:
    """Stack evaluation items of different sizes: pad to the largest (zeros, bottom / right) and keep
    the original sizes in ``meta['sizes']`` so that predictions can be cropped back."""
    size = (max(it["input"].shape[1] for it in items), max(it["input"].shape[2] for it in items))
    return {
        "input": torch.stack([pad_to(it["input"], size) for it in items]),  # (B, C, H, W)
        "target": torch.stack([pad_to(it["target"], size) for it in items]),  # (B, 1, H, W)
        "meta": {"names": [it["meta"]["name"] for it in items], "sizes": [it["meta"]["size"] for it in items]},
    }


def protocol_name(eval_size: int | None, pad_multiple: int = 32) -> str:
    """One line describing the evaluation protocol, printed with every metrics table."""
    if eval_size is None:
        return f"original resolution (zero-pad to a multiple of {pad_multiple}, crop back)"
    who = {256: " as DNANet", 512: " as ACM"}.get(int(eval_size), "")
    return f"resized to {eval_size}x{eval_size} (image bilinear, mask nearest){who}"
