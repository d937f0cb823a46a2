"""Train / val / test splits of a labelled map, and how much the test set leaks into training patches.

Random stratified splits (a ratio or a count of pixels per class, seeded) are the protocol of most
papers (HybridSN: 30 % of Indian Pines for training). With S x S patches, a test pixel that lies
within S // 2 pixels (Chebyshev distance) of a training pixel is seen, as context, while training;
with random splits on Indian Pines at 30 % essentially every test pixel is. The spatially disjoint
split takes whole blocks of the scene for training, drops the pixels that lie inside any training
patch (the guard margin), and splits what is left into val and test, so the leakage fraction is zero.
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
    """A value in [0, 1) is a ratio of each class; a whole number >= 1 is a count of pixels per class.

    (Whole floats count too: ``--set data.split.train=30`` arrives as 30.0 when the default is a ratio.)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"data.split.{name} must be a ratio in [0, 1) or a count per class, got {value!r}")
    if value >= 1:
        if float(value) != int(value):
            raise ConfigError(f"data.split.{name}={value}: a ratio must lie in [0, 1), a count must be a whole number")
        return "count", int(value)
    return "ratio", float(value)


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
    regions: int = 1,
    seed: int = 0,
    names=None,
    max_candidates: int = 128,
) -> Split:
    """Spatially disjoint split: a few compact training regions, a guard margin, then val and test.

    The scene is cut into square blocks of ``block_size`` pixels (default ``max(4, window // 2)``)
    ordered in a boustrophedon (row by row, or column by column), so that a run of consecutive
    blocks is a compact region. Training takes ``regions`` such runs, each holding ``train / regions``
    of the labelled pixels: one region loses the fewest pixels to the guard, more regions reach more
    classes. Val and test pixels within ``guard`` pixels (Chebyshev distance; default ``window // 2``,
    so none lies inside a training patch) of a training pixel are dropped; val is a stratified random
    ``val`` share (of all labelled pixels) drawn from what is left, test everything else.

    Each region is the best of up to ``max_candidates`` seeded random runs: most classes in both
    train and test, then most test pixels. Classes left without training or test pixels are reported
    in ``info``: on a real layout a class living in a single field cannot be both trained and tested
    without leakage.
    """
    mode_t, ratio_t = _amount(train, "train")
    mode_v, ratio_v = _amount(val, "val")
    if mode_t == "count" or mode_v == "count":
        raise ConfigError("data.split: the disjoint split takes ratios (e.g. train=0.3), not counts per class")
    if ratio_t <= 0 or not isinstance(regions, int) or regions < 1:
        raise ConfigError(f"data.split needs train > 0 and regions >= 1, got train={train}, regions={regions}")
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
    orders = [_serpentine(n_rows, n_cols, by_columns) for by_columns in (False, True)]
    rng = np.random.default_rng(seed)

    def runs(taken: np.ndarray, amount: float, weights: np.ndarray):
        """(order, start, stop) of block runs avoiding ``taken`` whose ``weights`` sum to ``amount``."""
        found = []
        for order in orders:
            cum = np.cumsum(weights[order])
            blocked = np.cumsum(taken[order])
            for start in range(len(order)):
                before = cum[start - 1] if start else 0
                stop = int(np.searchsorted(cum, before + amount)) + 1
                clash = blocked[min(stop, len(order)) - 1] - (blocked[start - 1] if start else 0)
                if stop <= len(order) and cum[stop - 1] > before and clash == 0:
                    found.append((order, start, stop))
        return found

    taken = np.zeros(n_rows * n_cols, dtype=bool)
    in_train, rest, last = np.zeros_like(lab), lab.copy(), None
    for _ in range(regions):
        options = runs(taken, ratio_t * total / regions, per_block)
        best_key = None
        for i in rng.permutation(len(options))[:max_candidates]:
            order, start, stop = options[i]
            trial = in_train | (np.isin(block_id, order[start:stop]) & lab)
            left = lab & ~coverage_mask((h, w), np.flatnonzero(trial), 2 * guard + 1).ravel()
            has_train = np.bincount(flat[trial] - 1, minlength=num_classes) > 0
            has_test = np.bincount(flat[left] - 1, minlength=num_classes) > 0
            key = (int((has_train & has_test).sum()), int(left.sum()))
            if best_key is None or key > best_key:
                best_key, best = key, (options[i], trial, left)
        if best_key is None:
            break  # no room for another region
        last, in_train, rest = best
        taken[last[0][last[1] : last[2]]] = True
    if last is None:
        raise DataError(f"the scene has {total} labelled pixels, too few for a disjoint split with train={train}")

    # val: a stratified random share of every class outside the training regions and their guard, so
    # that checkpoint selection sees the classes in test proportions. Val and test may share context;
    # neither lies inside a training patch.
    in_val = np.zeros_like(lab)
    if ratio_v > 0:
        vrng = np.random.default_rng([seed, 1])
        share = ratio_v * total / max(int(rest.sum()), 1)  # of each class's remaining pixels
        for c in range(num_classes):
            idx = np.flatnonzero(rest & (flat == c + 1))
            n_val = min(max(1, round(share * len(idx))), len(idx) - 1)
            if n_val > 0:
                in_val[vrng.choice(idx, n_val, replace=False)] = True
    train_idx, val_idx, test_idx = np.flatnonzero(in_train), np.flatnonzero(in_val), np.flatnonzero(rest & ~in_val)
    if len(test_idx) == 0:
        raise DataError(
            f"the disjoint split left no test pixels (window {window}, guard {guard}); lower data.split.train "
            f"or data.window, or use a larger scene"
        )

    def missing(idx):
        have = np.bincount(flat[idx] - 1, minlength=num_classes) > 0
        return [int(c) + 1 for c in np.flatnonzero(present & ~have)]

    info = dict(type="disjoint", train=train, val=val, seed=seed, block_size=block, guard=guard, regions=regions)
    info.update(dropped_by_guard=int((lab & ~in_train & ~rest).sum()))
    info.update(classes_without_train=missing(train_idx), classes_without_test=missing(test_idx))
    if names:
        for key in ("classes_without_train", "classes_without_test"):
            info[key] = [f"{c} ({names[c - 1]})" for c in info[key]]
    return Split(train_idx, val_idx, test_idx, info)


def make_split(gt: np.ndarray, num_classes: int, spec: dict, window: int, names=None) -> Split:
    """Build the split described by the config dict ``data.split`` (``type`` 'random' or 'disjoint').

    Keys of the disjoint split (``block_size``, ``guard``, ``regions``) are ignored by the random split,
    so that ``--set data.split.type=random`` switches a disjoint config to the paper protocol.
    """
    spec = dict(spec)
    kind = spec.pop("type", "disjoint")
    common, spatial = {"train", "val", "seed"}, {"block_size", "guard", "regions"}
    if kind not in ("random", "disjoint"):
        raise ConfigError(f"data.split.type must be 'random' or 'disjoint', got {kind!r}")
    unknown = set(spec) - common - spatial
    if unknown:
        raise ConfigError(f"data.split: unknown key(s) {sorted(unknown)}; allowed: {sorted(common | spatial)}")
    if kind == "random":
        return random_split(gt, num_classes, names=names, **{k: v for k, v in spec.items() if k in common})
    return disjoint_split(gt, num_classes, window=window, names=names, **spec)
