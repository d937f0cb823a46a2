"""Moving MNIST generation and MNIST idx reading (real digits from ../shared/data/mnist when present)."""

import gzip
import struct

import numpy as np
import pytest
import torch

from tasks.video_pred.data import MovingMNIST, load_digits, read_idx_images
from toolkit.errors import DataError


def write_idx(path, images):
    n, r, c = images.shape
    data = struct.pack(">IIII", 0x00000803, n, r, c) + images.astype(np.uint8).tobytes()
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def test_idx_round_trip_and_bad_files(tmp_path):
    imgs = np.arange(2 * 28 * 28, dtype=np.uint32).reshape(2, 28, 28) % 256
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", imgs)
    np.testing.assert_array_equal(read_idx_images(tmp_path / "train-images-idx3-ubyte.gz"), imgs)
    (tmp_path / "short").write_bytes(b"\x00\x00\x08\x03")
    with pytest.raises(DataError, match="too short for an idx3 header"):
        read_idx_images(tmp_path / "short")
    raw = gzip.decompress((tmp_path / "train-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "trunc").write_bytes(raw[:-10])
    with pytest.raises(DataError, match=r"header says 2 images of 28x28 .* but the file has"):
        read_idx_images(tmp_path / "trunc")
    (tmp_path / "labels").write_bytes(struct.pack(">II", 0x00000801, 2) + b"\x01\x02" + b"\x00" * 8)
    with pytest.raises(DataError, match="not an idx3 image file"):
        read_idx_images(tmp_path / "labels")
    (tmp_path / "broken.gz").write_bytes(gzip.compress(raw)[:40])
    with pytest.raises(DataError, match="corrupt or truncated"):
        read_idx_images(tmp_path / "broken.gz")
    with pytest.raises(DataError, match="folder not found"):
        load_digits(str(tmp_path / "missing"), "train")


def test_clips_are_bouncing_max_composites_and_reproducible():
    ds = MovingMNIST("train", input_frames=10, output_frames=10, num_clips=8, seed=3)
    item = ds[5]
    assert item["input"].shape == (10, 1, 64, 64) and item["target"].shape == (10, 1, 64, 64)
    assert 0.0 <= item["input"].min() and item["input"].max() <= 1.0
    again = MovingMNIST("train", input_frames=10, output_frames=10, num_clips=8, seed=3)[5]
    assert (item["input"] == again["input"]).all()
    ds.set_epoch(1)  # a new epoch draws new clips
    assert not (ds[5]["input"] == item["input"]).all()
    # every frame holds digits: bright pixels stay inside the canvas at all times
    clip = ds.generate(0)
    assert (clip.reshape(20, -1).max(axis=1) > 100).all()


def test_one_digit_moves_by_the_step_each_frame():
    ds = MovingMNIST("test", input_frames=3, output_frames=3, num_clips=4, num_digits=1, image_size=64, step=0.1)
    clip = ds.generate(1).astype(float)
    ys, xs = [], []
    for frame in clip:
        w = frame / frame.sum()
        ys.append((w.sum(1) * np.arange(64)).sum())
        xs.append((w.sum(0) * np.arange(64)).sum())
    speeds = np.hypot(np.diff(ys), np.diff(xs))
    # 0.1 of the 36 px free range per frame, up to integer placement (and bounces)
    assert np.all(speeds <= 3.6 + 1.5) and np.median(speeds) > 2.0


def test_fixed_test_file(tmp_path):
    seq = (np.random.default_rng(0).random((20, 3, 64, 64)) * 255).astype(np.uint8)
    np.save(tmp_path / "mnist_test_seq.npy", seq)
    ds = MovingMNIST("test", input_frames=10, output_frames=10, test_path=str(tmp_path / "mnist_test_seq.npy"))
    assert len(ds) == 3
    np.testing.assert_allclose(ds[2]["target"][4, 0].numpy(), seq[14, 2] / 255.0, rtol=1e-6)
    # validation stays generated, so the best checkpoint is never picked on the test clips
    val = MovingMNIST("val", num_clips=4, test_path=str(tmp_path / "mnist_test_seq.npy"))
    assert val.fixed is None and len(val) == 4
    np.save(tmp_path / "bad.npy", seq[:5])
    with pytest.raises(DataError, match=r"expected \(T>=20, N, H, W\)"):
        MovingMNIST("test", test_path=str(tmp_path / "bad.npy"))


def test_real_mnist_digits(shared_dir):
    root = shared_dir / "data" / "mnist"
    if not (root / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("../shared/data/mnist is not present")
    train = load_digits(str(root), "train")
    test = load_digits(str(root), "test")
    assert train.shape == (60000, 28, 28) and test.shape == (10000, 28, 28) and train.dtype == np.uint8
    ds = MovingMNIST("train", mnist_root=str(root), num_clips=4)
    assert ds[0]["input"].shape == (10, 1, 64, 64)


# sha256 of 64 clips (input then target bytes, float32) per case, recorded from the per-frame generator
# this one replaced (commit b1dc1d6): the faster drawing must give the very same clips for the same seed.
_CLIP_DIGESTS = [
    (dict(split="train", seed=0), "e17eaf3eb6e239e94297b4249ad64d38af2ff5c24fd618a4877c8fe6aedb3065"),
    (dict(split="val", seed=0), "2373b7e40d6c5584f179c5b5bfd611ae198b018ca03ba935b58952c13822892b"),
    (dict(split="test", seed=5), "1fff970f2765b8b2e24aff2faa762cee341034448e9051b674ee825577a63451"),
    (
        dict(split="train", seed=3, num_digits=3, image_size=32, digit_size=16, step=0.17),
        "8dd5bada218f20273105bf8027afbda747f6ea108e2ddbfe3e77e2eb61bf983c",
    ),
    (
        dict(split="train", seed=1, num_digits=1, input_frames=4, output_frames=2),
        "055995fc4137149077d8ff97fd444e3935d10d0f23f04c2de7546d473df89bf7",
    ),
]


@pytest.mark.parametrize("case,digest", _CLIP_DIGESTS, ids=lambda v: str(v)[:40])
def test_clips_identical_to_the_recorded_generator(case, digest):
    import hashlib

    case = dict(case)
    ds = MovingMNIST(case.pop("split"), num_clips=64, **case)
    ds.set_epoch(2)
    h = hashlib.sha256()
    for i in range(64):
        item = ds[i]
        h.update(item["input"].numpy().tobytes())
        h.update(item["target"].numpy().tobytes())
    assert h.hexdigest() == digest


def test_ink_boxes_bound_every_non_zero_pixel():
    from tasks.video_pred.data import _ink_boxes

    digits = np.zeros((3, 6, 6), dtype=np.uint8)
    digits[0, 1, 2] = digits[0, 4, 3] = 9  # rows 1..4, columns 2..3
    digits[2] = 1  # full
    assert _ink_boxes(digits).tolist() == [[1, 5, 2, 4], [0, 0, 0, 0], [0, 6, 0, 6]]


def test_real_mnist_clips_identical_to_the_recorded_generator(shared_dir):
    import hashlib

    root = shared_dir / "data" / "mnist"
    if not (root / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("../shared/data/mnist is not present")
    ds = MovingMNIST("train", num_clips=64, mnist_root=str(root))
    h = hashlib.sha256()
    for i in range(64):
        clip = ds.generate(i)
        h.update(clip.tobytes())
        # the float32 items are drawn directly, not converted: they must equal the uint8 clip / 255
        item = ds[i]
        drawn = torch.cat([item["input"], item["target"]])[:, 0].numpy()
        assert np.array_equal(drawn, clip.astype(np.float32) / np.float32(255))
    assert h.hexdigest() == "fdd98e054fe6832dca075e3f30ac6d595342f568e53200ba9eceff69943c8381"


def test_seeds_outside_uint32_keep_their_old_meaning():
    # small seeds go to SeedSequence as a uint32 array (faster), which must be the stream the ints give
    for words in ([0, 0, 0], [2, 0, 7], [2_000_006, 3, 9_999], [2**32 - 1, 1, 2**31]):
        as_array = np.random.default_rng(np.array(words, dtype=np.uint32)).random(4)
        assert np.array_equal(as_array, np.random.default_rng(words).random(4))
    big = MovingMNIST("train", num_clips=2, seed=2**32 + 5)  # beyond uint32: passed as ints, as before
    assert big.generate(1).any() and np.array_equal(big.generate(1), big.generate(1))
    with pytest.raises(ValueError):  # SeedSequence refuses negative entropy; it is not wrapped to 2**32 - 1
        MovingMNIST("train", num_clips=2, seed=-1_000_003 * 5).generate(0)


def test_float_clip_is_the_uint8_clip_divided_by_255_for_any_dtype_spelling():
    ds = MovingMNIST("train", num_clips=3)
    clip = ds.generate(2)
    for dtype in (np.float32, "float32", np.dtype("float32")):
        assert np.array_equal(ds.generate(2, dtype), clip.astype(np.float32) / np.float32(255))
