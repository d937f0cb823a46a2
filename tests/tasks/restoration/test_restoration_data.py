"""Restoration datasets: pairing, aligned crops, the embedded default, and one clear error per bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from tasks.restoration.data import (
    EMBEDDED_SPLIT_ROW,
    RestorationDataset,
    augment_d4,
    pair_files,
    paired_random_crop,
    read_image,
)
from toolkit.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parents[3]


def _write(path, img):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = img[..., ::-1] if img.ndim == 3 else img  # RGB -> BGR for OpenCV
    assert cv2.imwrite(str(path), np.ascontiguousarray(arr))


def _rgb(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_pairing_styles(tmp_path):
    for name in ("baby", "bird"):
        _write(tmp_path / "gt" / f"{name}.png", _rgb(16, 16))
        _write(tmp_path / "lq" / f"{name}x4.png", _rgb(4, 4))
    pairs = pair_files(tmp_path / "lq", tmp_path / "gt")
    assert [(a.name, b.name) for a, b in pairs] == [("babyx4.png", "baby.png"), ("birdx4.png", "bird.png")]
    # Set14 layout: both in one folder
    _write(tmp_path / "s14" / "img_001_SRF_4_HR.png", _rgb(16, 16))
    _write(tmp_path / "s14" / "img_001_SRF_4_LR.png", _rgb(4, 4))
    pairs = pair_files(tmp_path / "s14", tmp_path / "s14")
    assert [(a.name, b.name) for a, b in pairs] == [("img_001_SRF_4_LR.png", "img_001_SRF_4_HR.png")]


def test_unpaired_names_are_listed(tmp_path):
    _write(tmp_path / "gt" / "a.png", _rgb(8, 8))
    _write(tmp_path / "gt" / "b.png", _rgb(8, 8))
    _write(tmp_path / "lq" / "a.png", _rgb(8, 8))
    _write(tmp_path / "lq" / "c.png", _rgb(8, 8))
    with pytest.raises(DataError, match=r"without ground truth: c\.png.*without input: b\.png"):
        pair_files(tmp_path / "lq", tmp_path / "gt")


def test_size_mismatch_names_both_files(tmp_path):
    _write(tmp_path / "gt" / "a.png", _rgb(20, 16))
    _write(tmp_path / "lq" / "a.png", _rgb(4, 4))
    ds = RestorationDataset(split="val", gt=str(tmp_path / "gt"), lq=str(tmp_path / "lq"), scale=4)
    with pytest.raises(DataError, match=r"lq/a\.png is 4x4 px.*gt/a\.png should be 16x16"):
        ds[0]


def test_gt_is_cropped_to_lr_times_scale(tmp_path):
    _write(tmp_path / "gt" / "a.png", _rgb(19, 18))  # 3 and 2 extra rows/columns at scale 4
    _write(tmp_path / "lq" / "a.png", _rgb(4, 4))
    item = RestorationDataset(split="val", gt=str(tmp_path / "gt"), lq=str(tmp_path / "lq"), scale=4)[0]
    assert item["input"].shape == (3, 4, 4) and item["target"].shape == (3, 16, 16)
    assert item["meta"] == "a"


def test_grey_16bit_and_unreadable_files(tmp_path):
    _write(tmp_path / "grey.png", np.full((6, 7), 9, np.uint8))
    with pytest.warns(UserWarning, match=r"grey\.png is a grey image; converted to RGB"):
        img = read_image(tmp_path / "grey.png")
    assert img.shape == (6, 7, 3) and (img == 9).all()
    cv2.imwrite(str(tmp_path / "deep.png"), np.full((6, 7, 3), 4000, np.uint16))
    with pytest.raises(DataError, match=r"deep\.png is a 16-bit uint16 image"):
        read_image(tmp_path / "deep.png")
    (tmp_path / "junk.png").write_text("not an image")
    with pytest.raises(DataError, match=r"cannot read image file .*junk\.png"):
        read_image(tmp_path / "junk.png")


def test_image_smaller_than_crop_is_named(tmp_path):
    _write(tmp_path / "gt" / "small.png", _rgb(20, 20))
    ds = RestorationDataset(split="train", gt=str(tmp_path / "gt"), scale=2, patch_size=16)
    with pytest.raises(DataError, match=r"small: input of 10x10 px is smaller than the training crop of 16x16"):
        ds[0]


def test_crops_and_augmentation_stay_aligned():
    rng = np.random.default_rng(0)
    lq = rng.random((12, 10, 3)).astype(np.float32)
    gt = np.repeat(np.repeat(lq, 3, axis=0), 3, axis=1)  # nearest x3 up-sampling of the input
    for k in range(8):
        a, b = paired_random_crop(lq, gt, 5, 3, rng)
        a, b = augment_d4([a, b], k)
        assert b.shape == (15, 15, 3)
        np.testing.assert_array_equal(np.repeat(np.repeat(a, 3, axis=0), 3, axis=1), b)
    # the 8 group elements are distinct
    x = np.arange(9, dtype=np.float32).reshape(3, 3, 1)
    assert len({augment_d4([x], k)[0].tobytes() for k in range(8)}) == 8


def test_paired_training_crops_match(tmp_path):
    lq = _rgb(12, 14, 1)
    gt = np.repeat(np.repeat(lq, 2, axis=0), 2, axis=1)
    _write(tmp_path / "gt" / "p.png", gt)
    _write(tmp_path / "lq" / "p.png", lq)
    ds = RestorationDataset(
        split="train", gt=str(tmp_path / "gt"), lq=str(tmp_path / "lq"), scale=2, patch_size=6, repeat=3
    )
    assert len(ds) == 3
    item = ds[1]
    up = item["input"].repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)
    assert torch.equal(up, item["target"])


def test_embedded_default_splits_and_determinism():
    train = RestorationDataset(split="train", scale=4, patch_size=16, repeat=2)
    test = RestorationDataset(split="test", scale=4, noise=dict(sigma=[5, 30]))
    assert len(train) == 4 and len(test) == 2
    item = train[0]
    assert item["input"].shape == (3, 16, 16) and item["target"].shape == (3, 64, 64)
    a, b = test[0], test[0]
    assert torch.equal(a["input"], b["input"])  # evaluation noise is seeded per image
    assert a["target"].shape == (3, 427 - EMBEDDED_SPLIT_ROW, 640) and a["input"].shape == (3, 32, 160)
    assert {test[0]["meta"], test[1]["meta"]} == {"china", "flower"}
    with pytest.raises(DataError, match="need a degradation"):
        RestorationDataset(split="val", scale=1)


def test_set5_pairs(shared_dir):
    root = shared_dir / "data" / "restoration" / "Set5"
    if not root.is_dir():
        pytest.skip("Set5 is not present")
    ds = RestorationDataset(split="test", gt=str(root / "HR"), lq=str(root / "LR_bicubic" / "X4"), scale=4)
    assert len(ds) == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        item = ds[4]  # woman: 344 x 228, LR 86 x 57
    assert item["meta"] == "woman" and item["target"].shape == (3, 344, 228) and item["input"].shape == (3, 86, 57)


def _data_cfg(**changes):
    from toolkit.config import load_config, merge

    base = load_config(ROOT / "configs" / "_base_" / "datasets" / "restoration.py")
    return merge(base.data, changes)


def test_the_data_config_builds_every_split(tmp_path):
    import tasks.restoration  # noqa: F401  (registers the dataset)
    from toolkit.registry import DATASETS

    for name in ("a", "b"):
        _write(tmp_path / "gt" / f"{name}.png", _rgb(32, 32))
    data = _data_cfg(scale=2, patch_size=8, repeat=3, val=dict(gt=str(tmp_path / "gt"), lq=None))
    train, val, test = (DATASETS.build(data, split=s) for s in ("train", "val", "test"))
    # patch_size and repeat shape the training split only; test=None reads val's folders
    assert (len(train), train.patch_size, train.images is not None) == (6, 8, True)
    assert (len(val), val.patch_size, val.repeat) == (2, None, 1)
    assert [p.name for p in test.items] == ["a.png", "b.png"] and test.split == "test"
    assert test[0]["target"].shape == (3, 32, 32)
    with pytest.raises(ConfigError, match=r"data.val: unknown key\(s\) \['hq'\]"):
        DATASETS.build(_data_cfg(scale=2, val=dict(hq="x")), split="val")
