"""The hyperspectral classification Task: one scene, pixels classified from the patches around them.

The scene (a file, or a generated scene when ``data.cube`` is None) is prepared once by the
``DATASETS`` entry ``data.type='hsi_scene'`` (:class:`~tasks.hsi.scene.PreparedScene`: loaded, split
into train / val / test pixels, preprocessed with band standardisation + PCA fitted on the training
pixels by default, padded once) and kept as task state; the three patch datasets are its subsets.
:meth:`HSITask.context` gives the model its band count (PCA components), class count and window.
``report`` writes the per-class table, the confusion matrix and the full-scene classification map,
and states how many test pixels lie inside training patches for the split in use.

With ``eval.baseline`` (default on) a per-pixel logistic regression on the same preprocessed spectra,
fitted on the training pixels (:mod:`tasks.hsi.baseline`), is scored on the same pixels as the model
(``logreg_OA``, ``logreg_AA``, ``logreg_kappa``, ...) and printed beside it; the best checkpoint is
still chosen by the model's ``kappa``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tasks.hsi.baseline import DESCRIPTION, PREFIX, SpectralBaseline, fit_spectral_baseline
from tasks.hsi.data import PaddedCube, PatchDataset, Preprocessor, load_scene, read_array
from tasks.hsi.scene import PreparedScene
from tasks.hsi.visualise import patch_strip, save_classification_map, save_confusion_matrix
from toolkit.engine import Task
from toolkit.engine.task import baseline_gain
from toolkit.errors import CheckpointError, ConfigError, DataError
from toolkit.metrics import MetricCollection
from toolkit.metrics.classification import ClassificationMetric
from toolkit.registry import DATASETS, TASKS

__all__ = ["HSITask"]


@TASKS.register("hsi")
class HSITask(Task):
    """Pixel classification of a hyperspectral scene; batches ``{'input': (B, 1, D, S, S), 'target': (B,)}``.

    Primary metric: Cohen's ``kappa``. It picks ``best.pt``: a model that answers the majority class
    for every pixel scores kappa 0 whatever its OA (on an unbalanced validation split its OA can beat
    a model that has started to tell the classes apart, and OA would keep that checkpoint).

    Attributes:
        prepared: the :class:`~tasks.hsi.scene.PreparedScene` shared by the three subsets (``None`` until
            a dataset is built or :meth:`prepare` is called).
    """

    primary_metric = "kappa"
    default_configs = ("tasks/hsi/hybridsn.py", "tasks/hsi/hybridsn_tiny.py")
    default_metrics = ("classification",)

    def __init__(self, cfg):
        super().__init__(cfg)
        self.prepared: PreparedScene | None = None
        self._state: dict | None = None  # a checkpoint's task state (preprocessing), loaded before or after prepare
        self._baseline_map: np.ndarray | None = None  # logistic-regression labels (H, W), fitted once per preprocessing

    # ------------------------------------------------------------------ data
    def prepare(self) -> PreparedScene:
        """Load, split, preprocess and pad the scene (once; every split shares the result)."""
        if self.prepared is None:
            self.prepared = DATASETS.build(self.cfg.data, state=self._state)
            if int(os.environ.get("RANK", "0")) == 0:
                print(self.prepared.scene.summary())
                print(self.prepared.split_summary())
        return self.prepared

    def build_dataset(self, split: str) -> PatchDataset:
        return self.prepare().subset(split)

    def context(self) -> dict[str, Any]:
        """``in_channels`` (PCA components), ``num_classes`` and ``window``: from the scene, else the checkpoint state.

        A task that only loaded a checkpoint's state (``tools/infer.py``) knows the sizes without the scene.
        """
        if self.prepared is None and self._state is None:
            self.prepare()
        if self.prepared is not None:
            p = self.prepared
            return {"in_channels": p.preprocessor.out_channels, "num_classes": p.scene.num_classes, "window": p.window}
        pre = Preprocessor()
        pre.load_state_dict(self._state["preprocess"])
        return {
            "in_channels": pre.out_channels,
            "num_classes": self._state["num_classes"],
            "window": self.cfg.data.window,
        }

    def metric_options(self) -> dict[str, Any]:
        """Class numbers from 1, as the label map has them, in ``acc_<c>`` keys, tables and TensorBoard."""
        return {"first_class": 1}

    def summary(self, results: dict[str, Any]) -> str:
        """The validation line: OA, AA and kappa, and the logistic-regression baseline's, not every class."""
        shown = [f"{k} {results[k]:.4g}" for k in ("OA", "AA", "kappa") if k in results]
        if PREFIX + "OA" in results:
            shown.append(f"({PREFIX}OA {results[PREFIX + 'OA']:.4g}, {PREFIX}kappa {results[PREFIX + 'kappa']:.4g})")
        return ", ".join(shown) or super().summary(results)

    def build_metrics(self) -> MetricCollection:
        """The configured metrics and, with ``eval.baseline``, the per-pixel logistic regression (``logreg_*``)."""
        metrics = super().build_metrics()
        if self.cfg.get_path("eval.baseline", True):
            model_metric = _classification(metrics)
            aa_mode = model_metric.aa_mode if model_metric is not None else "sklearn"
            first = model_metric.first_class if model_metric is not None else 1
            k = self.context()["num_classes"]
            metrics.metrics["logreg"] = SpectralBaseline(self.baseline_map(), k, aa_mode, first_class=first)
        return metrics

    def baseline_map(self) -> np.ndarray:
        """(H, W) classes 0..K-1 of the logistic regression fitted on the training pixels' preprocessed spectra."""
        if self._baseline_map is None:
            p = self.prepare()
            s = p.window // 2
            features = p.volume.tensor[:, s : s + p.scene.gt.shape[0], s : s + p.scene.gt.shape[1]]  # (D, H, W)
            features = features.permute(1, 2, 0).numpy()  # (H, W, D): what the model sees at a patch centre
            self._baseline_map = fit_spectral_baseline(features, p.scene.gt - 1, p.split.train)
        return self._baseline_map

    # ------------------------------------------------------------------ outputs
    def visualise(self, batch: dict, pred: Any, max_items: int = 4) -> dict[str, np.ndarray]:
        n = min(max_items, len(batch["target"]))
        x = batch["input"][:n, 0].float().cpu().numpy()  # (n, D, S, S)
        p = pred[:n].argmax(1).cpu().numpy() if pred.ndim == 2 else pred[:n].cpu().numpy()
        names = (self.prepared.scene.class_names if self.prepared is not None else None) or (
            (self._state or {}).get("class_names") or None
        )
        targets = batch["target"][:n].cpu().numpy()
        return {"patches": patch_strip(x, targets, p, self.context()["num_classes"], class_names=names)}

    def explain_target(
        self, model: nn.Module, x: torch.Tensor, batch: dict, target_class: int | None = None
    ) -> tuple[torch.Tensor, list[str]]:
        """The logit of the predicted class, or of ``target_class`` (1..K, the numbering of the reports).

        Grad-CAM's class score is the logit before the softmax, as in the paper. The default layer is the
        model's attention slot (HybridSN: the 2-D feature map before the dense layers).
        """
        logits = model(x)  # (B, K)
        k = logits.shape[1]
        if target_class is not None and not 1 <= target_class <= k:
            raise ConfigError(f"--target-class {target_class}: the model has classes 1..{k}")
        predicted = logits.argmax(1)  # (B,)
        cls = predicted if target_class is None else torch.full_like(predicted, target_class - 1)
        value = logits.gather(1, cls[:, None])[:, 0]  # (B,)
        names = (self.prepared.scene.class_names if self.prepared is not None else None) or (
            (self._state or {}).get("class_names") or []
        )
        lines = []
        for c, p, v in zip(cls.tolist(), predicted.tolist(), value.tolist()):
            name = f" ({names[c]})" if c < len(names) else ""
            what = "predicted" if c == p else f"predicted: class {p + 1}"
            lines.append(f"logit of class {c + 1}{name} ({what}): {v:.4g}")
        return value, lines

    def predict_scene(self, model: nn.Module, device: torch.device | str = "cpu", batch_size: int = 256) -> np.ndarray:
        """Classify every pixel of the scene (borders included); returns (H, W) labels 1..K."""
        return _predict_volume(model, self.prepare().volume, device, batch_size)

    def report(
        self,
        metrics: MetricCollection,
        results: dict[str, Any],
        out_dir: Path,
        *,
        model: nn.Module | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        """Per-class table, confusion matrix PNG, the leakage of the split in use and, given ``model``, the full map."""
        prepared = self.prepare()
        scene, split = prepared.scene, prepared.split
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        metric = _classification(metrics)
        names, k = scene.class_names, scene.num_classes
        leak = prepared.leakage
        results["test_in_train_patches"] = leak
        extras: dict[str, Any] = {"split": split.info, "test_in_train_patches": leak, "scene": scene.name}
        if metric is not None:
            cm = metric.confusion_matrix()
            acc = metric.per_class_accuracy()
            base = next((m for m in metrics if isinstance(m, SpectralBaseline)), None)
            base_acc = base.inner.per_class_accuracy() if base is not None else None
            table = ["| class | name | test pixels | predicted | accuracy (%) |", "| ---: | --- | ---: | ---: | ---: |"]
            if base_acc is not None:
                table = [table[0] + f" {DESCRIPTION} (%) |", table[1] + " ---: |"]
            for c in range(k):
                shown = "absent" if np.isnan(acc[c]) else f"{100 * acc[c]:.2f}"
                row = f"| {c + 1} | {names[c]} | {cm[c].sum()} | {cm[:, c].sum()} | {shown} |"
                if base_acc is not None:
                    row += " absent |" if np.isnan(base_acc[c]) else f" {100 * base_acc[c]:.2f} |"
                table.append(row)
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
        if model is not None:
            batch = int(self.cfg.get("eval", {}).get("batch_size", 256))
            pred_map = _predict_volume(model, prepared.volume, device, batch)
            np.save(out_dir / "classification_map.npy", pred_map.astype(np.int16))
            title = f"{split.info['type']} split, {100 * leak:.0f}% of test pixels inside training patches"
            save_classification_map(pred_map, scene.gt, names, out_dir / "classification_map.png", title=title)
        (out_dir / "hsi_report.json").write_text(json.dumps(extras, indent=1, default=str) + "\n")

    def format_results(self, results: dict[str, Any], metrics: MetricCollection | None = None) -> str:
        """OA / AA / kappa in percent, per-class accuracy with class names (classes without test pixels say so).

        When the per-pixel baseline was scored (``logreg_*`` keys), its values stand in a second column.
        """
        if self.prepared is not None:
            names = self.prepared.scene.class_names
        else:
            names = (self._state or {}).get("class_names")
        metric = _classification(metrics)
        absent = set(metric.absent_classes()) if metric is not None else set()
        base = any(k.startswith(PREFIX) for k in results)  # the per-pixel baseline was scored: a second column
        lines = [f"{'':<13}{'model':>8}" + (f"{'logreg':>10}" if base else "")]
        for key, label in (("OA", "OA (%)"), ("AA", "AA (%)"), ("kappa", "kappa (x100)")):
            if key in results:
                other = results.get(PREFIX + key)
                shown = f"{label:<13}{100 * results[key]:8.2f}"
                lines.append(shown + (f"{100 * other:10.2f}" if other is not None else ""))
        first = metric.first_class if metric is not None else 1
        per_class = sorted((int(k[4:]), v) for k, v in results.items() if k.startswith("acc_") and k[4:].isdigit())
        if per_class:
            lines.append("per-class accuracy (%):" + (f"{'model':>21}{'logreg':>10}" if base else ""))
            for number, v in per_class:  # class numbers as the label map has them (acc_1 = index 0)
                c = number - first
                name = names[c] if names and 0 <= c < len(names) else ""
                other = results.get(f"{PREFIX}acc_{number}")
                if c in absent:
                    shown = "   absent (no test pixel)"
                else:
                    shown = f"{100 * v:7.2f}" + (f"{100 * other:10.2f}" if other is not None else "")
                lines.append(f"  {c + 1:>3} {name:<30} {shown}")
        if base:
            lines.append(f"logreg: {DESCRIPTION}, one pixel at a time, fitted on the training pixels")
        lines += baseline_gain(
            results,
            "OA",
            PREFIX,
            "OA points",
            "the model classifies worse than a linear classifier of single spectra: it is undertrained, or it "
            "learnt the training area rather than the classes",
        )
        for key, v in results.items():
            if key not in ("OA", "AA", "kappa") and not key.startswith(("acc_", PREFIX)):
                lines.append(f"{key}: {v:.4g}" if isinstance(v, float) else f"{key}: {v}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """The preprocessing statistics, band and class counts and class names of the prepared scene."""
        return self.prepare().state_dict()

    def load_state_dict(self, state: dict) -> None:
        """Use the checkpoint's preprocessing statistics (before or after the datasets are built)."""
        if not state:
            return
        self._state = state
        self._baseline_map = None  # refitted on the checkpoint's preprocessing
        if self.prepared is not None:
            self.prepared.load_state_dict(state)  # the subsets share its cube, so they see the new one

    def infer(self, model: nn.Module, args: Any, device: torch.device) -> None:
        """``tools/infer.py``: classify every pixel of the cube in ``args.input`` (a .mat/.npy/.npz file).

        The checkpoint's preprocessing is applied; a ground truth in the same file is drawn beside
        the map. Writes ``classification_map.png`` and ``.npy`` (labels 1..K) into the folder ``args.out``.
        """
        state, data = self._state, self.cfg.data
        if not state:
            raise CheckpointError("hsi inference needs a checkpoint with task state (preprocessing statistics)")
        path = Path(args.input)
        cube, _ = read_array(path, data.cube_key, "cube")
        try:
            gt, _ = read_array(path, data.gt_key, "gt")
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
        pca = dict(data.pca or {})
        pre = Preprocessor(data.standardize, pca.get("n_components"), pca.get("whiten", False))
        pre.load_state_dict(state["preprocess"])
        volume = PaddedCube(pre.transform(np.asarray(cube, dtype=np.float32)), data.window, data.padding)
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


def _classification(metrics: MetricCollection | None) -> ClassificationMetric | None:
    """The collection's classification metric (its confusion matrix), if it has one."""
    return next((m for m in metrics if isinstance(m, ClassificationMetric)), None) if metrics is not None else None
