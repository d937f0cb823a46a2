"""SIRST data: generated scenes, split layouts, image modes, masks, augmentation, protocols, bad input."""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from tasks.sirst.data import (
    Normalisation,
    SIRSTDataset,
    collate_eval,
    compute_normalisation,
    load_image,
    load_mask,
    read_split,
)
from tasks.sirst.synth import generate_dataset
from toolkit.errors import DataError


def _digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def _make(root, images: dict[str, np.ndarray], masks: dict[str, np.ndarray], split: list[str] | None = None):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for k, v in images.items():
        Image.fromarray(v).save(root / "images" / f"{k}.png")
    for k, v in masks.items():
        Image.fromarray(v).save(root / "masks" / f"{k}.png")
    if split is not None:
        (root / "50_50").mkdir()
        for name in ("train", "test"):
            (root / "50_50" / f"{name}.txt").write_text("\n".join(split) + "\n")
    return root


# --------------------------------------------------------------------------- generated scenes
def test_generation_is_deterministic_by_seed(tmp_path):
    a = _digest(generate_dataset(tmp_path / "a", num_train=3, num_test=2, seed=7))
    b = _digest(generate_dataset(tmp_path / "b", num_train=3, num_test=2, seed=7))
    c = _digest(generate_dataset(tmp_path / "c", num_train=3, num_test=2, seed=8))
    assert a == b
    assert {k: v for k, v in a.items() if k.endswith(".png")} != {k: v for k, v in c.items() if k.endswith(".png")}


def test_generated_scenes_have_small_targets(synth_root):
    ds = SIRSTDataset(synth_root, "train")
    areas = []
    for i in range(len(ds)):
        _, mask = ds.read(i)
        labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
        areas += np.bincount(labels.ravel())[1:].tolist()
    assert len(areas) >= len(ds)  # about 2.5 targets per image on average
    assert 1 <= min(areas) and max(areas) <= 80


def test_all_split_layouts_read_the_same_ids(synth_root):
    raw = (synth_root / "50_50" / "train.txt").read_bytes()
    assert b"\r\n" in raw  # the generated 50_50 lists use CRLF, img_idx uses LF
    ids = {}
    for layout in ("50_50", "img_idx", "idx_427", "auto"):
        train = SIRSTDataset(synth_root, "train", layout=layout)
        test = SIRSTDataset(synth_root, "test", layout=layout)
        ids[layout] = ([s["name"] for s in train.samples], [s["name"] for s in test.samples])
    assert len(ids["50_50"][0]) == 16 and len(ids["50_50"][1]) == 6
    assert all(v == ids["50_50"] for v in ids.values())
    assert "trainval" in str(SIRSTDataset(synth_root, "train", layout="idx_427").list_file)
    assert all("\r" not in n for n in read_split(synth_root / "50_50" / "train.txt"))


def test_image_modes_and_masks(tmp_path):
    grey = (np.arange(12 * 10) % 256).astype(np.uint8).reshape(12, 10)
    Image.fromarray(grey).save(tmp_path / "l.png")
    Image.fromarray(np.repeat(grey[..., None], 3, 2)).save(tmp_path / "rgb.png")
    Image.fromarray(np.dstack([grey, grey, grey, np.full_like(grey, 255)])).save(tmp_path / "rgba.png")
    pal = Image.frombytes("P", (10, 12), grey.tobytes())
    pal.putpalette([v for g in range(256) for v in (g, g, g)])
    pal.save(tmp_path / "p.png")
    Image.fromarray(grey.astype(np.uint16) * 40 + 1000).save(tmp_path / "i16.png")
    for name in ("l", "rgb", "rgba", "p"):
        assert np.array_equal(load_image(tmp_path / f"{name}.png", "grey")[..., 0], grey), name
        rgb = load_image(tmp_path / f"{name}.png", "rgb")
        assert rgb.shape == (12, 10, 3) and np.array_equal(rgb[..., 2], grey), name
    stretched = load_image(tmp_path / "i16.png", "grey")[..., 0]
    assert stretched.min() == 0 and stretched.max() == 255  # 16-bit: linear stretch, no clipping
    np.testing.assert_allclose(
        stretched, (grey.astype(float) - grey.min()) * 255 / (grey.max() - grey.min()), atol=1e-3
    )

    Image.fromarray(np.array([[0, 127, 128, 255]], np.uint8)).save(tmp_path / "m255.png")
    Image.fromarray(np.array([[0, 1, 1, 0]], np.uint8)).save(tmp_path / "m01.png")
    assert load_mask(tmp_path / "m255.png").tolist() == [[0, 0, 1, 1]]
    assert load_mask(tmp_path / "m01.png").tolist() == [[0, 1, 1, 0]]


# --------------------------------------------------------------------------- mismatched mask sizes
@pytest.mark.parametrize("policy", ["resize", "skip", "error"])
def test_mask_size_mismatch_policies(tmp_path, policy):
    img = np.zeros((10, 12), np.uint8)
    big = np.zeros((20, 24), np.uint8)
    big[4:8, 6:10] = 255
    root = _make(
        tmp_path / "d", {"a": img, "b": img}, {"a_pixels0": np.zeros((10, 12), np.uint8), "b_pixels0": big}, ["a", "b"]
    )
    if policy == "error":
        with pytest.raises(DataError, match="b_pixels0.png"):
            SIRSTDataset(root, "test", size_mismatch=policy)
        return
    with pytest.warns(UserWarning, match="b_pixels0.png is 24x20 but image .*b.png is 12x10"):
        ds = SIRSTDataset(root, "test", size_mismatch=policy)
    if policy == "skip":
        assert [s["name"] for s in ds.samples] == ["a"]
    else:
        _, mask = ds.read(1)
        assert mask.shape == (10, 12) and mask[2:4, 3:5].all() and mask.sum() == 4


# --------------------------------------------------------------------------- bad input
def test_bad_input_messages_name_the_file(tmp_path):
    img = np.zeros((8, 8), np.uint8)
    with pytest.raises(DataError, match="does not exist"):
        SIRSTDataset(tmp_path / "nowhere", "train")
    root = _make(tmp_path / "no_mask", {"a": img, "b": img}, {"a": img}, ["a", "b"])
    with pytest.raises(DataError, match=r"b\.png has no mask .*looked for b\.png, b_pixels0\.png"):
        SIRSTDataset(root, "train")
    root = _make(tmp_path / "orphan", {"a": img}, {"a": img, "z_pixels0": img})
    with pytest.raises(DataError, match=r"z_pixels0\.png has no image"):
        SIRSTDataset(root, "train", layout="folder")
    root = _make(tmp_path / "missing", {"a": img}, {"a": img}, ["a", "ghost"])
    with pytest.raises(DataError, match=r"train\.txt: entry 'ghost' has no image"):
        SIRSTDataset(root, "train")
    root = _make(tmp_path / "empty", {"a": img}, {"a": img}, [])
    with pytest.raises(DataError, match=r"split list .*test\.txt is empty"):
        SIRSTDataset(root, "test")
    root = _make(tmp_path / "broken", {"a": img}, {"a": img}, ["a"])
    (root / "images" / "a.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"cannot read image .*a\.png"):
        SIRSTDataset(root, "train")
    root = _make(tmp_path / "nolists", {"a": img}, {"a": img})
    with pytest.raises(DataError, match="no split folder"):
        SIRSTDataset(root, "train")


# --------------------------------------------------------------------------- items
def _blob_dataset(tmp_path):
    images, masks = {}, {}
    rng = np.random.default_rng(0)
    for i in range(3):
        m = np.zeros((70, 90), np.uint8)
        for _ in range(3):
            r, c = rng.integers(5, 60), rng.integers(5, 80)
            m[r : r + 3, c : c + 4] = 1
        images[f"x{i}"] = (m * 200 + 20).astype(np.uint8)  # the mask can be read back from the image
        masks[f"x{i}"] = m * 255
    return _make(tmp_path / "blobs", images, masks, list(images))


def test_augmentation_moves_image_and_mask_together(tmp_path):
    root = _blob_dataset(tmp_path)
    norm = Normalisation([0.5], [0.25])
    kw = dict(train=True, norm=norm, crop_size=48, base_size=70, target_crop_prob=1.0, seed=1)
    exact = SIRSTDataset(root, "train", scale_range=None, **kw)  # flips, transpose, pad, crop: exact
    scaled = SIRSTDataset(root, "train", scale_range=(0.5, 2.0), **kw)  # image bilinear, mask nearest
    torch.manual_seed(0)
    for i in range(12):
        for ds in (exact, scaled):
            item = ds[i % 3]
            x, y = item["input"], item["target"]
            assert x.shape == (1, 48, 48) and y.shape == (1, 48, 48)
            assert set(torch.unique(y).tolist()) <= {0.0, 1.0}
            assert y.sum() > 0  # crops are centred on targets
            raw = (x * 0.25 + 0.5) * 255  # undo the normalisation: targets are 220, background 20
            if ds is exact:
                assert torch.equal(raw > 110, y > 0.5)
            else:  # bright where the mask is, background away from it
                near = ndimage.binary_dilation(y[0].numpy() > 0.5, iterations=2)
                assert raw[y > 0.5].mean() > 90
                # a 3x4 target scaled by 0.5 can fall between the mask's nearest-neighbour samples (as in
                # DNANet's reference resize) while the bilinear image keeps it: rare bright pixels allowed
                assert (raw[0][~torch.from_numpy(near)] > 110).float().mean() < 0.01
    torch.manual_seed(5)
    first = scaled[0]["input"]
    torch.manual_seed(5)
    assert torch.equal(first, scaled[0]["input"])  # reproducible from the torch seed
    assert not torch.equal(first, scaled[0]["input"])  # and a new draw for the next sample


def test_padding_fill_position_and_flip_order(tmp_path):
    """A 70 x 90 image in a 96 crop: 'mean' pads with exactly 0 after normalisation, 'zero' with black;
    'bottom_right' keeps the image at the top left; flips after the crop move the padding too."""
    root = _blob_dataset(tmp_path)
    norm = Normalisation([0.3], [0.2])
    black = (0.0 - np.float32(0.3) * 255) / (np.float32(0.2) * 255)
    raw = np.asarray(Image.open(root / "images" / "x0.png"), np.float32)
    want = torch.from_numpy(norm.apply(raw[..., None])[..., 0])
    kw = dict(train=True, crop_size=96, scale_range=None, seed=3)
    for fill, value in (("mean", 0.0), ("zero", black)):
        ds = SIRSTDataset(root, "train", flip=False, norm=norm, pad_fill=fill, pad_position="bottom_right", **kw)
        x = ds[0]["input"][0]
        assert torch.equal(x[:70, :90], want)  # the image stays at the top left, untouched
        assert torch.all(x[70:] == value) and torch.all(x[:, 90:] == value)
    centred = SIRSTDataset(root, "train", flip=False, norm=norm, pad_fill="mean", **kw)[0]["input"][0]
    assert torch.equal(centred[13:83, 3:93], want) and torch.all(centred[:13] == 0)

    # sirst_dataset sets the normalisation after building the split: the padding value follows it
    late = SIRSTDataset(root, "train", flip=False, pad_fill="mean", pad_position="bottom_right", **kw)
    late.norm = norm
    assert torch.all(late[0]["input"][0, 70:] == 0)

    # flipped before padding, the padding stays bottom and right; flipped after the crop it moves
    corners = {False: set(), True: set()}
    for after in (False, True):
        ds = SIRSTDataset(
            root, "train", norm=norm, pad_fill="mean", pad_position="bottom_right", flip_after_crop=after, **kw
        )
        torch.manual_seed(0)
        for _ in range(24):
            x = ds[0]["input"][0]
            corners[after].add((bool(torch.all(x[0] == 0)), bool(torch.all(x[:, 0] == 0))))
    assert corners[False] == {(False, False)} and (True, True) in corners[True]


@pytest.mark.parametrize(
    "kw, key",
    [
        ({"pad_fill": "grey"}, "data.pad_fill"),
        ({"pad_position": "top"}, "data.pad_position"),
        ({"flip": False, "flip_after_crop": True}, "data.flip_after_crop"),
    ],
)
def test_padding_options_are_checked(tmp_path, kw, key):
    with pytest.raises(DataError, match=key):
        SIRSTDataset(_blob_dataset(tmp_path), "train", train=True, **kw)


def test_eval_protocols_and_collate(tmp_path):
    root = _blob_dataset(tmp_path)
    ds = SIRSTDataset(root, "test")
    item = ds[0]
    assert item["input"].shape == (1, 70, 90) and item["meta"] == {"name": "x0", "size": (70, 90)}
    resized = SIRSTDataset(root, "test", eval_size=256)[0]
    assert resized["input"].shape == (1, 256, 256) and resized["target"].shape == (1, 256, 256)
    assert set(torch.unique(resized["target"]).tolist()) == {0.0, 1.0}
    small = dict(
        item, input=item["input"][:, :50, :60], target=item["target"][:, :50, :60], meta={"name": "s", "size": (50, 60)}
    )
    batch = collate_eval([small, item])
    assert batch["input"].shape == (2, 1, 70, 90) and batch["meta"]["sizes"] == [(50, 60), (70, 90)]
    assert batch["target"][0, :, 50:].sum() == 0 and torch.equal(batch["input"][0, :, :50, :60], small["input"])


def test_normalisation_statistics(synth_root):
    ds = SIRSTDataset(synth_root, "train")
    stats = compute_normalisation([s["image"] for s in ds.samples], "grey")
    pixels = np.concatenate([load_image(s["image"], "grey").ravel() / 255.0 for s in ds.samples])
    assert stats.mean[0] == pytest.approx(pixels.mean(), rel=1e-9)
    assert stats.std[0] == pytest.approx(pixels.std(), rel=1e-6)


def test_normalisation_refuses_non_finite_pixels_naming_the_image(tmp_path, monkeypatch):
    # read_image refuses NaN in float files; any other reader that lets one through must not make the mean NaN
    import tasks.sirst.data as sirst_data

    images = [tmp_path / "a.png", tmp_path / "b.png"]
    monkeypatch.setattr(sirst_data, "load_image", lambda p, c: np.full((4, 4, 1), np.nan if p.name == "b.png" else 9.0))
    with pytest.raises(DataError, match=rf"{images[1]}: NaN or infinite pixel values"):
        compute_normalisation(images, "grey")


# --------------------------------------------------------------------------- real data
def test_nuaa_sirst_counts_through_the_loader(nuaa_root):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        test = SIRSTDataset(nuaa_root, "test", layout="50_50")
    assert any("Misc_111_pixels0.png" in str(w.message) for w in caught)
    targets = pixels = 0
    for i in range(len(test)):
        img, mask = test.read(i)
        assert img.shape[:2] == mask.shape
        targets += ndimage.label(mask, structure=np.ones((3, 3)))[1]
        pixels += mask.size
    assert (len(test), targets, pixels) == (214, 263, 14_577_078)
    assert len(SIRSTDataset(nuaa_root, "train", layout="img_idx")) == 213
    assert len(SIRSTDataset(nuaa_root, "test", layout="idx_427")) == 86
    modes = {Image.open(s["image"]).mode for s in test.samples}
    assert len(modes) > 1  # the split mixes image modes, all read as one grey channel
