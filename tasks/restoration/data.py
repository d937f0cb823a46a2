"""Restoration datasets: paired folders, clean folders degraded on the fly, and an embedded default.

Sources, per split (``data.<split>.gt`` / ``data.<split>.lq`` in the config):

- ``gt`` and ``lq`` folders: pairs matched by file name, either the same stem (``lq/0001.png`` and
  ``gt/0001.png``) or a degradation suffix on the input side (``babyx4.png`` / ``baby_x4.png`` /
  ``img_001_LR.png`` against ``baby.png`` / ``img_001_HR.png``). Both may be one folder holding
  ``*_LR`` and ``*_HR`` files (Set14's layout). For super-resolution the ground truth is cropped to
  the low-resolution size times the scale; a larger mismatch is an error naming both files.
- ``gt`` only: clean images degraded on the fly by :class:`~tasks.restoration.degrade.Degradation`.
- neither: the two photographs shipped with scikit-learn (``china.jpg``, ``flower.jpg``, 427x640),
  degraded on the fly; training crops come from their top 299 rows, validation and test use the
  bottom 128 rows (trees and roofs, petals: both detailed), so no evaluated pixel is seen in training.

Training (``patch_size`` set) returns random aligned crops: an LR patch of ``patch_size`` and the
GT patch ``scale`` times larger at the same place, with one of the 8 flips/rotations applied to
both. Evaluation returns whole images; on-the-fly degradations are seeded per image.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from tasks.restoration.degrade import Degradation
from toolkit.data import IMAGE_EXTENSIONS, list_images, read_image
from toolkit.data.batch_augment import build_batch_augment
from toolkit.errors import ConfigError, DataError
from toolkit.registry import DATASETS

__all__ = [
    "IMAGE_EXTENSIONS",
    "read_image",
    "list_images",
    "pair_files",
    "embedded_images",
    "paired_random_crop",
    "augment_d4",
    "RestorationDataset",
    "restoration_dataset",
]

EMBEDDED_SPLIT_ROW = 299  # training uses rows [0, 299) of the scikit-learn photos, evaluation rows [299, 427)

_LQ_SUFFIX = r"(?:[_-]?x\d|[_-](?:lr|lq|lrbicx\d))$"
_GT_SUFFIX = r"(?:[_-](?:hr|gt))$"

# ``read_image(path)`` is toolkit.data.read_image in its default mode 'rgb8': uint8 (H, W, 3) RGB from
# 8-bit files only, grey repeated and alpha dropped with a warning naming the file.


def _key(path: Path, suffix: str) -> str:
    return re.sub(suffix, "", path.stem, flags=re.IGNORECASE)


def pair_files(lq_dir: str | Path, gt_dir: str | Path) -> list[tuple[Path, Path]]:
    """Match input and ground-truth files by name; unpaired files raise :class:`DataError` naming them."""
    lq_files, gt_files = list_images(lq_dir), list_images(gt_dir)
    if Path(lq_dir).resolve() == Path(gt_dir).resolve():  # one folder of *_LR and *_HR files
        lq_files = [p for p in lq_files if re.search(_LQ_SUFFIX, p.stem, re.IGNORECASE)]
        gt_files = [p for p in gt_files if re.search(_GT_SUFFIX, p.stem, re.IGNORECASE)]
    gt_by_key: dict[str, Path] = {}
    for p in gt_files:
        gt_by_key.setdefault(_key(p, _GT_SUFFIX), p)
    pairs, unmatched = [], []
    for p in lq_files:
        gt = gt_by_key.pop(p.stem, None) or gt_by_key.pop(_key(p, _LQ_SUFFIX), None)
        if gt is None:
            unmatched.append(p.name)
        else:
            pairs.append((p, gt))
    if unmatched or gt_by_key:
        parts = []
        if unmatched:
            parts.append(f"inputs in {lq_dir} without ground truth: {', '.join(unmatched[:5])}")
        if gt_by_key:
            names = sorted(p.name for p in gt_by_key.values())
            parts.append(f"ground truths in {gt_dir} without input: {', '.join(names[:5])}")
        raise DataError("unpaired restoration files: " + "; ".join(parts))
    return pairs


@functools.lru_cache(maxsize=1)
def embedded_images() -> tuple[tuple[str, np.ndarray], ...]:
    """The two photographs shipped with scikit-learn, as ``(name, uint8 (427, 640, 3) RGB)``."""
    from sklearn.datasets import load_sample_images

    data = load_sample_images()
    return tuple((Path(f).stem, np.asarray(img, dtype=np.uint8)) for f, img in zip(data.filenames, data.images))


def paired_random_crop(
    lq: np.ndarray, gt: np.ndarray, patch: int, scale: int, rng: np.random.Generator, name: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """Crop an LR patch of ``patch`` px and the GT patch ``scale`` times larger at the same place."""
    h, w = lq.shape[:2]
    if h < patch or w < patch:
        raise DataError(f"{name}: input of {h}x{w} px is smaller than the training crop of {patch}x{patch} px")
    top, left = int(rng.integers(0, h - patch + 1)), int(rng.integers(0, w - patch + 1))
    lq = lq[top : top + patch, left : left + patch]
    gt = gt[top * scale : (top + patch) * scale, left * scale : (left + patch) * scale]
    return lq, gt


def augment_d4(arrays: list[np.ndarray], k: int) -> list[np.ndarray]:
    """Apply the same element ``k`` (0..7) of the flip/rotation group to every (H, W, C) array."""
    out = []
    for a in arrays:
        a = np.rot90(a, k % 4, axes=(0, 1))
        if k >= 4:
            a = a[:, ::-1]
        out.append(np.ascontiguousarray(a))
    return out


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32).transpose(2, 0, 1))  # (C, H, W)


class RestorationDataset(Dataset):
    """Input/target pairs for restoration, from folders or the embedded photographs.

    Args:
        split: ``'train'`` (random crops, augmentation) or ``'val'`` / ``'test'`` (whole images).
        gt: folder of clean images (``None`` with ``lq`` also ``None``: the embedded photographs).
        lq: folder of degraded inputs paired with ``gt`` (``None``: degrade ``gt`` on the fly).
        scale: super-resolution factor (1 for same-size restoration).
        blur, noise, jpeg: on-the-fly degradations (see :class:`Degradation`).
        patch_size: LR training crop size; ``None`` returns whole images (evaluation).
        repeat: training samples drawn per image and epoch.
        augment: random flips and 90-degree rotations of training crops.
        seed: base seed of the per-image evaluation degradations.

    Items: ``{'input': (3, h, w), 'target': (3, h*scale, w*scale), 'meta': name}``, float32 in [0, 1]
    (the input may leave [0, 1] when noise is added).
    """

    def __init__(
        self,
        split: str = "train",
        gt: str | None = None,
        lq: str | None = None,
        scale: int = 1,
        blur: Any = None,
        noise: Any = None,
        jpeg: Any = None,
        patch_size: int | None = None,
        repeat: int = 1,
        augment: bool = True,
        seed: int = 0,
    ):
        self.split = split
        self.scale = int(scale)
        self.degrade = Degradation(scale, blur, noise, jpeg)
        self.patch_size = patch_size
        self.repeat = max(1, int(repeat)) if patch_size else 1
        self.augment = augment
        self.seed = seed
        self.paired = lq is not None
        self.images: list[tuple[str, np.ndarray]] | None = None
        if lq is not None and gt is None:
            raise DataError(f"data.{split}.lq is set ({lq}) but data.{split}.gt is not; give the ground-truth folder")
        if gt is None:
            cut = EMBEDDED_SPLIT_ROW
            regions = [(n, img[:cut] if split == "train" else img[cut:]) for n, img in embedded_images()]
            self.images = [(n, np.ascontiguousarray(r)) for n, r in regions]
            self.items: list[Any] = list(range(len(self.images)))
        elif lq is not None:
            self.items = pair_files(lq, gt)
        else:
            self.items = list_images(gt)
        if self.degrade.is_identity and not self.paired:
            raise DataError(
                f"data.{split}: clean images without an lq folder need a degradation "
                "(data.scale > 1, data.blur, data.noise or data.jpeg)"
            )

    def __len__(self) -> int:
        return len(self.items) * self.repeat

    # ------------------------------------------------------------------ loading
    def _load(self, i: int) -> tuple[str, np.ndarray, np.ndarray | None]:
        """Name, uint8 ground truth and uint8 input (``None`` when degraded on the fly)."""
        item = self.items[i]
        if self.images is not None:
            name, gt = self.images[item]
            return name, gt, None
        if not self.paired:
            return item.stem, read_image(item, "rgb8"), None
        lq_path, gt_path = item
        lq, gt = read_image(lq_path, "rgb8"), read_image(gt_path, "rgb8")
        s = self.scale
        (h, w), (gh, gw) = lq.shape[:2], gt.shape[:2]
        if not (h * s <= gh < (h + 1) * s and w * s <= gw < (w + 1) * s):
            raise DataError(
                f"{lq_path} is {h}x{w} px, so its ground truth {gt_path} should be {h * s}x{w * s} px at scale {s} "
                f"(up to {s - 1} extra rows/columns are cropped), but it is {gh}x{gw}"
            )
        return gt_path.stem, gt[: h * s, : w * s], lq

    def _rng(self, index: int) -> np.random.Generator:
        if self.patch_size:
            # training: a fresh draw from torch's generator, which the DataLoader seeds per worker and epoch
            return np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))
        return np.random.default_rng([int(self.seed), index])  # evaluation: the same degradation every time

    def __getitem__(self, index: int) -> dict[str, Any]:
        i = index % len(self.items)
        rng = self._rng(i)
        name, gt_u8, lq_u8 = self._load(i)
        s, p = self.scale, self.patch_size
        if lq_u8 is None:  # degrade on the fly: crop the clean image first, then degrade the crop
            h, w = gt_u8.shape[0] // s * s, gt_u8.shape[1] // s * s  # mod-crop to the scale
            if h == 0 or w == 0:
                where = name if self.images is not None else self.items[i]
                raise DataError(
                    f"{where}: {gt_u8.shape[0]}x{gt_u8.shape[1]} px is smaller than data.scale={s}, "
                    "so no low-resolution pixel is left"
                )
            gt_u8 = gt_u8[:h, :w]
            if p:
                dummy = np.empty((h // s, w // s, 0), np.uint8)
                _, gt_u8 = paired_random_crop(dummy, gt_u8, p, s, rng, name)
            gt = gt_u8.astype(np.float32) / 255.0
            lq = self.degrade(gt, rng)
        else:
            if p:
                lq_u8, gt_u8 = paired_random_crop(lq_u8, gt_u8, p, s, rng, name)
            gt = gt_u8.astype(np.float32) / 255.0
            lq = lq_u8.astype(np.float32) / 255.0
        if p and self.augment:
            lq, gt = augment_d4([lq, gt], int(rng.integers(0, 8)))
        return {"input": _to_tensor(lq), "target": _to_tensor(gt), "meta": name}


@DATASETS.register("restoration")
def restoration_dataset(
    split: str,
    *,
    scale: int,
    blur: Any,
    noise: Any,
    jpeg: Any,
    patch_size: int | None,
    repeat: int,
    augment: bool,
    seed: int,
    train: dict | None,
    val: dict | None,
    test: dict | None,
    batch_aug: Any = None,
) -> RestorationDataset:
    """The ``split`` dataset of a whole ``data`` config (its keys: ``configs/_base_/datasets/restoration.py``).

    Each split reads its own ``dict(gt=FOLDER, lq=FOLDER)``; ``test=None`` reads ``val``'s folders. The training
    crop ``patch_size`` and ``repeat`` apply to the train split only: evaluation scores whole images once.
    ``batch_aug`` is checked here and applied to whole training batches by the Task (``RestorationTask.train_step``).
    """
    build_batch_augment(batch_aug, seed=seed)  # a bad spec fails wherever the data config is built
    if split not in ("train", "val", "test"):
        raise ConfigError(f"restoration data has the splits 'train', 'val' and 'test', not {split!r}")
    folders = dict({"train": train, "val": val, "test": val if test is None else test}[split] or {})
    unknown = set(folders) - {"gt", "lq"}
    if unknown:
        raise ConfigError(f"data.{split}: unknown key(s) {sorted(unknown)}; give dict(gt=FOLDER, lq=FOLDER or None)")
    is_train = split == "train"
    return RestorationDataset(
        split=split,
        gt=folders.get("gt"),
        lq=folders.get("lq"),
        scale=scale,
        blur=blur,
        noise=noise,
        jpeg=jpeg,
        patch_size=patch_size if is_train else None,
        repeat=repeat if is_train else 1,
        augment=augment,
        seed=seed,
    )
