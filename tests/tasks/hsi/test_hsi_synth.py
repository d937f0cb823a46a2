"""The generated scene: determinism, layout, mixed borders, correlated noise, real label maps."""

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from tasks.hsi.data import read_array
from tasks.hsi.synth import make_scene

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
    s = make_scene(height=48, width=48, bands=60, num_classes=5, noise=0.0, seed=0)
    x, y = s.cube.reshape(-1, 60), s.gt.ravel()
    means = np.stack([x[y == c].mean(0) for c in range(1, 6)])
    within = np.mean([x[y == c].std(0).mean() for c in range(1, 6)])
    between = np.abs(means[:, None] - means[None]).mean(-1)[np.triu_indices(5, 1)]
    assert within > 0.002  # pixels of a class are not copies of one spectrum
    assert between.min() > within / 2  # yet the classes differ
    # smooth spectra: far smaller second differences than the same values in shuffled band order
    shuffled = means[:, np.random.default_rng(0).permutation(60)]
    assert np.abs(np.diff(means, 2, axis=1)).mean() < 0.3 * np.abs(np.diff(shuffled, 2, axis=1)).mean()


def test_borders_are_mixed_and_noise_is_band_correlated():
    kw = dict(height=40, width=40, bands=80, num_classes=4, variability=0.0, seed=1)
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


def test_real_label_map_gives_the_layout():
    if not IP_GT.exists():
        pytest.skip("real label map ../shared/data/hsi/IndianPines not present")
    gt, _ = read_array(IP_GT, kind="gt")
    scene = make_scene(layout=gt, bands=40, seed=0)
    np.testing.assert_array_equal(scene.gt, gt.astype(np.int64))
    assert scene.cube.shape == (145, 145, 40) and scene.num_classes == 16
    assert scene.class_counts().sum() == 10249
