"""The hsi Task: config handling, bad input, state, report files, and a short end-to-end run."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from tasks.hsi.task import HSITask
from toolkit.config import load_config
from toolkit.engine import eval_loader, evaluate, load_for_eval
from toolkit.errors import CheckpointError, ConfigError, DataError, RegistryError

ROOT = Path(__file__).resolve().parents[3]
TINY = ROOT / "tasks" / "hsi" / "hybridsn_tiny.py"
# a 48x48 version of the default scene with a random split, for tests that do not need the 144x144 default
SMALL = ["data.synthetic.height=48", "data.synthetic.width=48", "data.synthetic.fields_per_class=3.0"]
SMALL += ["data.split.type=random"]


def _task(*overrides):
    return HSITask(load_config(TINY, list(overrides)))


def _tool(name: str):
    """Load ``tools/<name>.py`` as a module (tools/ is a folder of scripts, not a package)."""
    tools = str(ROOT / "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    spec = importlib.util.spec_from_file_location(f"tools_{name}_under_hsi_test", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short tiny run shared by the tests that need a checkpoint: ``(work_dir, run_dir, trainer cfg)``."""
    from toolkit.engine import Trainer

    root = tmp_path_factory.mktemp("hsi_runs")
    cfg = load_config(TINY, [*SMALL, "train.max_iters=120", "train.val_interval=60", "train.log_interval=60"])
    trainer = Trainer(cfg, work_dir=root)
    trainer.train()
    return root, trainer.run_dir, cfg


def test_configs_load_and_the_task_fills_in_data_sizes():
    full = load_config(ROOT / "tasks" / "hsi" / "hybridsn.py")
    assert full.optim.type == "adam" and full.optim.lr == 1e-3
    assert full.train.batch_size == 256 and full.train.max_epochs == 100
    assert full.loss[0].type == "cross_entropy" and full.model.dropout == 0.4
    assert full.model.in_channels is None and full.model.num_classes is None
    task = _task(*SMALL)
    model = task.build_model()
    assert (model.in_channels, model.num_classes, model.window) == (15, 8, 11)
    metric = task.build_metrics()["classification"]
    assert metric.num_classes == 8
    with pytest.raises(RegistryError, match="num_classes=7 but the data gives 8"):
        _task(*SMALL, "model.num_classes=7").build_model()


def test_datasets_follow_the_batch_contract_and_share_the_cube():
    task = _task()
    train, test = task.build_dataset("train"), task.build_dataset("test")
    batch = torch.utils.data.default_collate([train[i] for i in range(4)])
    assert batch["input"].shape == (4, 1, 15, 11, 11) and batch["target"].shape == (4,)
    assert int(batch["target"].max()) < 8 and int(batch["target"].min()) >= 0
    assert train.volume is test.volume
    assert train.augment is not None and test.augment is None
    train_px = set((train.coords[:, 0] * 144 + train.coords[:, 1]).tolist())
    test_px = set((test.coords[:, 0] * 144 + test.coords[:, 1]).tolist())
    assert not train_px & test_px
    # the default split is spatially disjoint: no test pixel within 5 pixels (window 11) of a training pixel
    assert task.prepared.leakage == 0.0 and task.prepared.split.info["guard"] == 5


@pytest.mark.parametrize(
    "overrides, error, message",
    [
        (["data.window=145"], ConfigError, r"data.window=145 is larger than the scene \(144x144 pixels\)"),
        (["data.pca.n_components=120"], ConfigError, "n_components=120 is more than the 100 bands"),
        (
            ["data.split.type=random", "data.split.train=2000"],
            DataError,
            r"class \d \(material \d\) has \d+ labelled pixels but the split needs 2000",
        ),
        (["data.split.train=200"], ConfigError, "the disjoint split takes ratios"),
        (["+data.typo=1"], RegistryError, r"unknown argument\(s\) \['typo'\]"),
        (["+data.pca.typo=1"], ConfigError, r"data.pca: unknown key\(s\) \['typo'\]"),
        (["data.pca.fit=all"], ConfigError, "'train' or 'scene'"),
    ],
)
def test_bad_input_gives_one_clear_message(overrides, error, message):
    with pytest.raises(error, match=message):
        _task(*overrides).build_dataset("train")


def test_split_dict_merges_into_the_base_unless_deleted(tmp_path):
    # configs/_base_/datasets/hsi.py: nested dicts merge key by key; _delete_=True replaces the split wholesale
    (tmp_path / "merged.py").write_text(f'_base_ = ["{TINY}"]\ndata = dict(split=dict(train=20))\n')
    (tmp_path / "replaced.py").write_text(
        f'_base_ = ["{TINY}"]\ndata = dict(split=dict(_delete_=True, type="random", train=20))\n'
    )
    assert load_config(tmp_path / "merged.py").data.split == dict(type="disjoint", train=20, val=0.1, seed=0)
    replaced = load_config(tmp_path / "replaced.py")
    assert replaced.data.split == dict(type="random", train=20)
    task = HSITask(replaced)
    assert len(task.build_dataset("train")) == 8 * 20  # 20 pixels of each of the 8 classes
    with pytest.raises(ConfigError, match="the val split is empty"):  # val=0: the split function's own default
        task.build_dataset("val")


def test_files_with_mismatched_sizes_or_labels(tmp_path):
    rng = np.random.default_rng(0)
    scipy.io.savemat(tmp_path / "cube.mat", {"cube": rng.random((30, 30, 20)).astype(np.float32)})
    scipy.io.savemat(tmp_path / "gt.mat", {"gt": rng.integers(0, 4, (30, 31)).astype(np.uint8)})
    with pytest.raises(DataError, match="30x30 pixels .* but .*gt.mat is 30x31"):
        _task(f"data.cube='{tmp_path / 'cube.mat'}'", f"data.gt='{tmp_path / 'gt.mat'}'").prepare()
    scipy.io.savemat(tmp_path / "gt.mat", {"gt": rng.integers(0, 4, (30, 30)).astype(np.uint8)})
    with pytest.raises(DataError, match="label 3 exceeds the class count 2"):
        _task(
            f"data.cube='{tmp_path / 'cube.mat'}'", f"data.gt='{tmp_path / 'gt.mat'}'", "data.num_classes=2"
        ).prepare()
    files = [f"data.cube='{tmp_path / 'cube.mat'}'", f"data.gt='{tmp_path / 'gt.mat'}'"]
    task = _task(*files, "data.window=5", "data.split.type=random")
    assert len(task.build_dataset("test")) > 0 and task.prepared.scene.num_classes == 3


def test_state_round_trip_restores_the_preprocessing_in_either_order():
    trained = _task(*SMALL)
    trained_volume = trained.prepare().volume
    state = trained.state_dict()
    # a task fitted differently (whole scene) becomes identical once it loads the state, before...
    before = _task(*SMALL, "data.pca.fit=scene")
    before.load_state_dict(state)
    assert torch.equal(before.prepare().volume.tensor, trained_volume.tensor)
    # ...or after its datasets exist (the shared cube is replaced in place)
    after = _task(*SMALL, "data.pca.fit=scene")
    ds = after.build_dataset("test")
    assert not torch.equal(ds.volume.tensor, trained_volume.tensor)
    after.load_state_dict(state)
    assert torch.equal(ds.volume.tensor, trained_volume.tensor)
    other = _task(*SMALL, "data.synthetic.num_classes=4")
    other.load_state_dict(state)
    with pytest.raises(CheckpointError, match="100 bands and 8 classes, but the configured scene has 100 bands and 4"):
        other.prepare()


def test_report_writes_table_confusion_matrix_and_full_map(tmp_path, capsys):
    task = _task(*SMALL)
    model = task.build_model().eval()
    metrics = task.build_metrics()
    test = task.build_dataset("test")
    batch = torch.utils.data.default_collate([test[i] for i in range(len(test))])
    with torch.no_grad():
        metrics.update(model(batch["input"]), batch["target"], batch)
    results = metrics.compute()
    task.report(metrics, results, tmp_path, model=model, device=torch.device("cpu"))
    for name in (
        "per_class.md",
        "confusion_matrix.png",
        "classification_map.png",
        "classification_map.npy",
        "hsi_report.json",
    ):
        assert (tmp_path / name).stat().st_size > 0
    pred_map = np.load(tmp_path / "classification_map.npy")
    assert pred_map.shape == (48, 48) and pred_map.min() >= 1 and pred_map.max() <= 8  # every pixel, borders too
    extra = json.loads((tmp_path / "hsi_report.json").read_text())
    scene, split = task.prepared.scene, task.prepared.split
    assert extra["support"] == np.bincount(scene.gt.ravel()[split.test], minlength=6)[1:].tolist()
    assert results["test_in_train_patches"] == 1.0  # a random split leaks fully
    out = capsys.readouterr().out
    assert "100.0% of test pixels lie inside a training patch" in out and "| 5 | material 5 |" in out
    # the per-pixel baseline has a column of its own, its per-class accuracy from its own confusion matrix
    assert "| logistic regression on spectra (%) |" in (tmp_path / "per_class.md").read_text()
    base = metrics["logreg"].confusion_matrix()
    row = next(line for line in out.splitlines() if line.startswith("| 2 | material 2 |"))
    assert row.endswith(f" {100 * base[1, 1] / base[1].sum():.2f} |")
    table = task.format_results(results, metrics)
    assert "OA" in table and "material 3" in table
    oa_row = next(line for line in table.splitlines() if line.startswith("OA (%)"))
    assert oa_row.split()[2:] == [f"{100 * results['OA']:.2f}", f"{100 * results['logreg_OA']:.2f}"]
    assert "logreg: logistic regression on spectra" in table and "model - logreg: " in table


def test_format_results_marks_classes_absent_from_the_evaluated_metrics():
    task = _task(*SMALL, "eval.baseline=False")
    metrics = task.build_metrics()
    target = torch.tensor([0, 1, 2, 4, 5, 6, 7])  # no pixel of class 4 (index 3)
    metrics.update(torch.nn.functional.one_hot(target, 8).float(), target)
    table = task.format_results(metrics.compute(), metrics)
    absent = [line.split()[0] for line in table.splitlines() if line.endswith("absent (no test pixel)")]
    assert absent == ["4"]
    assert "absent" not in task.format_results(metrics.compute())  # without the metrics nothing is claimed absent


def test_trains_and_evaluates_end_to_end(trained):
    root, _, cfg = trained
    run = next((root / "hybridsn_tiny").iterdir())
    assert (run / "checkpoints" / "best.pt").exists()
    task, dataset, model = load_for_eval(cfg, run / "checkpoints" / "best.pt", "test")
    results = evaluate(model, task, eval_loader(dataset, cfg, task.collate_fn("test"))).results
    # 8 classes, the largest 16 % of the pixels: the model must do far better than the majority answer, and
    # better than the per-pixel logistic regression on the same pixels (measured: kappa 0.92 against 0.66)
    assert results["OA"] > 0.85 and results["kappa"] > results["logreg_kappa"] + 0.1
    state = torch.load(run / "checkpoints" / "best.pt", weights_only=True)
    assert state["task"]["num_classes"] == 8


def test_best_checkpoint_is_chosen_by_kappa_so_a_majority_answer_cannot_win(tmp_path):
    from toolkit.engine import Trainer
    from toolkit.engine.checkpoint import load_checkpoint
    from toolkit.metrics.classification import ClassificationMetric

    assert HSITask.primary_metric == "kappa"
    cfg = load_config(TINY, [*SMALL, "train.max_iters=2", "train.val_interval=1", "eval.baseline=False"])
    trainer = Trainer(cfg, work_dir=tmp_path)
    target = torch.tensor([0] * 8 + [1, 2])  # an unbalanced validation split: 80 % of class 0
    guesses = [
        torch.zeros(10, dtype=torch.long),  # iteration 1: the majority class everywhere, OA 0.8
        torch.tensor([0] * 5 + [1, 2, 3] + [1, 2]),  # iteration 2: tells classes apart, 3 errors, OA 0.7
    ]
    scored = []
    for guess in guesses:
        metric = ClassificationMetric(8)
        metric.update(guess, target)
        scored.append(metric.compute())
    # kappa by hand: iteration 1 agrees only by chance, 0; iteration 2: p_o = 0.7, true counts (8, 1, 1, 0),
    # predicted (5, 2, 2, 1): p_e = (8*5 + 1*2 + 1*2) / 100 = 0.44, kappa = 0.26 / 0.56
    assert scored[0]["OA"] == 0.8 and scored[0]["kappa"] == 0.0
    assert scored[1]["OA"] == 0.7 and scored[1]["kappa"] == pytest.approx(0.26 / 0.56)
    results = iter(scored)
    trainer.validate = lambda: next(results)
    trainer.train()
    assert trainer.best == pytest.approx(0.26 / 0.56)
    assert load_checkpoint(trainer.run_dir / "checkpoints" / "best.pt")["iter"] == 2  # OA would have kept 1


def test_saved_configs_of_a_trained_run_hold_the_data_derived_sizes(trained):
    _, run, _ = trained
    sizes = {"in_channels": 15, "num_classes": 8, "window": 11}  # PCA components, classes, data.window
    saved = {
        "config.py": load_config(run / "config.py").model,
        "config.json": json.loads((run / "config.json").read_text())["model"],
        "best.pt": torch.load(run / "checkpoints" / "best.pt", weights_only=True)["config"]["model"],
    }
    for where, model in saved.items():
        assert {k: model[k] for k in sizes} == sizes, where


def test_eval_and_infer_tools_run_on_the_checkpoint(trained, tmp_path, monkeypatch, capsys):
    root, run, _ = trained
    out = tmp_path / "eval"
    monkeypatch.setattr(sys, "argv", ["eval.py", "--task", "hsi", "--work-dir", str(root), "--out", str(out)])
    assert _tool("eval").main() == 0
    record = json.loads((out / "metrics.json").read_text())
    assert record["metrics"]["OA"] > 0.85 and record["metrics"]["test_in_train_patches"] == 1.0
    assert record["metrics"]["logreg_OA"] < record["metrics"]["OA"]  # the baseline reaches metrics.json too
    for name in ("per_class.md", "confusion_matrix.png", "classification_map.png", "test_patches.png"):
        assert (out / name).stat().st_size > 0
    assert np.load(out / "classification_map.npy").shape == (48, 48)
    assert "per-class accuracy (%):" in capsys.readouterr().out

    scene = _task(*SMALL).prepare().scene
    np.savez(tmp_path / "scene.npz", cube=scene.cube[:20, :25], gt=scene.gt[:20, :25])
    argv = ["infer.py", str(run / "config.py"), "--checkpoint", str(run / "checkpoints" / "best.pt")]
    argv += ["--input", str(tmp_path / "scene.npz"), "--out", str(tmp_path / "maps"), "--device", "cpu"]
    monkeypatch.setattr(sys, "argv", argv)
    assert _tool("infer").main() == 0
    pred = np.load(tmp_path / "maps" / "classification_map.npy")
    assert pred.shape == (20, 25) and pred.min() >= 1 and pred.max() <= 8
    assert (tmp_path / "maps" / "classification_map.png").stat().st_size > 0


def test_infer_classifies_a_new_cube_with_the_checkpoint_preprocessing(tmp_path):
    from types import SimpleNamespace

    trained = _task(*SMALL)
    state = trained.state_dict()
    model = trained.build_model().eval()
    fresh = _task(*SMALL)
    fresh.load_state_dict(state)
    scene = trained.prepare().scene
    np.savez(tmp_path / "scene.npz", cube=scene.cube[:20, :25], gt=scene.gt[:20, :25])
    fresh.infer(model, SimpleNamespace(input=str(tmp_path / "scene.npz"), out=str(tmp_path / "out")), "cpu")
    pred = np.load(tmp_path / "out" / "classification_map.npy")
    assert pred.shape == (20, 25)
    # the same pixels classified inside the full scene get the same labels, away from the cut borders
    full = trained.predict_scene(model)
    np.testing.assert_array_equal(pred[:15, :20], full[:15, :20])
    assert (tmp_path / "out" / "classification_map.png").stat().st_size > 0
    np.save(tmp_path / "wrong.npy", scene.cube[:20, :20, :10])
    with pytest.raises(DataError, match="trained on 100 bands"):
        fresh.infer(model, SimpleNamespace(input=str(tmp_path / "wrong.npy"), out=str(tmp_path / "o2")), "cpu")
