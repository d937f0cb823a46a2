"""Scene loading, preprocessing, lazy patches and synchronized augmentation."""

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from tasks.hsi.data import PaddedCube, PatchAugment, PatchDataset, Preprocessor, load_scene, read_array
from toolkit.errors import ConfigError, DataError


@pytest.fixture()
def scene_arrays():
    rng = np.random.default_rng(0)
    cube = rng.random((12, 10, 20)).astype(np.float32)
    gt = rng.integers(0, 4, (12, 10)).astype(np.uint8)
    return cube, gt


def test_mat_keys_are_detected_in_one_or_two_files(tmp_path, scene_arrays):
    cube, gt = scene_arrays
    scipy.io.savemat(tmp_path / "both.mat", {"indian_pines_corrected": cube, "indian_pines_gt": gt})
    scipy.io.savemat(tmp_path / "cube.mat", {"paviaU": cube})
    scipy.io.savemat(tmp_path / "gt.mat", {"paviaU_gt": gt})
    one = load_scene(tmp_path / "both.mat")  # gt found in the cube's own file
    two = load_scene(tmp_path / "cube.mat", tmp_path / "gt.mat")
    for scene in (one, two):
        np.testing.assert_array_equal(scene.cube, cube)
        np.testing.assert_array_equal(scene.gt, gt)
        assert scene.num_classes == 3 and scene.gt.dtype == np.int64
    assert one.class_names[0] == "class 1"
    assert read_array(tmp_path / "both.mat", kind="gt")[1] == "indian_pines_gt"


def test_npy_npz_band_first_and_known_names(tmp_path, scene_arrays):
    cube, gt = scene_arrays
    np.save(tmp_path / "cube.npy", cube.transpose(2, 0, 1))  # (B, H, W) is transposed back
    gt16 = np.zeros((12, 10), np.int64)
    gt16[0, :9], gt16[1, :7] = np.arange(8, 17), np.arange(1, 8)
    np.savez(tmp_path / "gt.npz", indian_pines_gt=gt16)
    scene = load_scene(tmp_path / "cube.npy", tmp_path / "gt.npz")
    np.testing.assert_array_equal(scene.cube, cube)
    assert scene.num_classes == 16 and scene.class_names[8] == "Oats"  # name table of the known map
    assert scene.class_counts().tolist() == [1] * 16
    assert "16 classes, 16 labelled pixels" in scene.summary()


def test_bad_scenes_give_one_clear_message(tmp_path, scene_arrays):
    cube, gt = scene_arrays
    with pytest.raises(DataError, match=r"12x10 pixels .* but .* 11x10"):
        load_scene(cube, gt[:11])
    with pytest.raises(DataError, match="label 3 exceeds the class count 2"):
        load_scene(cube, gt, num_classes=2)
    with pytest.raises(ConfigError, match="2 names but the scene has 3 classes"):
        load_scene(cube, gt, class_names=["a", "b"])
    with pytest.raises(DataError, match="not found"):
        load_scene(tmp_path / "missing.mat")
    np.savez(tmp_path / "two.npz", a=cube, b=cube)
    with pytest.raises(DataError, match="cannot tell which array .* Set data.cube_key"):
        read_array(tmp_path / "two.npz")
    with pytest.raises(DataError, match=r"has no numeric array 'c'; it holds \['a', 'b'\]"):
        read_array(tmp_path / "two.npz", key="c")
    (tmp_path / "x.tif").write_bytes(b"")
    with pytest.raises(DataError, match="expected .mat, .npy or .npz"):
        read_array(tmp_path / "x.tif")


def test_pca_matches_scikit_learn_and_is_fitted_on_the_given_pixels(scene_arrays):
    from sklearn.decomposition import PCA

    cube, _ = scene_arrays
    pixels = cube.reshape(-1, 20).astype(np.float64)
    train = pixels[:40]
    pre = Preprocessor(standardize=True, n_components=5).fit(train)
    z = (train - train.mean(0)) / train.std(0)
    ref = PCA(5, svd_solver="full").fit(z).transform((pixels - train.mean(0)) / train.std(0))
    out = pre.transform(cube).reshape(-1, 5)
    np.testing.assert_allclose(np.abs(out), np.abs(ref), atol=1e-5)  # components agree up to sign
    scene_fit = Preprocessor(n_components=5).fit(pixels).transform(cube)
    assert not np.allclose(scene_fit, pre.transform(cube), atol=1e-3)  # train-only fitting is really different
    white = Preprocessor(n_components=5, whiten=True).fit(train)
    np.testing.assert_allclose(white.transform(cube).reshape(-1, 5)[:40].std(0, ddof=1), 1.0, rtol=1e-4)
    with pytest.raises(ConfigError, match="n_components=25 is more than the 20 bands"):
        Preprocessor(n_components=25).fit(pixels)
    restored = Preprocessor(n_components=5)
    restored.load_state_dict(pre.state_dict())
    np.testing.assert_array_equal(restored.transform(cube), pre.transform(cube))


def test_patches_are_cut_from_one_padded_cube():
    cube = np.arange(5 * 6 * 2, dtype=np.float32).reshape(5, 6, 2)
    vol = PaddedCube(cube, window=3, padding="zero")
    p = vol.patch(0, 0)  # (D, 3, 3) around the corner pixel
    assert p.shape == (2, 3, 3)
    assert p[:, 0].abs().sum() == 0 and p[:, :, 0].abs().sum() == 0
    np.testing.assert_array_equal(p[:, 1:, 1:].numpy(), cube[:2, :2].transpose(2, 0, 1))
    refl = PaddedCube(cube, window=3, padding="reflect").patch(0, 0)
    assert refl[0, 0, 0] == cube[1, 1, 0]  # reflect mirrors without repeating the edge
    ds = PatchDataset(vol, np.array([[4, 5], [2, 3]]), np.array([1, 0]))
    item = ds[1]
    assert item["input"].shape == (1, 2, 3, 3) and item["target"] == 0 and item["meta"].tolist() == [2, 3]
    np.testing.assert_array_equal(item["input"][0, :, 1, 1].numpy(), cube[2, 3])
    other = PatchDataset(vol, np.array([[0, 0]]))
    assert other.volume.tensor.data_ptr() == ds.volume.tensor.data_ptr()  # splits share one cube
    assert vol.nbytes == (5 + 2) * (6 + 2) * 2 * 4
    assert other[0]["target"] == -1


def test_patch_geometry_errors():
    cube = np.zeros((8, 9, 3), np.float32)
    with pytest.raises(DataError, match=r"window 11 is larger than the scene \(8x9 pixels\)"):
        PaddedCube(cube, window=11)
    with pytest.raises(ConfigError, match="odd"):
        PaddedCube(cube, window=4)
    with pytest.raises(ConfigError, match="padding"):
        PaddedCube(cube, window=3, padding="wrap")


def test_augmentation_moves_every_band_the_same_way():
    torch.manual_seed(0)
    patch = torch.randn(6, 5, 5)
    aug = PatchAugment(flip=True, rotate90=True)
    dihedral = []
    for k in range(4):
        r = torch.rot90(patch, k, dims=(1, 2))
        dihedral += [r, torch.flip(r, dims=(2,))]
    seen = set()
    for _ in range(40):
        out = aug(patch)
        match = [i for i, d in enumerate(dihedral) if torch.equal(out, d)]
        assert len(match) == 1  # a single spatial transform applied to the whole stack
        seen.add(match[0])
    assert len(seen) >= 6  # flips and rotations really vary
    noisy = PatchAugment(flip=False, rotate90=False, spectral_noise=0.1)(torch.zeros(30, 9, 9))
    assert 0.08 < noisy.std().item() < 0.12


def test_pca_components_equal_the_full_svd():
    """The default solver (covariance eigen-decomposition) gives the full SVD's subspace and variances."""
    rng = np.random.default_rng(4)
    pixels = rng.normal(size=(3000, 12)) @ rng.normal(size=(12, 12))
    pre = Preprocessor(standardize=True, n_components=4).fit(pixels)
    z = (pixels - pixels.mean(0)) / pixels.std(0)
    _, s, vt = np.linalg.svd(z - z.mean(0), full_matrices=False)
    comps = pre.state["components"]
    np.testing.assert_allclose(np.abs(np.sum(comps * vt[:4], axis=1)), 1.0, atol=1e-10)  # same axes, up to sign
    np.testing.assert_allclose(pre.state["scale"] ** 2, s[:4] ** 2 / (len(pixels) - 1), rtol=1e-10)


def test_layout_path_is_found_from_any_directory(tmp_path, monkeypatch):
    """A relative ``data.synthetic.layout`` (``../shared/...`` in hybridsn_ip_layout.py) is tried in the working
    directory, then relative to the repository; absent from both, one line names both places."""
    from tasks.hsi.scene import _layout_path
    from toolkit.errors import DataError

    repo = Path(__file__).resolve().parents[3]
    (tmp_path / "gt.npy").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert _layout_path("gt.npy") == Path("gt.npy")  # the working directory first
    assert _layout_path("tests/conftest.py") == repo / "tests/conftest.py"  # then the repository
    with pytest.raises(DataError, match=r"layout=\.\./nowhere/gt\.mat: label map not found in the working directory"):
        _layout_path("../nowhere/gt.mat")
