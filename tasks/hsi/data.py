"""Hyperspectral scenes: loading, preprocessing and lazy patch datasets.

A scene is a cube (H, W, B) of B bands and a ground-truth map (H, W) where 0 means unlabelled and
1..K are classes. Pixels are classified from the S x S window around them (S odd). The reference
HybridSN code materialises every patch (for Indian Pines at S=25 and 30 components about 770 MB of
float32); here the preprocessed cube is padded once and each patch is a slice of it cut in
``__getitem__``, so a dataset holds little more than the cube.

Preprocessing follows HybridSN (Roy et al., IEEE GRSL 2020): PCA to a few components (30 for
Indian Pines). NOTE: HybridSN fits the PCA on the whole scene, test pixels included; here the
statistics are fitted on the training pixels by default and whole-scene fitting is the named
option ``fit='scene'``. :class:`tasks.hsi.scene.PreparedScene` puts these pieces together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from toolkit.data import reseed
from toolkit.errors import ConfigError, DataError

__all__ = [
    "Scene",
    "read_array",
    "load_scene",
    "Preprocessor",
    "PaddedCube",
    "PatchAugment",
    "PatchDataset",
    "KNOWN_CLASS_NAMES",
]

# Class names of public scenes, keyed by the ground-truth variable name of the usual .mat files.
KNOWN_CLASS_NAMES = {
    "indian_pines_gt": [
        "Alfalfa", "Corn-notill", "Corn-mintill", "Corn", "Grass-pasture", "Grass-trees",
        "Grass-pasture-mowed", "Hay-windrowed", "Oats", "Soybean-notill", "Soybean-mintill",
        "Soybean-clean", "Wheat", "Woods", "Buildings-Grass-Trees-Drives", "Stone-Steel-Towers",
    ],
    "paviaU_gt": [
        "Asphalt", "Meadows", "Gravel", "Trees", "Painted metal sheets", "Bare soil", "Bitumen",
        "Self-blocking bricks", "Shadows",
    ],
    "salinas_gt": [
        "Brocoli_green_weeds_1", "Brocoli_green_weeds_2", "Fallow", "Fallow_rough_plow", "Fallow_smooth",
        "Stubble", "Celery", "Grapes_untrained", "Soil_vinyard_develop", "Corn_senesced_green_weeds",
        "Lettuce_romaine_4wk", "Lettuce_romaine_5wk", "Lettuce_romaine_6wk", "Lettuce_romaine_7wk",
        "Vinyard_untrained", "Vinyard_vertical_trellis",
    ],
}  # fmt: skip
_GT_HINTS = ("gt", "label", "map", "truth", "class")


@dataclass
class Scene:
    """A hyperspectral scene: ``cube`` (H, W, B) float32, ``gt`` (H, W) int64 with 0 = unlabelled."""

    cube: np.ndarray
    gt: np.ndarray
    num_classes: int
    class_names: list[str] = field(default_factory=list)
    name: str = "scene"

    def __post_init__(self):
        if not self.class_names:
            self.class_names = [f"class {c}" for c in range(1, self.num_classes + 1)]

    @property
    def bands(self) -> int:
        return self.cube.shape[2]

    def class_counts(self) -> np.ndarray:
        """Labelled pixels per class (K,), class c+1 of the map at index c."""
        return np.bincount(self.gt.ravel(), minlength=self.num_classes + 1)[1:]

    def summary(self) -> str:
        counts = self.class_counts()
        h, w, b = self.cube.shape
        lines = [f"{self.name}: {h}x{w} pixels, {b} bands, {self.num_classes} classes, {counts.sum()} labelled pixels"]
        lines += [f"  {c + 1:>3} {self.class_names[c]:<30} {n:>7}" for c, n in enumerate(counts)]
        return "\n".join(lines)


# --------------------------------------------------------------------------- loading
def read_array(path: str | Path, key: str | None = None, kind: str = "cube") -> tuple[np.ndarray, str]:
    """Read one array from ``.mat`` (MATLAB v5/v7), ``.npy`` or ``.npz``; returns ``(array, key)``.

    Without ``key``, a file holding several arrays is searched for the one 3-D array (``kind='cube'``)
    or the one 2-D array (``kind='gt'``); names such as ``*_gt`` or ``map`` break ties.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"hyperspectral {kind} file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False), path.stem
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    elif suffix == ".mat":
        import scipy.io

        try:
            arrays = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
        except NotImplementedError:
            raise DataError(
                f"{path} is a MATLAB v7.3 (HDF5) file; re-save it with save(..., '-v7') or as .npy"
            ) from None
        except Exception as exc:
            raise DataError(f"cannot read {path} as a MATLAB file: {exc}") from None
    else:
        raise DataError(f"unsupported {kind} file {path}: expected .mat, .npy or .npz")
    arrays = {k: v for k, v in arrays.items() if isinstance(v, np.ndarray) and v.dtype.kind in "biuf"}
    if key is not None:
        if key not in arrays:
            raise DataError(f"{path} has no numeric array {key!r}; it holds {sorted(arrays)} (set data.{kind}_key)")
        return arrays[key], key
    ndim = 3 if kind == "cube" else 2
    found = [k for k, v in arrays.items() if v.ndim == ndim]
    if len(found) > 1:
        hinted = [k for k in found if any(h in k.lower() for h in _GT_HINTS)]
        found = hinted if kind == "gt" else [k for k in found if k not in hinted] or found
    if len(found) != 1:
        shapes = {k: v.shape for k, v in arrays.items()}
        raise DataError(
            f"cannot tell which array of {path} is the {kind} ({ndim}-D expected); arrays: {shapes}. "
            f"Set data.{kind}_key to one of them"
        )
    return arrays[found[0]], found[0]


def load_scene(
    cube: str | Path | np.ndarray,
    gt: str | Path | np.ndarray | None = None,
    *,
    cube_key: str | None = None,
    gt_key: str | None = None,
    num_classes: int | None = None,
    class_names: list[str] | None = None,
) -> Scene:
    """Load and check a scene; ``gt=None`` looks for the ground truth inside the cube's file.

    A cube stored bands-first (B, H, W) is transposed when the ground truth says so.
    """
    cube_name, gt_name = "cube array", "ground-truth array"
    if not isinstance(cube, np.ndarray):
        cube_name = str(cube)
        cube, _ = read_array(cube, cube_key, "cube")
    if gt is None and cube_name != "cube array":
        gt_name = cube_name
        gt, gt_key = read_array(cube_name, gt_key, "gt")
    elif gt is None:
        raise DataError("no ground truth given: set data.gt to a .mat/.npy/.npz label map")
    elif not isinstance(gt, np.ndarray):
        gt_name = str(gt)
        gt, gt_key = read_array(gt, gt_key, "gt")
    if cube.ndim != 3:
        raise DataError(f"{cube_name}: expected a cube (H, W, bands), got shape {cube.shape}")
    if gt.ndim != 2:
        raise DataError(f"{gt_name}: expected a label map (H, W), got shape {gt.shape}")
    if cube.shape[:2] != gt.shape:
        if cube.shape[1:] == gt.shape:
            cube = np.moveaxis(cube, 0, -1)  # (B, H, W) -> (H, W, B)
        else:
            raise DataError(
                f"{cube_name} is {cube.shape[0]}x{cube.shape[1]} pixels (shape {cube.shape}) but {gt_name} is "
                f"{gt.shape[0]}x{gt.shape[1]}; the cube and the ground truth must cover the same pixels"
            )
    if gt.dtype.kind == "f":
        if not np.all(np.isfinite(gt)) or np.any(gt != np.round(gt)):
            raise DataError(f"{gt_name}: labels must be whole numbers (0 = unlabelled, 1..K = classes)")
    gt = gt.astype(np.int64)
    if gt.min() < 0:
        raise DataError(f"{gt_name}: labels must be >= 0 (0 = unlabelled), found {gt.min()}")
    k = int(num_classes) if num_classes is not None else int(gt.max())
    if gt.max() > k:
        raise DataError(
            f"{gt_name}: label {gt.max()} exceeds the class count {k} (data.num_classes); labels must be 0..{k}"
        )
    if k < 2:
        raise DataError(f"{gt_name}: needs at least 2 classes, found labels {np.unique(gt).tolist()}")
    cube = np.ascontiguousarray(cube, dtype=np.float32)
    if not np.all(np.isfinite(cube)):
        raise DataError(f"{cube_name}: the cube holds NaN or infinite values")
    if class_names is None:
        class_names = KNOWN_CLASS_NAMES.get(gt_key or "", None)
        class_names = class_names if class_names and len(class_names) == k else None
    elif len(class_names) != k:
        raise ConfigError(f"data.class_names has {len(class_names)} names but the scene has {k} classes")
    name = Path(cube_name).stem if cube_name != "cube array" else "scene"
    return Scene(cube=cube, gt=gt, num_classes=k, class_names=list(class_names or []), name=name)


# --------------------------------------------------------------------------- preprocessing
class Preprocessor:
    """Band standardisation then PCA (scikit-learn), fitted on given pixels, applied to a cube.

    Args:
        standardize: scale every band to zero mean and unit variance before PCA.
        n_components: number of principal components (``None`` keeps the bands).
        whiten: divide components by their standard deviation (``sklearn.decomposition.PCA(whiten=True)``).
    """

    def __init__(self, standardize: bool = True, n_components: int | None = 30, whiten: bool = False):
        self.standardize, self.n_components, self.whiten = standardize, n_components, whiten
        self.state: dict[str, np.ndarray] = {}

    def fit(self, pixels: np.ndarray) -> Preprocessor:
        """Fit on ``pixels`` (N, B)."""
        from sklearn.decomposition import PCA

        n, bands = pixels.shape
        x = pixels.astype(np.float64)
        mean, std = x.mean(0), x.std(0)
        std[std < 1e-12] = 1.0
        if not self.standardize:
            mean, std = np.zeros(bands), np.ones(bands)
        self.state = {"mean": mean, "std": std}
        if self.n_components is not None:
            if self.n_components > bands:
                raise ConfigError(
                    f"data.pca.n_components={self.n_components} is more than the {bands} bands of the cube"
                )
            if self.n_components > n:
                raise ConfigError(
                    f"data.pca.n_components={self.n_components} is more than the {n} pixels PCA is fitted on"
                )
            # scikit-learn's default solver: for many more pixels than bands it eigen-decomposes the B x B covariance,
            # exact to rounding (components equal to the full SVD's within 1e-15) and about 13x faster on 21,025 x 200
            pca = PCA(self.n_components, whiten=self.whiten).fit((x - mean) / std)
            self.state.update(components=pca.components_, pca_mean=pca.mean_, scale=np.sqrt(pca.explained_variance_))
        return self

    @property
    def out_channels(self) -> int:
        """Channels of the transformed cube, from the fitted (or loaded) statistics."""
        return len(self.state["components"]) if "components" in self.state else len(self.state["mean"])

    def transform(self, cube: np.ndarray) -> np.ndarray:
        """(H, W, B) -> (H, W, D) float32."""
        h, w, b = cube.shape
        x = (cube.reshape(-1, b).astype(np.float64) - self.state["mean"]) / self.state["std"]  # (H*W, B)
        if "components" in self.state:  # the fitted or loaded statistics decide, not the constructor
            x = (x - self.state["pca_mean"]) @ self.state["components"].T  # (H*W, D)
            if self.whiten:
                x = x / self.state["scale"]
        return x.astype(np.float32).reshape(h, w, -1)  # (H, W, D)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in self.state.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = {k: torch.as_tensor(v).double().numpy() for k, v in state.items()}


# --------------------------------------------------------------------------- patches
class PaddedCube:
    """The preprocessed cube padded once by S // 2, stored bands-first for slicing patches.

    Args:
        cube: (H, W, D) array.
        window: odd patch size S.
        padding: ``'zero'`` (the mean after standardisation) or ``'reflect'``.
    """

    def __init__(self, cube: np.ndarray, window: int, padding: str = "zero"):
        h, w, _ = cube.shape
        if not isinstance(window, int) or window < 1 or window % 2 == 0:
            raise ConfigError(f"data.window must be an odd positive int, got {window!r}")
        if window > min(h, w):
            raise DataError(
                f"window {window} is larger than the scene ({h}x{w} pixels); use data.window <= {min(h, w)}"
            )
        if padding not in ("zero", "reflect"):
            raise ConfigError(f"data.padding must be 'zero' or 'reflect', got {padding!r}")
        self.window, self.pad, self.shape = window, window // 2, (h, w)
        p = self.pad
        # NOTE: the HybridSN reference pads the PCA output with zeros; after band standardisation and
        # PCA centring, zero is the mean spectrum of the fitted pixels, a neutral value rather than a dark edge.
        mode = "constant" if padding == "zero" else "reflect"
        padded = np.pad(cube, ((p, p), (p, p), (0, 0)), mode=mode)  # (H+2p, W+2p, D)
        self.tensor = torch.from_numpy(np.ascontiguousarray(padded.transpose(2, 0, 1)))  # (D, H+2p, W+2p)

    @property
    def nbytes(self) -> int:
        return self.tensor.numel() * self.tensor.element_size()

    def patch(self, row: int, col: int) -> torch.Tensor:
        """The (D, S, S) window centred on pixel (row, col) of the unpadded scene (a view)."""
        s = self.window
        return self.tensor[:, row : row + s, col : col + s]


class PatchAugment:
    """Synchronized patch augmentation: every band gets the same flip / 90-degree rotation.

    Spatial transforms use albumentations; ``spectral_noise`` adds Gaussian noise of that standard
    deviation (in units of the preprocessed data). The label is unchanged.
    """

    def __init__(self, flip: bool = True, rotate90: bool = True, spectral_noise: float = 0.0):
        import albumentations as A

        ops = []
        if flip:
            ops += [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5)]
        if rotate90:
            ops.append(A.RandomRotate90(p=1.0))
        self.spatial = A.Compose(ops) if ops else None
        self.spectral_noise = float(spectral_noise)

    def __call__(self, patch: torch.Tensor) -> torch.Tensor:
        """(D, S, S) -> (D, S, S)."""
        if self.spatial is not None:
            # albumentations draws from its own generator: seed it from torch's, which the training loader
            # seeds per sample, so that a run is reproducible and a resumed run sees the same patches
            reseed(self.spatial, int(torch.randint(0, 2**31 - 1, ())))
            img = patch.permute(1, 2, 0).numpy()  # (S, S, D) for albumentations
            img = self.spatial(image=img)["image"]
            patch = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)  # (D, S, S)
        if self.spectral_noise > 0:
            patch = patch + self.spectral_noise * torch.randn_like(patch)
        return patch


class PatchDataset(Dataset):
    """Patches cut on the fly from a shared :class:`PaddedCube`.

    Args:
        volume: the padded cube (shared by every split, never copied).
        coords: (N, 2) int array of (row, col) pixel positions.
        labels: (N,) class indices 0..K-1 (-1 = unlabelled), or ``None``.
        augment: optional :class:`PatchAugment`.

    Items are ``{'input': (1, D, S, S) float32, 'target': int64 (), 'meta': (2,) int64 (row, col)}``.
    """

    def __init__(self, volume: PaddedCube, coords: np.ndarray, labels: np.ndarray | None = None, augment=None):
        self.volume = volume
        self.coords = torch.as_tensor(np.asarray(coords, dtype=np.int64).reshape(-1, 2))
        n = len(self.coords)
        self.labels = torch.full((n,), -1, dtype=torch.int64) if labels is None else torch.as_tensor(labels).long()
        if len(self.labels) != n:
            raise ValueError(f"{n} coordinates but {len(self.labels)} labels")
        self.augment = augment

    def __len__(self) -> int:
        return len(self.coords)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        row, col = self.coords[i].tolist()
        patch = self.volume.patch(row, col)  # (D, S, S) view
        patch = self.augment(patch) if self.augment is not None else patch.clone()
        return {"input": patch.unsqueeze(0), "target": self.labels[i], "meta": self.coords[i]}  # (1, D, S, S)
