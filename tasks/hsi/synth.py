"""Generated hyperspectral scenes: the embedded default when no cube is configured.

The scene imitates an agricultural airborne image such as Indian Pines (AVIRIS, 400-2500 nm):

- layout: irregular fields (a Voronoi partition of warped coordinates) separated by unlabelled
  tracks, with some unlabelled fields; or a real label map (e.g. the Indian Pines ground truth);
- class spectra: smooth vegetation / soil reflectance curves (green peak, red edge, water
  absorption near 1400 and 1900 nm); classes come in families of similar spectra (like the corn and
  soybean variants of Indian Pines) so that some pairs are hard to separate;
- within-class variability: each field has its own spectrum variant, and every pixel a smoothly
  varying illumination and a smooth spectral perturbation;
- mixed pixels: material abundances are blurred across field borders;
- band-correlated noise, stronger in the absorption bands and at the ends of the spectrum.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from tasks.hsi.data import Scene

__all__ = ["make_scene", "make_layout", "class_spectra"]


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """A zero-mean, unit-std random field smoothed with a Gaussian of ``sigma`` pixels."""
    f = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (f - f.mean()) / (f.std() + 1e-12)


def make_layout(height: int, width: int, num_classes: int, rng: np.random.Generator, fields_per_class: float = 4.0):
    """Generated field layout: ``(gt, field_id)``, both (H, W); gt 0 = unlabelled tracks and fields."""
    n_fields = max(num_classes + 2, int(round((num_classes + 1) * fields_per_class)))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    warp = 0.06 * max(height, width)
    ys = ys + warp * _smooth_field(rng, (height, width), max(height, width) / 6)
    xs = xs + warp * _smooth_field(rng, (height, width), max(height, width) / 6)
    seeds = rng.uniform([0, 0], [height, width], size=(n_fields, 2))
    d2 = (ys[..., None] - seeds[:, 0]) ** 2 + (xs[..., None] - seeds[:, 1]) ** 2  # (H, W, F)
    field_id = d2.argmin(-1)  # (H, W)
    # classes are dealt to the fields in raster order of their seeds, one shuffled round of all classes
    # (plus an unlabelled field) after another, so that every class has fields all over the scene
    raster = np.argsort((seeds[:, 0] // (height / max(2, round(fields_per_class)))) * width + seeds[:, 1])
    rounds = [rng.permutation(num_classes + 1) for _ in range(-(-n_fields // (num_classes + 1)))]
    labels = np.empty(n_fields, dtype=np.int64)
    labels[raster] = np.concatenate(rounds)[:n_fields]
    gt = labels[field_id]
    # one-pixel tracks between fields are unlabelled, as in real ground truths
    edges = (ndimage.maximum_filter(field_id, 3) != ndimage.minimum_filter(field_id, 3)) & (rng.random(gt.shape) < 0.8)
    gt[edges] = 0
    return gt.astype(np.int64), field_id


def class_spectra(num_materials: int, bands: int, rng: np.random.Generator, family_size: int = 2) -> np.ndarray:
    """Smooth reflectance curves (M, B) in about [0.02, 0.7]; materials in families share a parent."""
    lam = np.linspace(400, 2500, bands)  # nm
    water = np.exp(-(((lam - 1400) / 60) ** 2)) + np.exp(-(((lam - 1900) / 80) ** 2))

    def bumps(n, amp):
        centres = rng.uniform(450, 2400, n)
        widths = rng.uniform(80, 400, n)
        shapes = np.exp(-(((lam - centres[:, None]) / widths[:, None]) ** 2))  # (n, B)
        return (rng.uniform(-amp, amp, n)[:, None] * shapes).sum(0)

    out = []
    n_families = -(-num_materials // family_size)
    for _ in range(n_families):
        veg = rng.uniform(0.2, 1.0)  # vegetation fraction: red edge vs. soil-like slope
        red_edge = 1 / (1 + np.exp(-(lam - rng.uniform(700, 730)) / 15))
        green = 0.04 * np.exp(-(((lam - 550) / 35) ** 2))
        vegetation = 0.04 + green + 0.42 * red_edge * np.exp(-(((lam - 800) / 1800) ** 2))
        soil = 0.1 + 0.25 * (lam - 400) / 2100
        parent = veg * vegetation + (1 - veg) * soil + bumps(4, 0.05)
        for _ in range(family_size):
            child = parent * (1 + bumps(3, 0.03)) + rng.uniform(-0.02, 0.02)
            out.append(child * (1 - 0.7 * water))
    return np.clip(np.stack(out[:num_materials]), 0.01, None)


def make_scene(
    height: int = 80,
    width: int = 80,
    bands: int = 100,
    num_classes: int = 8,
    layout: np.ndarray | None = None,
    class_names: list[str] | None = None,
    noise: float = 0.02,
    variability: float = 0.05,
    mixing: float = 0.8,
    fields_per_class: float = 4.0,
    seed: int = 0,
) -> Scene:
    """Generate a scene; with ``layout`` (a label map, 0 = unlabelled) its size and classes are used.

    Args:
        height, width, bands, num_classes: scene size (``height``, ``width``, ``num_classes`` are taken
            from ``layout`` when one is given).
        layout: optional real ground-truth map (H, W) giving the spatial layout.
        class_names: optional names of the classes.
        noise: standard deviation of the band-correlated noise (reflectance units).
        variability: relative within-class variability (per field and per pixel).
        mixing: Gaussian sigma (pixels) of the material mixing across borders (0 = none).
        fields_per_class: fields per class in a generated layout (more = smaller fields).
        seed: random seed; the same arguments and seed give the same scene.

    Returns:
        A :class:`~tasks.hsi.data.Scene` with a float32 cube (H, W, bands).
    """
    rng = np.random.default_rng(seed)
    if layout is not None:
        gt = np.asarray(layout).astype(np.int64)
        height, width = gt.shape
        num_classes = int(gt.max())
        # fields = connected regions of each class; unlabelled land gets three background materials
        field_id = np.zeros(gt.shape, dtype=np.int64)
        next_id = 0
        for c in range(1, num_classes + 1):
            regions, n = ndimage.label(gt == c)
            field_id[regions > 0] = regions[regions > 0] + next_id - 1
            next_id += n
        background = np.digitize(_smooth_field(rng, gt.shape, 8), [-0.5, 0.5]) + next_id
        field_id[gt == 0] = background[gt == 0]
        field_material = np.zeros(next_id + 3, dtype=np.int64)
        for f in range(next_id):
            field_material[f] = gt[field_id == f][0] - 1
        field_material[next_id:] = num_classes + np.arange(3)
    else:
        gt, field_id = make_layout(height, width, num_classes, rng, fields_per_class)
        n_fields = int(field_id.max()) + 1
        field_material = np.array(
            [np.bincount(gt[field_id == f], minlength=num_classes + 1).argmax() for f in range(n_fields)]
        )
        # unlabelled fields get one of three background materials; labelled ones their class
        field_material = np.where(field_material > 0, field_material - 1, num_classes + rng.integers(0, 3, n_fields))
    n_fields = int(field_id.max()) + 1

    spectra = class_spectra(num_classes + 3, bands, rng)  # (K + 3 background, B)
    field_spectra = spectra[field_material] * (1 + variability * _smooth_basis(rng, n_fields, bands))  # (F, B)

    # abundance of every field at every pixel: blurred one-hot maps, so borders mix materials
    onehot = np.zeros((n_fields, height, width), dtype=np.float64)
    onehot[field_id, np.arange(height)[:, None], np.arange(width)] = 1.0
    if mixing > 0:
        onehot = ndimage.gaussian_filter(onehot, (0, mixing, mixing))
    abund = (onehot / onehot.sum(0, keepdims=True)).reshape(n_fields, -1).T  # (H*W, F)
    cube = abund @ field_spectra  # (H*W, B)

    # per-pixel variability: smooth illumination and a smooth spectral perturbation
    illum = 1 + 0.5 * variability * _smooth_field(rng, (height, width), 3).reshape(-1, 1)
    coeff = rng.standard_normal((height * width, 3)) * variability
    cube = cube * illum * (1 + coeff @ _smooth_basis(rng, 3, bands, raw=True))

    # band-correlated noise, stronger in absorption bands and at the ends of the spectrum
    lam = np.linspace(0, 1, bands)
    water = np.exp(-(((lam - 0.476) / 0.03) ** 2)) + np.exp(-(((lam - 0.714) / 0.04) ** 2))
    band_sigma = noise * (1 + 3 * water + 2 * (lam < 0.03) + 2 * (lam > 0.97))
    white = rng.standard_normal((height * width, bands))
    correlated = ndimage.gaussian_filter1d(white, 2.0, axis=1)
    correlated /= correlated.std()
    cube = cube + band_sigma * (0.8 * correlated + 0.2 * white)

    cube = cube.reshape(height, width, bands).astype(np.float32)
    names = list(class_names) if class_names else [f"material {c}" for c in range(1, num_classes + 1)]
    return Scene(cube=cube, gt=gt, num_classes=num_classes, class_names=names, name="generated")


def _smooth_basis(rng: np.random.Generator, n: int, bands: int, raw: bool = False) -> np.ndarray:
    """(n, B) smooth random curves: random weights on a few broad Gaussian bumps, unit std per row."""
    lam = np.linspace(0, 1, bands)
    centres = np.linspace(0, 1, 6)
    basis = np.exp(-(((lam[None] - centres[:, None]) / 0.12) ** 2))  # (6, B)
    curves = rng.standard_normal((n, 6)) @ basis  # (n, B)
    if raw:
        return curves / (np.abs(curves).max() + 1e-12)
    return curves / (curves.std(1, keepdims=True) + 1e-12)
