"""End to end: a clip folder trains through the Trainer, evaluates in the data scale, draws pictures
to vis/, and tools/infer.py predicts on a user .npy; PastNet trains on the same data with its VQ
loss logged; real MNIST digits load in the idx format and train when ../shared is present."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from toolkit.config import load_config
from toolkit.engine import Trainer, eval_loader, evaluate, load_for_eval
from toolkit.engine.checkpoint import load_checkpoint
from toolkit.engine.runlog import save_picture

ROOT = Path(__file__).resolve().parents[3]
SHORT = [
    "data.input_frames=3",
    "data.output_frames=3",
    "train.batch_size=4",
    "train.max_iters=4",
    "train.val_interval=2",
    "train.log_interval=1",
    "train.num_workers=0",
    "eval.batch_size=4",
    "eval.num_workers=0",
]


def _tool(name: str):
    """Load ``tools/<name>.py`` as a module (tools/ is a folder of scripts, not a package)."""
    tools = str(ROOT / "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    spec = importlib.util.spec_from_file_location(f"tools_{name}_under_test", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _square_clips(n: int, t: int = 7, size: int = 16, seed: int = 0) -> np.ndarray:
    """uint8 (N, T, size, size): a bright 4x4 square moving one pixel per frame on a dark background."""
    rng = np.random.default_rng(seed)
    clips = np.full((n, t, size, size), 20, dtype=np.uint8)
    for i in range(n):
        y, x = rng.integers(0, size - 4 - t, 2)
        for k in range(t):
            clips[i, k, y : y + 4, x + k : x + k + 4] = 220
    return clips


def _write_folder(root: Path, clips: np.ndarray) -> Path:
    for i, clip in enumerate(clips):
        (root / f"seq{i}").mkdir(parents=True)
        for k, frame in enumerate(clip):
            Image.fromarray(frame).save(root / f"seq{i}" / f"{k:03d}.png")
    return root


def test_clip_folder_trains_evaluates_draws_and_infers(tmp_path, monkeypatch, capsys):
    folder = _write_folder(tmp_path / "clips", _square_clips(12))
    cfg = load_config(
        ROOT / "tasks/video_pred/clips_example.py", [*SHORT, f"data.path={folder}", f"work_dir={tmp_path / 'runs'}"]
    )
    trainer = Trainer(cfg)
    assert len(trainer.train_set) == 10 and len(trainer.val_set) == 1  # 0.8 / 0.1 / 0.1 of 12 clips
    results = trainer.train()
    assert np.isfinite(results["mse"]) and 0 < results["mse"]
    vis = sorted(p.name for p in (trainer.run_dir / "vis").glob("*.png"))
    assert vis and all(name.startswith("val_iter") for name in vis)
    picture = np.asarray(Image.open(trainer.run_dir / "vis" / vis[0]))
    assert picture.ndim == 3 and picture.shape[2] == 3

    best = trainer.run_dir / "checkpoints" / "best.pt"
    state = load_checkpoint(best)
    stats = state["task"]["stats"]  # training statistics travel with the checkpoint
    assert len(stats["mean"]) == 1 and 20 / 255 < stats["mean"][0] < 220 / 255

    cfg = load_config(ROOT / "tasks/video_pred/clips_example.py", [*SHORT, f"data.path={folder}"])
    task, dataset, model = load_for_eval(cfg, best, "test")
    assert task.stats == stats
    out = tmp_path / "eval"
    out.mkdir()
    ev = evaluate(model, task, eval_loader(dataset, cfg, task.collate_fn("test")), vis_items=4)
    for name, img in ev.pictures.items():  # what tools/eval.py writes
        save_picture(img, out / f"test_{name}")
    task.report(ev.metrics, ev.results, out, model=model, device="cpu")
    again = ev.results
    assert np.isfinite(again["mse"]) and list(out.glob("test_*.png"))

    np.save(tmp_path / "user.npy", _square_clips(3, t=5, seed=1))
    argv = ["infer.py", str(ROOT / "tasks/video_pred/clips_example.py"), "--checkpoint", str(best)]
    argv += ["--input", str(tmp_path / "user.npy"), "--out", str(tmp_path / "preds.npy"), "--frames", "7"]
    argv += ["--batch-size", "2", "--device", "cpu", "--set", f"data.path={folder}"]
    monkeypatch.setattr(sys, "argv", argv)
    assert _tool("infer").main() == 0
    preds = np.load(tmp_path / "preds.npy")
    assert preds.shape == (3, 7, 1, 16, 16) and np.isfinite(preds).all()
    assert "(3, 7, 1, 16, 16)" in capsys.readouterr().out


def test_pastnet_trains_on_user_clips_with_its_vq_loss(tmp_path):
    np.save(tmp_path / "clips.npy", _square_clips(10))
    cfg = load_config(ROOT / "tasks/video_pred/pastnet_tiny.py", [*SHORT, "train.max_iters=2", f"work_dir={tmp_path}"])
    clips = load_config(ROOT / "tasks/video_pred/clips_example.py", [f"data.path={tmp_path / 'clips.npy'}"]).data
    cfg["data"] = {**clips, "input_frames": 3, "output_frames": 3}
    trainer = Trainer(cfg)
    assert trainer.model.in_shape == (3, 1, 16, 16)
    trainer.train()
    records = [json.loads(line) for line in (trainer.run_dir / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if any(k.endswith("loss_aux") for k in r)]
    assert train and all(v > 0 for r in train for k, v in r.items() if k.endswith("loss_aux"))


def test_real_mnist_digits_load_and_train(shared_dir, tmp_path):
    from tasks.video_pred.data import load_digits, read_idx_images

    root = shared_dir / "data" / "mnist"
    if not (root / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("../shared/data/mnist is not present")
    digits = read_idx_images(root / "train-images-idx3-ubyte.gz")
    assert digits.shape == (60000, 28, 28) and digits.dtype == np.uint8
    assert load_digits(str(root), "test").shape == (10000, 28, 28)
    assert 30 < digits.mean() < 36  # MNIST's mean intensity is 33.3 of 255
    cfg = load_config(
        ROOT / "tasks/video_pred/simvp_tiny.py",
        [
            *SHORT,
            f"data.mnist_root={root}",
            "data.splits.train.num_clips=64",
            "data.splits.val.num_clips=4",
            "train.max_iters=3",
            "train.val_interval=3",
            f"work_dir={tmp_path}",
        ],
    )
    torch.manual_seed(0)
    trainer = Trainer(cfg)
    assert len(trainer.train_set.digits) == 60000  # every real training digit (resized to data.digit_size)
    results = trainer.train()
    assert np.isfinite(results["mse"])
