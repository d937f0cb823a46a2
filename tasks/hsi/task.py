"""The hyperspectral classification Task: one scene, pixels classified from the patches around them.

The scene (a file, or a generated scene when ``data.cube`` is None) is loaded once, split into
train / val / test pixels, preprocessed (band standardisation + PCA fitted on the training pixels
by default), padded once and shared by the three patch datasets. Band and class counts are filled
into the model config from the data. ``report`` writes the per-class table, the confusion matrix
and the full-scene classification map, and states how many test pixels lie inside training
patches for the split in use.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

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
from tasks.hsi.visualise import patch_strip, save_classification_map, save_confusion_matrix
from toolkit.engine import Task
from toolkit.errors import CheckpointError, ConfigError, DataError
from toolkit.metrics import MetricCollection, build_metrics
from toolkit.metrics.classification import ClassificationMetric
from toolkit.registry import METRICS, MODELS, TASKS

__all__ = ["HSITask", "DATA_DEFAULTS"]

DATA_DEFAULTS = dict(
    cube=None,  # .mat / .npy / .npz cube (H, W, bands); None = a generated scene (see `synthetic`)
    gt=None,  # ground-truth file; None = look for a 2-D array in the cube's file
    cube_key=None,  # variable names inside the files; None = detected
    gt_key=None,
    num_classes=None,  # None = the largest label of the ground truth
    class_names=None,
    synthetic=dict(
        height=64,
        width=64,
        bands=100,
        num_classes=8,
        layout=None,
        layout_key=None,
        noise=0.02,
        variability=0.05,
        mixing=0.8,
        fields_per_class=4.0,
        seed=0,
    ),
    window=25,
    padding="zero",  # 'zero' | 'reflect'
    standardize=True,
    pca=dict(n_components=30, whiten=False, fit="train"),  # fit: 'train' pixels or the whole 'scene'
    split=dict(type="disjoint", train=0.3, val=0.1, seed=0),
    augment=dict(flip=True, rotate90=True, spectral_noise=0.0),
)


def _merged(defaults: dict, given: dict, where: str) -> dict:
    unknown = set(given) - set(defaults)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known keys: {sorted(defaults)}")
    out = dict(defaults)
    for k, v in given.items():
        if isinstance(defaults[k], dict) and isinstance(v, dict) and k != "split":
            out[k] = _merged(defaults[k], dict(v), f"{where}.{k}")
        else:
            out[k] = dict(v) if isinstance(v, dict) else v
    return out


def _accepts(factory: Any, name: str) -> bool:
    try:
        return name in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False


@TASKS.register("hsi")
class HSITask(Task):
    """Pixel classification of a hyperspectral scene; batches ``{'input': (B, 1, D, S, S), 'target': (B,)}``.

    Primary metric: overall accuracy ``OA``. Before ``report`` the caller sets ``task.model`` (in eval
    mode, on its device) and ``task.device`` so that the full scene can be classified.
    """

    primary_metric = "OA"
    default_configs = ("tasks/hsi/hybridsn.py", "tasks/hsi/hybridsn_tiny.py")

    def __init__(self, cfg):
        super().__init__(cfg)
        self.data = _merged(DATA_DEFAULTS, dict(cfg.get("data") or {}), "data")
        self.model: nn.Module | None = None
        self.device: torch.device | None = None
        self.scene: Scene | None = None
        self.split: Split | None = None
        self.preprocessor: Preprocessor | None = None
        self.volume: PaddedCube | None = None
        self._loaded_state: dict | None = None
        self._announced = False  # scene and split summary printed
        self._absent: set[int] = set()  # classes without a test sample in the last report

    # ------------------------------------------------------------------ data
    def _load_scene(self) -> Scene:
        d = self.data
        if d["cube"] is not None:
            return load_scene(
                d["cube"],
                d["gt"],
                cube_key=d["cube_key"],
                gt_key=d["gt_key"],
                num_classes=d["num_classes"],
                class_names=d["class_names"],
            )
        syn = dict(d["synthetic"])
        layout, key = syn.pop("layout"), syn.pop("layout_key")
        names = d["class_names"]
        if layout is not None:
            layout, key = read_array(layout, key, "gt")
            names = names or KNOWN_CLASS_NAMES.get(key)
        return make_scene(layout=layout, class_names=names, **syn)

    def prepare(self) -> None:
        """Load, split, preprocess and pad the scene (once; every split shares the result)."""
        if self.volume is not None:
            return
        d = self.data
        window = d["window"]
        if isinstance(window, bool) or not isinstance(window, int) or window < 1 or window % 2 == 0:
            raise ConfigError(f"data.window must be an odd positive int (e.g. 25), got {window!r}")
        scene = self._load_scene()
        h, w = scene.gt.shape
        if window > min(h, w):
            raise ConfigError(f"data.window={window} is larger than the scene ({h}x{w} pixels)")
        split = make_split(scene.gt, scene.num_classes, d["split"], window, names=scene.class_names)
        pca = dict(d["pca"] or {})
        if pca.get("fit", "train") not in ("train", "scene"):
            raise ConfigError(f"data.pca.fit must be 'train' or 'scene', got {pca.get('fit')!r}")
        pre = Preprocessor(d["standardize"], pca.get("n_components"), pca.get("whiten", False))
        if self._loaded_state is not None:
            self._check_state(scene, self._loaded_state)
            pre.load_state_dict(self._loaded_state["preprocess"])
        else:
            pixels = scene.cube.reshape(-1, scene.bands)  # (H*W, B)
            # NOTE: the HybridSN reference fits PCA on the whole scene, test pixels included; fitting on the
            # training pixels is the default here so that no test statistic reaches the model ('scene' = reference).
            pre.fit(pixels[split.train] if pca.get("fit", "train") == "train" else pixels)
        self.volume = PaddedCube(pre.transform(scene.cube), window, d["padding"])
        self.scene, self.split, self.preprocessor = scene, split, pre
        if int(os.environ.get("RANK", "0")) == 0:
            print(scene.summary())
            print(self.split_summary())
            self._announced = True

    def split_summary(self) -> str:
        """One line: subset sizes, the leakage fraction, pixels dropped by the guard, classes left out."""
        s, scene = self.split, self.scene
        leak = leakage_fraction(scene.gt.shape, s.train, s.test, self.data["window"])
        extra = {k: v for k, v in s.info.items() if k.startswith(("classes_without", "dropped")) and v}
        return (
            f"split {s.info['type']}: {len(s.train)} train, {len(s.val)} val, {len(s.test)} test pixels; "
            f"{100 * leak:.1f}% of test pixels lie inside a training patch (window {self.data['window']})"
            + "".join(f"; {k.replace('_', ' ')}: {_listed(v)}" for k, v in extra.items())
        )

    def build_dataset(self, split: str) -> PatchDataset:
        if split not in ("train", "val", "test"):
            raise ConfigError(f"hsi has splits 'train', 'val' and 'test', not {split!r}")
        self.prepare()
        idx = self.split.subset(split)
        if len(idx) == 0:
            raise ConfigError(f"the {split} split is empty; give data.split.{'val' if split == 'val' else 'train'} > 0")
        coords = np.stack(np.divmod(idx, self.scene.gt.shape[1]), axis=1)  # (N, 2) row, col
        labels = self.scene.gt.ravel()[idx] - 1
        aug = self.data["augment"] if split == "train" else None
        augment = PatchAugment(**aug) if aug and any(aug.values()) else None
        return PatchDataset(self.volume, coords, labels, augment)

    # ------------------------------------------------------------------ model, metrics
    def build_model(self) -> nn.Module:
        self.prepare()
        spec = dict(self.cfg.model)
        factory = MODELS.get(spec.get("type"))
        known = {
            "in_channels": self.preprocessor.out_channels,
            "num_classes": self.scene.num_classes,
            "window": self.data["window"],
        }
        for key, value in known.items():
            if not _accepts(factory, key):
                continue
            if spec.get(key) is None:
                spec[key] = value
            elif spec[key] != value:
                raise ConfigError(f"model.{key}={spec[key]} but the data gives {value}; leave model.{key}=None")
        return MODELS.build(spec)

    def build_metrics(self) -> MetricCollection:
        self.prepare()
        specs = []
        for spec in self.cfg.get("metrics") or ["classification"]:
            spec = {"type": spec} if isinstance(spec, str) else dict(spec)
            if _accepts(METRICS.get(spec["type"]), "num_classes") and spec.get("num_classes") is None:
                spec["num_classes"] = self.scene.num_classes
            specs.append(spec)
        return build_metrics(specs)

    # ------------------------------------------------------------------ outputs
    def visualise(self, batch: dict, pred: Any, max_items: int = 4) -> dict[str, np.ndarray]:
        n = min(max_items, len(batch["target"]))
        x = batch["input"][:n, 0].float().cpu().numpy()  # (n, D, S, S)
        p = pred[:n].argmax(1).cpu().numpy() if pred.ndim == 2 else pred[:n].cpu().numpy()
        return {"patches": patch_strip(x, batch["target"][:n].cpu().numpy(), p, self.scene.num_classes)}

    def predict_scene(self, model: nn.Module, device: torch.device | str = "cpu", batch_size: int = 256) -> np.ndarray:
        """Classify every pixel of the scene (borders included); returns (H, W) labels 1..K."""
        self.prepare()
        return _predict_volume(model, self.volume, device, batch_size)

    def report(self, metrics: MetricCollection, results: dict[str, float], out_dir: Path) -> None:
        """Per-class table, confusion matrix PNG, full-scene map PNG and leakage of the split in use."""
        self.prepare()
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        metric = next((m for m in metrics if isinstance(m, ClassificationMetric)), None)
        names, k = self.scene.class_names, self.scene.num_classes
        leak = leakage_fraction(self.scene.gt.shape, self.split.train, self.split.test, self.data["window"])
        results["test_in_train_patches"] = leak
        if not self._announced:
            print(self.split_summary())
        extras: dict[str, Any] = {"split": self.split.info, "test_in_train_patches": leak, "scene": self.scene.name}
        if metric is not None:
            self._absent = set(metric.absent_classes())
            cm = metric.confusion_matrix()
            acc = metric.per_class_accuracy()
            table = ["| class | name | test pixels | predicted | accuracy (%) |", "| ---: | --- | ---: | ---: | ---: |"]
            for c in range(k):
                shown = "absent" if np.isnan(acc[c]) else f"{100 * acc[c]:.2f}"
                table.append(f"| {c + 1} | {names[c]} | {cm[c].sum()} | {cm[:, c].sum()} | {shown} |")
            (out_dir / "per_class.md").write_text("\n".join(table) + "\n")
            print("\n".join(table))
            extras.update(
                class_names=names,
                per_class_accuracy=[None if np.isnan(a) else float(a) for a in acc],
                support=cm.sum(1).tolist(),
                predicted=cm.sum(0).tolist(),
                absent_classes=[c + 1 for c in metric.absent_classes()],
                aa_conventions=metric.all_aa(),
                confusion_matrix=cm.tolist(),
            )
            title = f"OA {100 * results.get('OA', float('nan')):.2f}%  kappa {results.get('kappa', float('nan')):.4f}"
            save_confusion_matrix(cm, names, out_dir / "confusion_matrix.png", title=f"confusion matrix, {title}")
        if self.model is not None:
            batch = int(self.cfg.get("eval", {}).get("batch_size", 256))
            pred_map = self.predict_scene(self.model, self.device or "cpu", batch)
            np.save(out_dir / "classification_map.npy", pred_map.astype(np.int16))
            split = f"{self.split.info['type']} split, {100 * leak:.0f}% of test pixels inside training patches"
            save_classification_map(pred_map, self.scene.gt, names, out_dir / "classification_map.png", title=split)
        (out_dir / "hsi_report.json").write_text(json.dumps(extras, indent=1, default=str) + "\n")

    def format_results(self, results: dict[str, float]) -> str:
        names = self.scene.class_names if self.scene is not None else None
        lines = []
        for key in ("OA", "AA", "kappa"):
            if key in results:
                lines.append(f"{key:<6} {100 * results[key]:7.2f}" + (" %" if key != "kappa" else " (x100)"))
        per_class = sorted((int(k[4:]), v) for k, v in results.items() if k.startswith("acc_") and k[4:].isdigit())
        if per_class:
            lines.append("per-class accuracy (%):")
            for c, v in per_class:
                name = names[c] if names and c < len(names) else ""
                shown = "   absent (no test pixel)" if c in self._absent else f"{100 * v:7.2f}"
                lines.append(f"  {c + 1:>3} {name:<30} {shown}")
        for key, v in results.items():
            if key not in ("OA", "AA", "kappa") and not key.startswith("acc_"):
                lines.append(f"{key}: {v:.4g}" if isinstance(v, float) else f"{key}: {v}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        self.prepare()
        return {
            "preprocess": self.preprocessor.state_dict(),
            "num_classes": self.scene.num_classes,
            "bands": self.scene.bands,
            "class_names": list(self.scene.class_names),
        }

    def load_state_dict(self, state: dict) -> None:
        """Use the checkpoint's preprocessing statistics (before or after the datasets are built)."""
        if not state:
            return
        self._loaded_state = state
        if self.volume is not None:
            self._check_state(self.scene, state)
            self.preprocessor.load_state_dict(state["preprocess"])
            fresh = PaddedCube(self.preprocessor.transform(self.scene.cube), self.data["window"], self.data["padding"])
            self.volume.tensor = fresh.tensor  # datasets share self.volume, so they see the new cube

    @staticmethod
    def _check_state(scene: Scene, state: dict) -> None:
        if state.get("num_classes") != scene.num_classes or state.get("bands") != scene.bands:
            raise CheckpointError(
                f"checkpoint was trained on {state.get('bands')} bands and {state.get('num_classes')} classes, "
                f"but the configured scene has {scene.bands} bands and {scene.num_classes} classes"
            )

    def infer(self, model: nn.Module, args: Any, device: torch.device) -> None:
        """``tools/infer.py``: classify every pixel of the cube in ``args.input`` (a .mat/.npy/.npz file).

        The checkpoint's preprocessing is applied; a ground truth in the same file is drawn beside
        the map. Writes ``classification_map.png`` and ``.npy`` (labels 1..K) into the folder ``args.out``.
        """
        state = self._loaded_state
        if not state:
            raise CheckpointError("hsi inference needs a checkpoint with task state (preprocessing statistics)")
        path = Path(args.input)
        cube, _ = read_array(path, self.data["cube_key"], "cube")
        try:
            gt, _ = read_array(path, self.data["gt_key"], "gt")
        except DataError:
            gt = None
        if gt is not None and gt.ndim == 2:
            scene = load_scene(cube, gt, num_classes=state["num_classes"])
            cube, gt = scene.cube, scene.gt
        else:
            gt = None
        if cube.shape[2] != state["bands"] and cube.shape[0] == state["bands"]:
            cube = np.moveaxis(cube, 0, -1)  # (B, H, W) -> (H, W, B)
        if cube.shape[2] != state["bands"]:
            raise DataError(f"{path}: the model was trained on {state['bands']} bands, the cube has shape {cube.shape}")
        pca = dict(self.data["pca"] or {})
        pre = Preprocessor(self.data["standardize"], pca.get("n_components"), pca.get("whiten", False))
        pre.load_state_dict(state["preprocess"])
        volume = PaddedCube(
            pre.transform(np.asarray(cube, dtype=np.float32)), self.data["window"], self.data["padding"]
        )
        batch = int(getattr(args, "batch_size", None) or self.cfg.get("eval", {}).get("batch_size", 256))
        pred_map = _predict_volume(model, volume, device, batch)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        np.save(out / "classification_map.npy", pred_map.astype(np.int16))
        names = list(state.get("class_names") or [f"class {c}" for c in range(1, state["num_classes"] + 1)])
        save_classification_map(pred_map, gt, names, out / "classification_map.png", title=path.name)
        print(f"wrote {out / 'classification_map.png'} and {out / 'classification_map.npy'}")


@torch.no_grad()
def _predict_volume(model: nn.Module, volume: PaddedCube, device: torch.device | str, batch_size: int) -> np.ndarray:
    """Labels 1..K for every pixel of a padded cube, in batches with a progress bar."""
    from tqdm import tqdm

    h, w = volume.shape
    rows, cols = np.divmod(np.arange(h * w), w)
    loader = torch.utils.data.DataLoader(PatchDataset(volume, np.stack([rows, cols], 1)), batch_size=batch_size)
    was_training = model.training
    model.eval()
    out = []
    for batch in tqdm(loader, desc="classification map", unit="batch", dynamic_ncols=True):
        out.append(model(batch["input"].to(device)).argmax(1).cpu())
    model.train(was_training)
    return torch.cat(out).numpy().reshape(h, w) + 1


def _listed(value) -> str:
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
