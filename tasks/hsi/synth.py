"""Generated hyperspectral scenes: the embedded default when no cube is configured.

The scene imitates an agricultural airborne image such as Indian Pines (AVIRIS, 400-2500 nm):

- layout: irregular fields (a Voronoi partition of warped coordinates) separated by unlabelled
  tracks, with some unlabelled fields; or a real label map (e.g. the Indian Pines ground truth);
- class spectra: smooth vegetation / soil reflectance curves (green peak, red edge, water
  absorption near 1400 and 1900 nm); classes come in families of similar spectra (like the corn and
  soybean variants of Indian Pines) so that some pairs are hard to separate;
- within-class variability: each field has its own spectrum variant, and every pixel a smoothly
  varying illumination and a smooth spectral perturbation;
- canopy texture (``texture`` > 0): half of the classes plant a pattern (rows at a class-specific
  spacing, trees on a grid, patchy cover), their spectral siblings grow a closed canopy; a pixel is its
  class's canopy spectrum mixed with the field's bare soil by the local cover. Between the rows, or
  between the trees, a pixel is mostly soil, the same for every textured class, and a canopy pixel
  looks like the sibling's, so a classifier of single spectra cannot tell those pixels apart while one
  that sees the neighbourhood can (early-season Indian Pines crops covered about 5 % of the ground);
- mixed pixels: material abundances are blurred across field borders;
- band-correlated noise, stronger in the absorption bands and at the ends of the spectrum.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from tasks.hsi.data import Scene
from toolkit.errors import ConfigError

__all__ = ["make_scene", "make_layout", "class_spectra", "canopy_cover", "PATTERNS"]

#: planting patterns of :func:`canopy_cover`, dealt to the classes in this order (see ``make_scene``)
PATTERNS = ("rows", "solid", "grid", "patchy")


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """A zero-mean, unit-std random field smoothed with a Gaussian of ``sigma`` pixels."""
    f = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (f - f.mean()) / (f.std() + 1e-12)


def make_layout(height: int, width: int, num_classes: int, rng: np.random.Generator, fields_per_class: float = 6.0):
    """Generated field layout: ``(gt, field_id)``, both (H, W); gt 0 = unlabelled tracks and fields.

    Fields are the Voronoi cells of seeds jittered around a grid (about ``(K + 1) * fields_per_class``
    cells), in warped coordinates: irregular fields of similar size, like sections of farmland. Labels
    0..K are dealt to the grid cells as ``(a * row + col + offset) mod (K + 1)`` through a random
    permutation, with ``a`` coprime to ``K + 1``: K + 1 consecutive cells of a row, or of a column, hold
    every label once, and a few adjacent rows or columns hold them all between them. A compact region
    of the scene (the training area of a spatially disjoint split) thus holds fields of every class;
    on the default scene every band a quarter of the scene wide, across or down, does (tested).
    """
    m = num_classes + 1  # labels 0..K
    n_fields = max(m + 1, int(round(m * fields_per_class)))
    n_rows = max(2, int(round(np.sqrt(n_fields * height / width))))
    n_cols = max(2, int(round(n_fields / n_rows)))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    warp = 0.06 * max(height, width)
    ys = ys + warp * _smooth_field(rng, (height, width), max(height, width) / 6)
    xs = xs + warp * _smooth_field(rng, (height, width), max(height, width) / 6)
    rows, cols = np.divmod(np.arange(n_rows * n_cols), n_cols)
    jitter = rng.uniform(-0.25, 0.25, size=(2, n_rows * n_cols))
    seeds = np.stack([(rows + 0.5 + jitter[0]) * height / n_rows, (cols + 0.5 + jitter[1]) * width / n_cols], 1)
    d2 = (ys[..., None] - seeds[:, 0]) ** 2 + (xs[..., None] - seeds[:, 1]) ** 2  # (H, W, F)
    field_id = d2.argmin(-1)  # (H, W)
    a = next(k for k in range(int(np.ceil(np.sqrt(m))) + 1, 2 * m + 2) if np.gcd(k, m) == 1)  # 4 for 9 labels
    labels = rng.permutation(m)[(a * rows + cols + rng.integers(m)) % m]  # (F,) label of every grid cell
    gt = labels[field_id]
    # one-pixel tracks between fields are unlabelled, as in real ground truths
    edges = (ndimage.maximum_filter(field_id, 3) != ndimage.minimum_filter(field_id, 3)) & (rng.random(gt.shape) < 0.8)
    gt[edges] = 0
    return gt.astype(np.int64), field_id


def class_spectra(
    num_materials: int, bands: int, rng: np.random.Generator, family_size: int = 2, veg_fraction: float | None = None
) -> np.ndarray:
    """Smooth reflectance curves (M, B) in about [0.02, 0.7]; materials in families share a parent.

    ``veg_fraction`` fixes the vegetation fraction of every family (0 = bare soil); ``None`` draws it.
    """
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
        veg = rng.uniform(0.2, 1.0) if veg_fraction is None else veg_fraction  # red edge vs. soil-like slope
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
    height: int = 144,
    width: int = 144,
    bands: int = 100,
    num_classes: int = 8,
    layout: np.ndarray | None = None,
    class_names: list[str] | None = None,
    noise: float = 0.02,
    variability: float = 0.02,
    mixing: float = 0.8,
    fields_per_class: float = 6.0,
    texture: float = 1.0,
    seed: int = 0,
) -> Scene:
    """Generate a scene; with ``layout`` (a label map, 0 = unlabelled) its size and classes are used.

    The defaults are the toolkit's default scene (``configs/_base_/datasets/hsi.py``).

    Args:
        height, width, bands, num_classes: scene size (``height``, ``width``, ``num_classes`` are taken
            from ``layout`` when one is given).
        layout: optional real ground-truth map (H, W) giving the spatial layout.
        class_names: optional names of the classes.
        noise: standard deviation of the band-correlated noise (reflectance units).
        variability: relative within-class variability (per field and per pixel).
        mixing: Gaussian sigma (pixels) of the material mixing across borders (0 = none).
        fields_per_class: fields per class in a generated layout (more = smaller fields).
        texture: depth of the canopy texture in [0, 1]: the share of bare soil seen where a class's
            pattern leaves the ground open (0 = closed canopy everywhere, the scene without texture;
            see :func:`canopy_cover`).
        seed: random seed; the same arguments and seed give the same scene. The texture draws from a
            stream of its own: with ``texture=0`` and a real ``layout`` the other arguments give, bit for
            bit, the cube of the versions before textures existed (generated layouts changed with them).

    Returns:
        A :class:`~tasks.hsi.data.Scene` with a float32 cube (H, W, bands).
    """
    if isinstance(texture, bool) or not isinstance(texture, (int, float)) or not 0 <= texture <= 1:
        raise ConfigError(f"data.synthetic.texture must be a number in [0, 1], got {texture!r}")
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
        counts = np.stack([np.bincount(gt[field_id == f], minlength=num_classes + 1) for f in range(n_fields)])
        # unlabelled fields get one of three background materials; labelled ones their class (the label of
        # its labelled pixels: in a small field the unlabelled track around it can outnumber them)
        background = num_classes + rng.integers(0, 3, n_fields)
        field_material = np.where(counts[:, 1:].sum(1) > 0, counts[:, 1:].argmax(1), background)
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
    if texture > 0:
        trng = np.random.default_rng([seed, 1])  # a stream of its own: the draws above stay those of texture=0
        soil = class_spectra(1, bands, trng, family_size=1, veg_fraction=0.0)  # (1, B) bare soil
        field_soil = soil * (1 + variability * _smooth_basis(trng, n_fields, bands))  # (F, B)
        # the class pattern of every pixel's own field; blurred like the abundances, i.e. by the sensor
        cover = canopy_cover(field_id, field_material, num_classes, trng, texture)  # (H, W)
        if mixing > 0:
            cover = ndimage.gaussian_filter(cover, mixing, mode="nearest")
        # NOTE: across a field border the canopy and the soil spectra mix with the neighbour's, under this
        # pixel's own cover (one cover map, not one per field): mixed border pixels stay mixed either way.
        cube = abund @ field_soil + cover.reshape(-1, 1) * (cube - abund @ field_soil)  # (H*W, B)

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


def canopy_cover(
    field_id: np.ndarray, field_material: np.ndarray, num_classes: int, rng: np.random.Generator, depth: float = 1.0
) -> np.ndarray:
    """Canopy cover (H, W) in [1 - depth, 1]: every class's planting pattern, in every field at its own phase.

    Class ``c`` (0-based) of an even number plants a pattern, ``rows``, ``grid``, ``patchy``, ``rows``, ...
    for ``c = 0, 2, 4, 6, ...``; its spectral sibling ``c + 1`` (same family, see :func:`class_spectra`)
    is a closed canopy (``solid``). A canopy pixel of ``c`` then looks like its sibling, a soil pixel like
    the soil of every textured class, and only the pattern around it tells them apart.

    - ``rows``: cover ``((1 + cos(2 pi u / p)) / 2) ** 2`` (mean 3/8), rows ``p`` pixels apart, ``p`` drawn
      per class in [4, 7);
    - ``grid``: trees, Gaussian crowns of sigma ``p / 5``, on a square grid of spacing ``p`` (mean 0.245);
    - ``patchy``: ``sigmoid(2 z - 1)`` of a unit-std random field ``z`` smoothed over 3 pixels (mean 0.35);
    - ``solid``: cover 1; also every material ``>= num_classes`` (unlabelled land).

    ``u`` runs across the rows: along x or y, chosen per field, and shifted by a per-field phase.
    NOTE: rows run north-south or east-west only, as in the US Midwest's survey grid (Indian Pines);
    the 90-degree rotations of the training augmentation then cover every orientation of the scene.
    The cover is ``1 - depth * (1 - pattern)``: ``depth`` is the share of soil seen where the pattern is open.
    """
    h, w = field_id.shape
    n_fields = len(field_material)
    spacing = rng.uniform(4.0, 7.0, num_classes)  # rows or grid spacing of every class
    across_x = rng.integers(0, 2, n_fields).astype(bool)  # rows along y (u = x) or along x (u = y)
    shift = rng.uniform(0.0, 7.0, (2, n_fields))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    u = np.where(across_x[field_id], xs, ys) + shift[0][field_id]  # (H, W) across the rows
    v = np.where(across_x[field_id], ys, xs) + shift[1][field_id]  # (H, W) along the rows
    c = np.arange(num_classes)
    textured = [PATTERNS.index(k) for k in ("rows", "grid", "patchy")]
    by_class = np.where(c % 2 == 0, np.take(textured, c // 2, mode="wrap"), PATTERNS.index("solid"))  # (K,)
    material = field_material[field_id]  # (H, W)
    labelled = material < num_classes
    cls = np.minimum(material, num_classes - 1)
    kind = np.where(labelled, by_class[cls], PATTERNS.index("solid"))  # (H, W)
    p = spacing[cls]  # (H, W)
    rows = (0.5 + 0.5 * np.cos(2 * np.pi * u / p)) ** 2
    du, dv = np.mod(u, p) - p / 2, np.mod(v, p) - p / 2  # offset from the nearest tree
    grid = np.exp(-(du**2 + dv**2) / (2 * (p / 5) ** 2))
    patchy = 1 / (1 + np.exp(1 - 2 * _smooth_field(rng, (h, w), 3.0)))
    pattern = np.choose(kind, [rows, np.ones_like(rows), grid, patchy])  # (H, W), in the order of PATTERNS
    return 1 - depth * (1 - pattern)


def _smooth_basis(rng: np.random.Generator, n: int, bands: int, raw: bool = False) -> np.ndarray:
    """(n, B) smooth random curves: random weights on a few broad Gaussian bumps, unit std per row."""
    lam = np.linspace(0, 1, bands)
    centres = np.linspace(0, 1, 6)
    basis = np.exp(-(((lam[None] - centres[:, None]) / 0.12) ** 2))  # (6, B)
    curves = rng.standard_normal((n, 6)) @ basis  # (n, B)
    if raw:
        return curves / (np.abs(curves).max() + 1e-12)
    return curves / (curves.std(1, keepdims=True) + 1e-12)
