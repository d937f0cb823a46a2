"""Stratified random and spatially disjoint splits, and the leakage fraction."""

from pathlib import Path

import numpy as np
import pytest

from tasks.hsi.data import read_array
from tasks.hsi.splits import disjoint_split, leakage_fraction, make_split, random_split
from tasks.hsi.synth import make_layout
from toolkit.errors import ConfigError, DataError

IP_GT = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "hsi" / "IndianPines" / "Indian_pines_gt.mat"


def _gt():
    gt = np.zeros((20, 30), np.int64)
    gt[:, :10], gt[:, 10:25] = 1, 2  # 200 and 300 pixels
    gt[:5, 25:] = 3  # 25 pixels
    return gt


def test_random_split_by_ratio_is_stratified_and_seeded():
    gt = _gt()
    s = random_split(gt, 3, train=0.1, val=0.05, seed=1)
    flat = gt.ravel()
    assert np.bincount(flat[s.train], minlength=4)[1:].tolist() == [20, 30, 2]  # round(0.1 n), 2.5 -> 2
    assert np.bincount(flat[s.val], minlength=4)[1:].tolist() == [10, 15, 1]  # at least one per class
    all_idx = np.concatenate([s.train, s.val, s.test])
    assert len(np.unique(all_idx)) == len(all_idx) == (gt > 0).sum()
    again = random_split(gt, 3, train=0.1, val=0.05, seed=1)
    assert np.array_equal(again.train, s.train)
    assert not np.array_equal(random_split(gt, 3, train=0.1, seed=2).train, s.train)


def test_random_split_by_count_and_too_small_classes():
    gt = _gt()
    s = random_split(gt, 3, train=10, val=5, seed=0)
    assert np.bincount(gt.ravel()[s.train], minlength=4)[1:].tolist() == [10, 10, 10]
    with pytest.raises(
        DataError, match=r"class 3 \(Oats\) has 25 labelled pixels but the split needs 20 train \+ 5 val"
    ):
        random_split(gt, 3, train=20, val=5, names=["a", "b", "Oats"])
    with pytest.raises(ConfigError, match="a ratio must lie in"):
        make_split(gt, 3, dict(type="random", train=1.5), window=5)
    with pytest.raises(ConfigError, match="unknown key"):
        make_split(gt, 3, dict(type="random", train=0.3, gaurd=2), window=5)


def test_leakage_fraction_by_hand():
    shape = (9, 9)
    train = np.array([4 * 9 + 4])  # the centre pixel
    test = np.array([3 * 9 + 3, 4 * 9 + 6, 0])  # Chebyshev distances 1, 2, 4
    assert leakage_fraction(shape, train, test, window=3) == pytest.approx(1 / 3)
    assert leakage_fraction(shape, train, test, window=5) == pytest.approx(2 / 3)
    assert leakage_fraction(shape, train, test, window=9) == 1.0


def _min_chebyshev(shape, a, b):
    ra, ca = np.divmod(a, shape[1])
    rb, cb = np.divmod(b, shape[1])
    return np.maximum(np.abs(ra[:, None] - rb[None]), np.abs(ca[:, None] - cb[None])).min()


@pytest.mark.parametrize("window", [5, 11])
def test_disjoint_split_has_a_guard_and_no_leakage(window):
    gt, _ = make_layout(48, 48, 5, np.random.default_rng(3))
    s = disjoint_split(gt, 5, train=0.3, val=0.1, window=window, seed=0)
    assert len(s.test) > 0.2 * (gt > 0).sum()
    assert leakage_fraction(gt.shape, s.train, s.test, window) == 0.0
    assert leakage_fraction(gt.shape, s.train, s.val, window) == 0.0
    assert _min_chebyshev(gt.shape, s.train, s.test) > window // 2
    assert len(set(s.train) | set(s.val) | set(s.test)) == len(s.train) + len(s.val) + len(s.test)
    assert 0.2 < len(s.train) / (gt > 0).sum() < 0.45
    assert s.info["dropped_by_guard"] > 0
    # val is a stratified share of what the guard leaves: every class left there, in test proportions
    flat = gt.ravel()
    val_counts, test_counts = np.bincount(flat[s.val], minlength=6)[1:], np.bincount(flat[s.test], minlength=6)[1:]
    assert np.all((val_counts > 0) == (test_counts > 0))
    share = val_counts / (val_counts + test_counts).clip(min=1)
    assert np.all(np.abs(share[test_counts > 10] - share[test_counts > 10].mean()) < 0.05)
    # the random split of the same layout leaks almost entirely
    r = random_split(gt, 5, train=0.3, seed=0)
    assert leakage_fraction(gt.shape, r.train, r.test, window) > 0.95
    with pytest.raises(ConfigError, match="ratios"):
        disjoint_split(gt, 5, train=30, window=window)


def test_indian_pines_layout_random_vs_disjoint():
    if not IP_GT.exists():
        pytest.skip("real label map ../shared/data/hsi/IndianPines not present")
    gt, key = read_array(IP_GT, kind="gt")
    assert key == "indian_pines_gt" and gt.shape == (145, 145)
    counts = np.bincount(gt.ravel(), minlength=17)
    assert counts[1:].sum() == 10249 and counts[1] == 46 and counts[11] == 2455 and counts[9] == 20
    gt = gt.astype(np.int64)
    r = random_split(gt, 16, train=0.3, seed=0)
    assert len(r.train) == sum(max(1, round(0.3 * n)) for n in counts[1:])
    leak = leakage_fraction(gt.shape, r.train, r.test, 25)
    assert leak > 0.999  # essentially every test pixel lies inside some training patch
    d = disjoint_split(gt, 16, train=0.3, val=0.1, window=25, seed=0)
    assert leakage_fraction(gt.shape, d.train, d.test, 25) == 0.0
    assert len(d.test) > 3000
