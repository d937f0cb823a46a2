"""The prepared scene: one hyperspectral scene loaded, split, preprocessed and padded once.

HSI classifies the pixels of one scene, cut into train / val / test pixels that share the scene's
preprocessing (fitted on the training pixels) and its padded cube. The ``DATASETS`` entry is therefore
the scene, ``data.type='hsi_scene'``: the Task builds it once from the config's ``data`` section (every
key, with its default, in ``configs/_base_/datasets/hsi.py``), keeps it as task state, and takes the
three patch datasets from it::

    scene = DATASETS.build(cfg.data)          # load or generate, split, fit, pad: once
    train, test = scene.subset("train"), scene.subset("test")
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tasks.hsi.data import (
    KNOWN_CLASS_NAMES,
    PaddedCube,
    PatchAugment,
    PatchDataset,
    Preprocessor,
    Scene,
    load_scene,
    read_array,
)
from tasks.hsi.splits import Split, leakage_fraction, make_split
from tasks.hsi.synth import make_scene
from toolkit.errors import CheckpointError, ConfigError, DataError
from toolkit.registry import DATASETS

__all__ = ["PreparedScene"]

_SUBSETS = ("train", "val", "test")
# option names of the nested data dicts (their defaults live in configs/_base_/datasets/hsi.py)
_SYNTHETIC_KEYS = (
    "height", "width", "bands", "num_classes", "layout", "layout_key", "noise", "variability", "mixing",
    "fields_per_class", "texture", "seed",
)  # fmt: skip
_PCA_KEYS = ("n_components", "whiten", "fit")
_AUGMENT_KEYS = ("flip", "rotate90", "spectral_noise")


def _options(value: dict | None, keys: tuple[str, ...], where: str) -> dict:
    """``value`` as a plain dict, refusing keys outside ``keys`` with a message naming them."""
    value = dict(value or {})
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known keys: {sorted(keys)}")
    return value


@DATASETS.register("hsi_scene")
class PreparedScene:
    """One scene loaded, split, preprocessed and padded once; its pixel subsets share the padded cube.

    HSI is one scene cut into three pixel subsets, so the DATASETS entry is the scene rather than one
    subset: the Task builds it once with ``DATASETS.build(cfg.data, state=...)``, keeps it as task
    state and takes ``subset('train' | 'val' | 'test')``. (The data key ``split``, the pixel split, is a
    constructor argument here, so the subset name cannot also be called ``split``.)

    Args:
        cube, gt, cube_key, gt_key, num_classes, class_names: the scene file(s) (see :func:`load_scene`);
            ``cube=None`` generates a scene from ``synthetic``.
        synthetic: options of :func:`tasks.hsi.synth.make_scene`, plus ``layout`` (a label-map file) and
            ``layout_key``.
        window: odd patch size S.
        padding: ``'zero'`` or ``'reflect'`` (see :class:`PaddedCube`).
        standardize: band standardisation before PCA.
        pca: ``n_components`` (``None`` keeps the bands), ``whiten``, ``fit`` (``'train'`` pixels or ``'scene'``).
        split: the pixel split, ``dict(type='random' | 'disjoint', ...)`` (see :func:`make_split`).
        augment: :class:`PatchAugment` options for the training subset (all false/zero = none).
        state: a checkpoint's :meth:`state_dict`; its preprocessing is used instead of fitting one.

    Every argument but ``state`` is a key of ``configs/_base_/datasets/hsi.py``, where the defaults live.

    Attributes:
        scene (Scene), split (Split), preprocessor (Preprocessor), volume (PaddedCube), window (int),
        leakage (float): the fraction of test pixels inside a training patch.
    """

    def __init__(
        self,
        *,
        cube: str | None,
        gt: str | None,
        cube_key: str | None,
        gt_key: str | None,
        num_classes: int | None,
        class_names: list[str] | None,
        synthetic: dict,
        window: int,
        padding: str,
        standardize: bool,
        pca: dict | None,
        split: dict,
        augment: dict | None,
        state: dict | None = None,
    ):
        if isinstance(window, bool) or not isinstance(window, int) or window < 1 or window % 2 == 0:
            raise ConfigError(f"data.window must be an odd positive int (e.g. 25), got {window!r}")
        pca = _options(pca, _PCA_KEYS, "data.pca")
        self.augment = _options(augment, _AUGMENT_KEYS, "data.augment")
        if cube is not None:
            scene = load_scene(
                cube, gt, cube_key=cube_key, gt_key=gt_key, num_classes=num_classes, class_names=class_names
            )
        else:
            scene = _generate(_options(synthetic, _SYNTHETIC_KEYS, "data.synthetic"), class_names)
        h, w = scene.gt.shape
        if window > min(h, w):
            raise ConfigError(f"data.window={window} is larger than the scene ({h}x{w} pixels)")
        self.scene, self.window, self.padding = scene, window, padding
        self.split: Split = make_split(scene.gt, scene.num_classes, dict(split), window, names=scene.class_names)
        fit = pca.get("fit", "train")
        if fit not in ("train", "scene"):
            raise ConfigError(f"data.pca.fit must be 'train' or 'scene', got {fit!r}")
        self.preprocessor = Preprocessor(standardize, pca.get("n_components"), pca.get("whiten", False))
        if state is not None:
            self._check_state(state)
            self.preprocessor.load_state_dict(state["preprocess"])
        else:
            pixels = scene.cube.reshape(-1, scene.bands)  # (H*W, B)
            # NOTE: the HybridSN reference fits PCA on the whole scene, test pixels included; fitting on the
            # training pixels is the default here so that no test statistic reaches the model ('scene' = reference).
            self.preprocessor.fit(pixels[self.split.train] if fit == "train" else pixels)
        self.volume = PaddedCube(self.preprocessor.transform(scene.cube), window, padding)
        self.leakage = leakage_fraction(scene.gt.shape, self.split.train, self.split.test, window)

    def subset(self, name: str) -> PatchDataset:
        """The patches of the ``'train'``, ``'val'`` or ``'test'`` pixels (only training patches are augmented)."""
        if name not in _SUBSETS:
            raise ConfigError(f"hsi has splits 'train', 'val' and 'test', not {name!r}")
        idx = self.split.subset(name)
        if len(idx) == 0:
            raise ConfigError(f"the {name} split is empty; give data.split.{'val' if name == 'val' else 'train'} > 0")
        coords = np.stack(np.divmod(idx, self.scene.gt.shape[1]), axis=1)  # (N, 2) row, col
        labels = self.scene.gt.ravel()[idx] - 1
        augment = PatchAugment(**self.augment) if name == "train" and any(self.augment.values()) else None
        return PatchDataset(self.volume, coords, labels, augment)

    def split_summary(self) -> str:
        """One line: subset sizes, the leakage fraction, pixels dropped by the guard, classes left out."""
        s = self.split
        extra = {k: v for k, v in s.info.items() if k.startswith(("classes_without", "dropped")) and v}
        return (
            f"split {s.info['type']}: {len(s.train)} train, {len(s.val)} val, {len(s.test)} test pixels; "
            f"{100 * self.leakage:.1f}% of test pixels lie inside a training patch (window {self.window})"
            + "".join(f"; {k.replace('_', ' ')}: {_listed(v)}" for k, v in extra.items())
        )

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """What a model trained on this scene needs to see new data the same way (saved with checkpoints)."""
        return {
            "preprocess": self.preprocessor.state_dict(),
            "num_classes": self.scene.num_classes,
            "bands": self.scene.bands,
            "class_names": list(self.scene.class_names),
        }

    def load_state_dict(self, state: dict) -> None:
        """Use a checkpoint's preprocessing; the shared cube changes in place, so built subsets see it."""
        self._check_state(state)
        self.preprocessor.load_state_dict(state["preprocess"])
        fresh = PaddedCube(self.preprocessor.transform(self.scene.cube), self.window, self.padding)
        self.volume.tensor = fresh.tensor

    def _check_state(self, state: dict) -> None:
        scene = self.scene
        if state.get("num_classes") != scene.num_classes or state.get("bands") != scene.bands:
            raise CheckpointError(
                f"checkpoint was trained on {state.get('bands')} bands and {state.get('num_classes')} classes, "
                f"but the configured scene has {scene.bands} bands and {scene.num_classes} classes"
            )


def _layout_path(layout: str) -> Path:
    """``data.synthetic.layout`` as given, or, when relative and absent there, relative to the repository.

    Shipped configs name ``../shared/...`` as seen from the repository, so they work from any directory.
    """
    path = Path(layout).expanduser()
    if path.is_absolute() or path.exists():
        return path
    beside_repo = Path(__file__).resolve().parents[2] / path
    if beside_repo.exists():
        return beside_repo
    raise DataError(
        f"data.synthetic.layout={layout}: label map not found in the working directory ({Path.cwd()}) nor "
        f"relative to the repository ({beside_repo.parent}); put the file there or set data.synthetic.layout=PATH"
    )


def _generate(synthetic: dict, class_names: list[str] | None) -> Scene:
    """The generated scene of ``data.synthetic``, laid out like a real label map when ``layout`` is a file."""
    layout, key = synthetic.pop("layout", None), synthetic.pop("layout_key", None)
    if layout is not None:
        layout, key = read_array(_layout_path(layout), key, "gt")
        class_names = class_names or KNOWN_CLASS_NAMES.get(key)
    return make_scene(layout=layout, class_names=class_names, **synthetic)


def _listed(value) -> str:
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
