"""The generated scene: determinism, layout, mixed borders, correlated noise, textures, real label maps."""

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from tasks.hsi.data import Preprocessor, read_array
from tasks.hsi.splits import disjoint_split
from tasks.hsi.synth import PATTERNS, canopy_cover, make_layout, make_scene
from toolkit.errors import ConfigError

IP_GT = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "hsi" / "IndianPines" / "Indian_pines_gt.mat"


def test_scene_is_seeded_and_has_every_class():
    a = make_scene(height=32, width=40, bands=24, num_classes=6, seed=3)
    b = make_scene(height=32, width=40, bands=24, num_classes=6, seed=3)
    assert a.cube.shape == (32, 40, 24) and a.cube.dtype == np.float32 and a.gt.shape == (32, 40)
    np.testing.assert_array_equal(a.cube, b.cube)
    assert set(np.unique(a.gt)) == set(range(7))  # 0 = unlabelled tracks and fields
    assert 0.2 < (a.gt == 0).mean() < 0.7
    assert not np.array_equal(make_scene(height=32, width=40, bands=24, num_classes=6, seed=4).gt, a.gt)


def test_class_spectra_are_smooth_and_separable_but_variable():
    s = make_scene(height=48, width=48, bands=60, num_classes=5, noise=0.0, texture=0.0, seed=0)
    x, y = s.cube.reshape(-1, 60), s.gt.ravel()
    means = np.stack([x[y == c].mean(0) for c in range(1, 6)])
    within = np.mean([x[y == c].std(0).mean() for c in range(1, 6)])
    i, j = np.triu_indices(5, 1)
    between = np.abs(means[:, None] - means[None]).mean(-1)[i, j]
    siblings = i // 2 == j // 2  # classes 1-2 and 3-4 share a parent spectrum (families of two)
    assert within > 0.002  # pixels of a class are not copies of one spectrum
    assert between[~siblings].min() > within  # classes of different families differ more than pixels of one
    assert between[siblings].max() < between[~siblings].min()  # siblings are the hard pairs (corn / corn-notill)
    assert between[siblings].min() > 0.001  # yet not the same material
    # smooth spectra: far smaller second differences than the same values in shuffled band order
    shuffled = means[:, np.random.default_rng(0).permutation(60)]
    assert np.abs(np.diff(means, 2, axis=1)).mean() < 0.3 * np.abs(np.diff(shuffled, 2, axis=1)).mean()


def test_borders_are_mixed_and_noise_is_band_correlated():
    kw = dict(height=40, width=40, bands=80, num_classes=4, variability=0.0, texture=0.0, seed=1)
    sharp = make_scene(mixing=0.0, noise=0.0, **kw)
    mixed = make_scene(mixing=1.0, noise=0.0, **kw)
    noisy = make_scene(mixing=1.0, noise=0.02, **kw)
    lab = ndimage.label(sharp.gt > 0)[0] > 0
    border = ndimage.binary_dilation(lab, iterations=1) & ~ndimage.binary_erosion(lab, iterations=1)
    interior = ndimage.binary_erosion(sharp.gt > 0, iterations=4)
    change = np.abs(mixed.cube - sharp.cube).mean(-1)
    assert change[interior].mean() < 0.2 * change[border].mean()
    residual = (noisy.cube - mixed.cube).reshape(-1, 80)
    corr = np.corrcoef(residual.T)
    assert np.mean(np.diag(corr, 1)) > 0.5  # neighbouring bands share noise
    assert abs(np.mean(np.diag(corr, 20))) < 0.1  # distant bands do not
    assert 0.01 < residual.std() < 0.06


def test_layout_deals_every_class_to_every_band_of_the_scene():
    # the default scene's layout: any horizontal or vertical band a quarter of the scene wide (a compact
    # training area) holds fields of all 8 classes, so a disjoint split can train and test every class
    gt, field_id = make_layout(96, 96, 8, np.random.default_rng(0), fields_per_class=6.0)
    sizes = np.bincount(field_id.ravel())
    assert len(sizes) == 7 * 8  # 9 labels x 6 fields = 54 asked, on the nearest grid of 7 x 8 cells
    assert np.percentile(sizes, 75) < 2.5 * np.percentile(sizes, 25)  # fields of similar size (jittered grid)
    for start in range(0, 96 - 24 + 1, 4):
        for band in (gt[start : start + 24], gt[:, start : start + 24]):
            assert set(np.unique(band)) == set(range(9))


def test_canopy_cover_patterns():
    # one 60x60 field of each kind: class 0 plants rows, 2 a grid of trees, 4 patches; 1 (sibling of 0), 8
    # (unlabelled land) a closed canopy
    field_id = np.zeros((60, 60), np.int64)
    assert [PATTERNS[k] for k in (0, 2, 3)] == ["rows", "grid", "patchy"]
    covers = {c: canopy_cover(field_id, np.array([c]), 8, np.random.default_rng(0)) for c in (0, 1, 2, 4, 8)}
    rows = covers[0]
    along = np.ptp(rows, axis=0).max() < 1e-12 or np.ptp(rows, axis=1).max() < 1e-12
    assert along and rows.min() < 0.05 and rows.max() > 0.95  # straight rows, bare soil between them
    assert abs(rows.mean() - 3 / 8) < 0.02  # mean of ((1 + cos)/2)^2 = 1/4 + 1/8 over whole periods
    # Gaussian crowns of sigma p/5 cut at +-p/2 on a p x p grid: mean (2 pi / 25) erf(2.5 / sqrt 2)^2 = 0.2451
    assert abs(covers[2].mean() - 0.2451) < 0.02
    # sigmoid(2z - 1) of a unit-std smooth field: E = 0.353 for a Gaussian z (60x60 pixels: a few dozen blobs)
    assert abs(covers[4].mean() - 0.353) < 0.08 and covers[4].std() > 0.15
    assert np.all(covers[1] == 1.0) and np.all(covers[8] == 1.0)  # a closed canopy; unlabelled land
    shallow = canopy_cover(field_id, np.array([0]), 8, np.random.default_rng(0), depth=0.4)
    np.testing.assert_allclose(shallow, 1 - 0.4 * (1 - rows))
    with pytest.raises(ConfigError, match=r"texture must be a number in \[0, 1\]"):
        make_scene(height=16, width=16, texture=1.5)


def test_texture_leaves_the_rest_of_the_scene_and_hides_classes_from_single_pixels():
    kw = dict(noise=0.0, mixing=0.0, seed=0)
    plain, textured = make_scene(texture=0.0, **kw), make_scene(texture=1.0, **kw)
    np.testing.assert_array_equal(plain.gt, textured.gt)  # the texture draws from a stream of its own
    closed = np.isin(plain.gt, [2, 4, 6, 8])  # classes 1, 3, 5, 7 (0-based): closed canopy, cover 1
    np.testing.assert_allclose(textured.cube[closed], plain.cube[closed], rtol=1e-6)
    assert np.abs(textured.cube - plain.cube)[plain.gt == 1].mean() > 0.02  # rows of class 0 show soil


def _single_and_neighbourhood_accuracy(texture: float) -> tuple[float, float]:
    """Test accuracy on the textured classes (0, 2, 4, 6) of a linear classifier given the pixel's spectrum
    alone, then the pixel's and its 5x5 neighbourhood's mean; default scene, disjoint split (window 11)."""
    from sklearn.linear_model import LogisticRegression

    scene = make_scene(texture=texture, seed=0)
    split = disjoint_split(scene.gt, 8, train=0.3, val=0.0, window=11, seed=0)
    pre = Preprocessor(n_components=15).fit(scene.cube.reshape(-1, scene.bands)[split.train])
    x = pre.transform(scene.cube).astype(np.float64)  # (H, W, 15)
    x /= x.reshape(-1, 15)[split.train].std(0)  # unit scale: lbfgs converges in a few dozen steps
    y = scene.gt.ravel() - 1
    textured = y[split.test] % 2 == 0
    scores = []
    for features in (x, np.concatenate([x, ndimage.uniform_filter(x, (5, 5, 1))], -1)):
        f = features.reshape(len(y), -1)
        clf = LogisticRegression(max_iter=2000).fit(f[split.train], y[split.train])
        scores.append(float((clf.predict(f[split.test]) == y[split.test])[textured].mean()))
    return scores[0], scores[1]


def test_texture_hides_classes_from_single_pixels_but_not_from_their_neighbourhood():
    # the property the default scene exists for, on fields never seen in training (measured on the default
    # 144x144 scene, textured classes: single pixel 0.60 -> 0.56, pixel + 5x5 mean 0.70 -> 0.91): with the
    # texture, single spectra stay poor while the neighbourhood tells the classes apart
    plain_single, plain_neighbourhood = _single_and_neighbourhood_accuracy(texture=0.0)
    single, neighbourhood = _single_and_neighbourhood_accuracy(texture=1.0)
    assert single < plain_single and single < 0.6
    assert neighbourhood - single > 0.25
    assert (neighbourhood - single) - (plain_neighbourhood - plain_single) > 0.15  # the texture is what it adds
    assert neighbourhood > plain_neighbourhood - 0.05  # and it hides nothing from the neighbourhood


def test_real_label_map_gives_the_layout():
    if not IP_GT.exists():
        pytest.skip("real label map ../shared/data/hsi/IndianPines not present")
    gt, _ = read_array(IP_GT, kind="gt")
    scene = make_scene(layout=gt, bands=40, seed=0)
    np.testing.assert_array_equal(scene.gt, gt.astype(np.int64))
    assert scene.cube.shape == (145, 145, 40) and scene.num_classes == 16
    assert scene.class_counts().sum() == 10249
