"""Train / val / test splits of a labelled map, and how much the test set leaks into training patches.

Random stratified splits (a ratio or a count of pixels per class, seeded) are the protocol of most
papers (HybridSN: 30 % of Indian Pines for training). With S x S patches, a test pixel that lies
within S // 2 pixels (Chebyshev distance) of a training pixel is seen, as context, while training;
with random splits on Indian Pines at 30 % essentially every test pixel is. The spatially disjoint
split assigns whole blocks of the scene to train, val or test and then drops the val / test pixels
that lie inside any training patch (the guard margin), so the leakage fraction is zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from toolkit.errors import ConfigError, DataError

__all__ = ["Split", "random_split", "disjoint_split", "make_split", "leakage_fraction", "coverage_mask"]


@dataclass
class Split:
    """Flat pixel indices (row * W + col) of each subset, and a description of how they were drawn."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    info: dict = field(default_factory=dict)

    def subset(self, name: str) -> np.ndarray:
        return {"train": self.train, "val": self.val, "test": self.test}[name]


def _amount(value: float | int, name: str) -> tuple[str, float]:
    """A float in [0, 1) is a ratio of each class, an int >= 0 a count per class."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"data.split.{name} must be a ratio in [0, 1) or a count per class, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"data.split.{name} must be >= 0, got {value}")
        return "count", value
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"data.split.{name}={value}: a ratio must lie in [0, 1) (give an int for a count per class)")
    return "ratio", value


def _class_pixels(gt: np.ndarray, num_classes: int) -> list[np.ndarray]:
    flat = gt.ravel()
    return [np.flatnonzero(flat == c + 1) for c in range(num_classes)]


def random_split(
    gt: np.ndarray, num_classes: int, train: float | int = 0.3, val: float | int = 0.0, seed: int = 0, names=None
) -> Split:
    """Stratified random split: per class, ``train`` / ``val`` pixels by ratio or count, the rest test.

    A ratio gives each class ``max(1, round(ratio * n))`` pixels (at least one when the ratio is > 0).
    """
    rng = np.random.default_rng(seed)
    modes = [_amount(train, "train"), _amount(val, "val")]
    parts: list[list[np.ndarray]] = [[], [], []]
    for c, idx in enumerate(_class_pixels(gt, num_classes)):
        n = len(idx)
        if n == 0:
            continue
        want = [int(v) if m == "count" else (max(1, round(v * n)) if v > 0 else 0) for m, v in modes]
        if want[0] + want[1] + 1 > n:
            name = names[c] if names else f"class {c + 1}"
            raise DataError(
                f"class {c + 1} ({name}) has {n} labelled pixels but the split needs {want[0]} train + "
                f"{want[1]} val + at least 1 test; lower data.split.train / data.split.val"
            )
        perm = rng.permutation(idx)
        parts[0].append(perm[: want[0]])
        parts[1].append(perm[want[0] : want[0] + want[1]])
        parts[2].append(perm[want[0] + want[1] :])
    train_idx, val_idx, test_idx = (np.sort(np.concatenate(p)) if p else np.zeros(0, np.int64) for p in parts)
    return Split(train_idx, val_idx, test_idx, {"type": "random", "train": train, "val": val, "seed": seed})


def coverage_mask(shape: tuple[int, int], pixels: np.ndarray, window: int) -> np.ndarray:
    """Boolean (H, W) map of the pixels inside the S x S window of at least one of ``pixels``."""
    mask = np.zeros(shape, dtype=bool)
    mask.ravel()[pixels] = True
    return ndimage.maximum_filter(mask, size=window, mode="constant", cval=False)


def leakage_fraction(shape: tuple[int, int], train: np.ndarray, test: np.ndarray, window: int) -> float:
    """Fraction of ``test`` pixels that lie inside the S x S patch of at least one ``train`` pixel."""
    if len(test) == 0:
        return float("nan")
    return float(coverage_mask(shape, train, window).ravel()[test].mean())


def _take_blocks(counts: np.ndarray, free: np.ndarray, target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Greedy stratified choice of blocks: rarest class first, random blocks until its target is met."""
    chosen = np.zeros(len(counts), dtype=bool)
    got = np.zeros(counts.shape[1], dtype=np.int64)
    for c in np.argsort(counts[free].sum(0), kind="stable"):
        candidates = rng.permutation(np.flatnonzero(free & ~chosen & (counts[:, c] > 0)))
        for b in candidates:
            if got[c] >= target[c]:
                break
            chosen[b] = True
            got += counts[b]
    return chosen


def disjoint_split(
    gt: np.ndarray,
    num_classes: int,
    train: float | int = 0.3,
    val: float | int = 0.0,
    window: int = 25,
    block_size: int | None = None,
    guard: int | None = None,
    seed: int = 0,
    names=None,
) -> Split:
    """Spatially disjoint split: blocks of the scene go to train, val or test, then a guard margin.

    Blocks of ``block_size`` pixels (default: the window) are chosen for training greedily, rarest
    class first, until each class reaches its ratio or count; val blocks are chosen the same way from
    the rest; remaining blocks are test. Val and test pixels within ``guard`` pixels (Chebyshev
    distance; default ``window // 2``, so none lies inside a training patch) of a training pixel are
    dropped. Class sizes are met only approximately; ``info`` reports the result, including classes
    left without training or test pixels.
    """
    h, w = gt.shape
    block = int(block_size or window)
    guard = window // 2 if guard is None else int(guard)
    if block < 1 or guard < 0:
        raise ConfigError(f"data.split.block_size must be >= 1 and guard >= 0, got {block}, {guard}")
    rng = np.random.default_rng(seed)
    rows, cols = np.divmod(np.arange(h * w), w)
    block_id = (rows // block) * (-(-w // block)) + cols // block  # (H*W,) block of every pixel
    n_blocks = int(block_id.max()) + 1
    flat = gt.ravel()
    lab = flat > 0
    counts = np.zeros((n_blocks, num_classes), dtype=np.int64)
    np.add.at(counts, (block_id[lab], flat[lab] - 1), 1)  # (blocks, K)
    totals = counts.sum(0)

    def target(value, name):
        mode, v = _amount(value, name)
        return np.full(num_classes, v) if mode == "count" else np.ceil(v * totals)

    free = counts.sum(1) > 0
    in_train = _take_blocks(counts, free, target(train, "train"), rng)
    in_val = _take_blocks(counts, free & ~in_train, target(val, "val"), rng) if val else np.zeros_like(in_train)

    assign = np.where(in_train, 0, np.where(in_val, 1, 2))[block_id]  # (H*W,) 0 train / 1 val / 2 test
    train_idx = np.flatnonzero(lab & (assign == 0))
    near = coverage_mask((h, w), train_idx, 2 * guard + 1).ravel()
    val_idx = np.flatnonzero(lab & (assign == 1) & ~near)
    test_idx = np.flatnonzero(lab & (assign == 2) & ~near)
    dropped = int((lab & (assign > 0) & near).sum())

    def present(idx):
        return np.bincount(flat[idx] - 1, minlength=num_classes) if len(idx) else np.zeros(num_classes, np.int64)

    no_train = [c + 1 for c in range(num_classes) if totals[c] and not present(train_idx)[c]]
    no_test = [c + 1 for c in range(num_classes) if totals[c] and not present(test_idx)[c]]
    if len(train_idx) == 0 or len(test_idx) == 0:
        raise DataError(
            f"the disjoint split left {len(train_idx)} training and {len(test_idx)} test pixels; use a smaller "
            f"data.split.block_size (now {block}) or a larger scene"
        )
    info = dict(type="disjoint", train=train, val=val, seed=seed, block_size=block, guard=guard)
    info.update(dropped_by_guard=dropped, classes_without_train=no_train, classes_without_test=no_test)
    if names:
        info["classes_without_train"] = [f"{c} ({names[c - 1]})" for c in no_train]
        info["classes_without_test"] = [f"{c} ({names[c - 1]})" for c in no_test]
    return Split(train_idx, val_idx, test_idx, info)


def make_split(gt: np.ndarray, num_classes: int, spec: dict, window: int, names=None) -> Split:
    """Build the split described by the config dict ``data.split`` (``type`` 'random' or 'disjoint')."""
    spec = dict(spec)
    kind = spec.pop("type", "disjoint")
    allowed = {"random": {"train", "val", "seed"}, "disjoint": {"train", "val", "seed", "block_size", "guard"}}
    if kind not in allowed:
        raise ConfigError(f"data.split.type must be 'random' or 'disjoint', got {kind!r}")
    unknown = set(spec) - allowed[kind]
    if unknown:
        raise ConfigError(f"data.split: unknown key(s) {sorted(unknown)} for type {kind!r}; allowed: {sorted(allowed[kind])}")
    if kind == "random":
        return random_split(gt, num_classes, names=names, **spec)
    return disjoint_split(gt, num_classes, window=window, names=names, **spec)
