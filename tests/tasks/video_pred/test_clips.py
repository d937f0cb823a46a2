"""Custom clip datasets: array and folder sources, splits, windows, training statistics,
augmentation identical across frames, and one clear DataError per kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tasks.video_pred.clips import ClipDataset
from toolkit.errors import ConfigError, DataError
from toolkit.registry import DATASETS


def _clips(n=10, t=8, h=16, w=16, c=None, seed=0) -> np.ndarray:
    shape = (n, t, h, w) if c is None else (n, t, c, h, w)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _write_folder(root, clips: np.ndarray) -> None:
    # clips (N, T, H, W) or (N, T, H, W, 3) uint8 -> root/clip_i/frame_j.png
    for i, clip in enumerate(clips):
        d = root / f"clip_{i}"
        d.mkdir(parents=True)
        for j, frame in enumerate(clip):
            Image.fromarray(frame).save(d / f"frame_{j}.png")


def _build(split, path, **kw):
    kw.setdefault("input_frames", 3)
    kw.setdefault("output_frames", 2)
    return DATASETS.build(dict(type="clips", path=str(path), **kw), split=split)


def test_npy_items_splits_and_training_stats(tmp_path):
    arr = _clips()
    np.save(tmp_path / "c.npy", arr)
    train = _build("train", tmp_path / "c.npy")
    val = _build("val", tmp_path / "c.npy", stats=train.stats)
    test = _build("test", tmp_path / "c.npy", stats=train.stats)
    assert (len(train), len(val), len(test)) == (8, 1, 1)
    assert sorted(train.clip_ids + val.clip_ids + test.clip_ids) == list(range(10))
    item = train[0]
    assert item["input"].shape == (3, 1, 16, 16) and item["target"].shape == (2, 1, 16, 16)
    assert item["input"].dtype == torch.float32
    raw = arr[train.clip_ids].astype(np.float64) / 255  # every frame of the training clips
    assert train.stats["mean"] == pytest.approx([raw.mean()], rel=1e-6)
    assert train.stats["std"] == pytest.approx([raw.std()], rel=1e-6)
    # the val split is normalised with the training statistics, not its own
    i = val.clip_ids[0]
    item = val[0]
    x = torch.cat([item["input"], item["target"]]).numpy()[:, 0]  # (5, H, W)
    expected = (arr[i, :5] / 255 - train.stats["mean"][0]) / train.stats["std"][0]
    np.testing.assert_allclose(x, expected, rtol=1e-5, atol=1e-5)


def test_same_seed_same_split_other_seed_other_split(tmp_path):
    np.save(tmp_path / "c.npy", _clips(n=20))
    a = _build("val", tmp_path / "c.npy", seed=1).clip_ids
    assert _build("val", tmp_path / "c.npy", seed=1).clip_ids == a
    assert _build("val", tmp_path / "c.npy", seed=2).clip_ids != a


def test_split_ranges_stride_windows_and_no_normalisation(tmp_path):
    arr = _clips(n=6, t=12)
    np.save(tmp_path / "c.npy", arr)
    ds = _build(
        "val",
        tmp_path / "c.npy",
        input_frames=2,
        output_frames=2,
        split_ranges=dict(train=(0, 4), val=(4, 6)),
        stride=4,
        normalise=False,
    )
    assert ds.clip_ids == [4, 5] and ds.stats is None
    assert len(ds) == 2 * 3  # windows start at 0, 4, 8 of 12 frames
    np.testing.assert_allclose(ds[1]["input"].numpy()[:, 0], arr[4, 4:6] / 255, atol=1e-6)
    with pytest.raises(DataError, match="test split has no clips"):
        _build("test", tmp_path / "c.npy", split_ranges=dict(train=(0, 4), val=(4, 6)))


def test_npz_channels_last_rgb_and_key(tmp_path):
    arr = _clips(n=5, t=6, c=3).transpose(0, 1, 3, 4, 2)  # (N, T, H, W, 3)
    np.savez(tmp_path / "c.npz", clips=arr, labels=np.arange(5))
    with pytest.raises(DataError, match="set data.key"):
        _build("train", tmp_path / "c.npz")
    ds = _build("train", tmp_path / "c.npz", key="clips", channels=3, split_ratios=None, normalise=False)
    assert ds.channels == 3 and ds[0]["input"].shape == (3, 3, 16, 16)
    np.testing.assert_allclose(ds[0]["input"][0].numpy(), arr[0, 0].transpose(2, 0, 1) / 255, atol=1e-6)
    assert len(ds.stats or {}) == 0 and len(_build("train", tmp_path / "c.npz", key="clips").stats["mean"]) == 3


def test_folder_of_clip_folders(tmp_path):
    arr = _clips(n=4, t=6, h=12, w=10)
    _write_folder(tmp_path / "clips", arr)
    ds = _build("train", tmp_path / "clips", split_ratios=None, normalise=False)
    assert len(ds) == 4 and ds.channels == 1
    np.testing.assert_allclose(ds[2]["target"].numpy()[:, 0], arr[2, 3:5] / 255, atol=1e-6)
    resized = _build("train", tmp_path / "clips", split_ratios=None, image_size=(8, 8))
    assert resized[0]["input"].shape == (3, 1, 8, 8)


def test_augmentation_is_identical_on_every_frame(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.random((2, 1, 1, 24, 24)).astype(np.float32)
    arr = base + 0.05 * np.arange(6, dtype=np.float32)[None, :, None, None, None]  # frame t = base + 0.05 t
    np.save(tmp_path / "c.npy", arr)
    ds = _build(
        "train", tmp_path / "c.npy", split_ratios=None, normalise=False, augment=dict(scale=(1.1, 1.3), hflip=0.5)
    )
    changed = 0
    torch.manual_seed(0)
    for _ in range(6):
        item = ds[0]
        clip = torch.cat([item["input"], item["target"]]).numpy()  # (5, 1, 24, 24)
        assert clip.shape == (5, 1, 24, 24)
        # linear interpolation, crops and flips keep frame t - frame 0 = 0.05 t everywhere
        offsets = clip - clip[:1]
        np.testing.assert_allclose(offsets, 0.05 * np.arange(5)[:, None, None, None] * np.ones_like(clip), atol=1e-5)
        changed += not np.allclose(clip[0], base[0, 0], atol=1e-3)
    assert changed >= 5  # an up-scale of at least 1.1 always moves pixels
    val = _build("val", tmp_path / "c.npy", split_ratios=None, normalise=False, augment=True)
    np.testing.assert_allclose(val[0]["input"].numpy()[0], base[0, 0], atol=1e-6)  # no augmentation off train
    torch.manual_seed(3)
    a = ds[1]["input"]
    torch.manual_seed(3)
    torch.testing.assert_close(ds[1]["input"], a)  # reproducible under the run's seed
    with pytest.raises(ConfigError, match="unknown key"):
        _build("train", tmp_path / "c.npy", augment=dict(rotate=10))


# ---------------------------------------------------------------------- bad input
def test_short_clips_name_the_file_and_expected_shape(tmp_path):
    np.save(tmp_path / "short.npy", _clips(t=4))
    with pytest.raises(
        DataError, match=r"short\.npy.*shorter than input_frames \+ output_frames = 5.*\(T>=5, 1, 16, 16\)"
    ):
        _build("train", tmp_path / "short.npy")
    _write_folder(tmp_path / "f", _clips(n=2, t=4))
    with pytest.raises(DataError, match=r"clip_0: 4 frames, but a clip needs at least 5"):
        _build("train", tmp_path / "f")


def test_channel_mismatch(tmp_path):
    np.save(tmp_path / "gray.npy", _clips())
    with pytest.raises(DataError, match=r"gray\.npy: clips have 1 channels but data.channels=3.*\(N, T, 3, H, W\)"):
        _build("train", tmp_path / "gray.npy", channels=3)
    arr = _clips(n=2, t=6)
    _write_folder(tmp_path / "f", arr)
    rgb = np.repeat(arr[1, 2][..., None], 3, axis=-1)
    Image.fromarray(rgb).save(tmp_path / "f" / "clip_1" / "frame_2.png")
    with pytest.raises(DataError, match=r"clip_1/frame_2\.png: a 3-channel image .* data.channels=1"):
        _build("train", tmp_path / "f", channels=1)
    np.save(tmp_path / "rgb.npy", _clips(c=3))
    train = _build("train", tmp_path / "rgb.npy")
    with pytest.raises(DataError, match="stats have 1 channels"):
        _build("val", tmp_path / "rgb.npy", stats=dict(mean=[0.5], std=[0.2]))
    assert len(train.stats["mean"]) == 3


def test_nan_values_name_the_file_and_clip(tmp_path):
    arr = np.random.default_rng(0).random((10, 6, 8, 8)).astype(np.float32)
    arr[7, 3, 2, 2] = np.nan
    np.save(tmp_path / "nan.npy", arr)
    split = dict(split_ranges=dict(train=(0, 5), val=(5, 10)))
    with pytest.raises(DataError, match=r"nan\.npy \(clip 7\): NaN or infinite values \(first in frame 3\)"):
        _build("val", tmp_path / "nan.npy", **split)


def test_mismatched_frame_sizes_in_a_clip_folder(tmp_path):
    _write_folder(tmp_path / "f", _clips(n=2, t=6))
    Image.fromarray(np.zeros((20, 16), np.uint8)).save(tmp_path / "f" / "clip_0" / "frame_4.png")
    with pytest.raises(DataError, match=r"clip_0/frame_4\.png: frame of 20x16 but frame_0\.png .* \(1, 16, 16\)"):
        _build("train", tmp_path / "f")


def test_missing_or_unknown_sources(tmp_path):
    with pytest.raises(DataError, match="not found"):
        _build("train", tmp_path / "nope.npy")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="expected a folder of clip folders"):
        _build("train", tmp_path / "empty")
    np.save(tmp_path / "flat.npy", np.zeros((4, 8, 8)))
    with pytest.raises(DataError, match=r"expected clips of shape \(N, T, H, W\) or \(N, T, C, H, W\)"):
        _build("train", tmp_path / "flat.npy")
    with pytest.raises(ConfigError, match="data.path is required"):
        ClipDataset("train", input_frames=2, output_frames=2, path=None)
