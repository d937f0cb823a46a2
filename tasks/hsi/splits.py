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


def _serpentine(n_rows: int, n_cols: int, by_columns: bool) -> np.ndarray:
    """Block ids in boustrophedon order, so that every run of consecutive blocks is spatially compact."""
    grid = np.arange(n_rows * n_cols).reshape(n_rows, n_cols)
    if by_columns:
        grid = grid.T
    grid = grid.copy()
    grid[1::2] = grid[1::2, ::-1]
    return grid.ravel()


def disjoint_split(
    gt: np.ndarray,
    num_classes: int,
    train: float = 0.3,
    val: float = 0.0,
    window: int = 25,
    block_size: int | None = None,
    guard: int | None = None,
    seed: int = 0,
    names=None,
    max_candidates: int = 64,
) -> Split:
    """Spatially disjoint split: one compact training region, a guard margin, then val and test.

    The scene is cut into square blocks of ``block_size`` pixels (default ``max(4, window // 2)``)
    ordered in a boustrophedon (row by row, or column by column). The training set is a run of
    consecutive blocks holding a ``train`` fraction of the labelled pixels: a compact region, whose
    guard band costs the least. Val and test pixels within ``guard`` pixels (Chebyshev distance;
    default ``window // 2``, so none lies inside a training patch) of a training pixel are dropped;
    val is the run of blocks that follows the training run, test everything else.

    Among up to ``max_candidates`` runs (both orientations, seeded random starts) the one that keeps
    the most classes in both train and test, then the most test pixels, is used. Classes left without
    training or test pixels are reported in ``info``: on a real layout a class living in a single
    field cannot be both trained and tested without leakage.
    """
    mode_t, ratio_t = _amount(train, "train")
    mode_v, ratio_v = _amount(val, "val")
    if mode_t == "count" or mode_v == "count":
        raise ConfigError("data.split: the disjoint split takes ratios (e.g. train=0.3), not counts per class")
    if ratio_t <= 0:
        raise ConfigError("data.split.train must be > 0")
    h, w = gt.shape
    block = int(block_size or max(4, window // 2))
    guard = window // 2 if guard is None else int(guard)
    if block < 1 or guard < 0:
        raise ConfigError(f"data.split.block_size must be >= 1 and guard >= 0, got {block}, {guard}")
    n_rows, n_cols = -(-h // block), -(-w // block)
    rows, cols = np.divmod(np.arange(h * w), w)
    block_id = (rows // block) * n_cols + cols // block  # (H*W,) block of every pixel
    flat = gt.ravel()
    lab = flat > 0
    total = int(lab.sum())
    per_block = np.bincount(block_id[lab], minlength=n_rows * n_cols)
    present = np.bincount(flat[lab] - 1, minlength=num_classes) > 0

    rng = np.random.default_rng(seed)
    candidates = []
    for by_columns in (False, True):
        order = _serpentine(n_rows, n_cols, by_columns)
        cum = np.cumsum(per_block[order])
        for start in range(len(order)):
            before = cum[start - 1] if start else 0
            stop = int(np.searchsorted(cum, before + ratio_t * total)) + 1
            if stop <= len(order) and cum[stop - 1] - before > 0:
                candidates.append((order, start, stop))
    if not candidates:
        raise DataError(f"the scene has {total} labelled pixels, too few for a disjoint split with train={train}")
    picks = rng.permutation(len(candidates))[:max_candidates]

    best, best_key = None, None
    for i in picks:
        order, start, stop = candidates[i]
        in_train = np.isin(block_id, order[start:stop]) & lab
        near = coverage_mask((h, w), np.flatnonzero(in_train), 2 * guard + 1).ravel()
        rest = lab & ~near
        has_train = np.bincount(flat[in_train] - 1, minlength=num_classes) > 0
        has_test = np.bincount(flat[rest] - 1, minlength=num_classes) > 0
        key = (int((has_train & has_test).sum()), int(rest.sum()))
        if best_key is None or key > best_key:
            best, best_key = (order, start, stop, in_train, rest), key
    order, start, stop, in_train, rest = best

    # val: the blocks after the training run, until they hold a `val` fraction of the labelled pixels
    in_val = np.zeros_like(lab)
    if ratio_v > 0:
        after = np.concatenate([order[stop:], order[:start][::-1]])
        usable = np.bincount(block_id[rest], minlength=n_rows * n_cols)[after]
        n_val = int(np.searchsorted(np.cumsum(usable), ratio_v * total)) + 1
        in_val = np.isin(block_id, after[:n_val]) & rest
    train_idx = np.flatnonzero(in_train)
    val_idx = np.flatnonzero(in_val)
    test_idx = np.flatnonzero(rest & ~in_val)
    if len(test_idx) == 0:
        raise DataError(
            f"the disjoint split left no test pixels (window {window}, guard {guard}); lower data.split.train "
            f"or data.window, or use a larger scene"
        )

    def missing(idx):
        have = np.bincount(flat[idx] - 1, minlength=num_classes) > 0
        return [int(c) + 1 for c in np.flatnonzero(present & ~have)]

    info = dict(type="disjoint", train=train, val=val, seed=seed, block_size=block, guard=guard)
    info.update(dropped_by_guard=int((lab & ~in_train & ~rest).sum()))
    info.update(classes_without_train=missing(train_idx), classes_without_test=missing(test_idx))
    if names:
        for key in ("classes_without_train", "classes_without_test"):
            info[key] = [f"{c} ({names[c - 1]})" for c in info[key]]
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
