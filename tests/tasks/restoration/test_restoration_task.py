"""The restoration Task end to end: configs, overfitting a batch, Trainer run, report, inference."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import tasks.restoration  # noqa: F401  (registers the task)
from toolkit.config import load_config
from toolkit.errors import ConfigError, RegistryError
from toolkit.losses import build_loss

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ["safmn_x4", "safmn_tiny", "restormer_denoise", "restormer_tiny"]


def _cfg(name: str, *overrides: str):
    return load_config(ROOT / "tasks" / "restoration" / f"{name}.py", list(overrides))


def _task(cfg):
    from tasks.restoration.task import RestorationTask

    return RestorationTask(cfg)


@pytest.mark.parametrize("name", CONFIGS)
def test_configs_load_and_fill_sizes(name):
    cfg = _cfg(name)
    assert cfg.task == "restoration"
    task = _task(cfg)
    if "tiny" in name:  # the big models are built (and counted) in test_safmn / test_restormer
        model = task.build_model()
        x = torch.rand(1, 3, 16, 16)
        y = model(x)
        assert y.shape == (1, 3, 16 * task.scale, 16 * task.scale)
    assert {"psnr", "ssim", "psnr_y", "ssim_y"} <= set(task.build_metrics().metrics)


def test_paper_settings_in_configs():
    s = _cfg("safmn_x4")
    assert (s.optim.type, s.optim.lr, tuple(s.optim.betas)) == ("adam", 1e-3, (0.9, 0.99))
    assert s.sched.eta_min == 1e-5 and s.train.ema.decay == 0.999
    assert [(t.type, t.weight) for t in s.loss] == [("l1", 1.0), ("fft", 0.05)]
    r = _cfg("restormer_denoise")
    assert (r.optim.type, r.optim.lr, r.optim.weight_decay) == ("adamw", 3e-4, 1e-4)
    assert r.data.noise.sigma == 25 and r.data.scale == 1 and [t.type for t in r.loss] == ["l1"]


def test_config_mistakes_are_named():
    # unknown data keys are refused by the registered dataset constructor, which names them
    with pytest.raises(RegistryError, match=r"unknown argument\(s\) \['scael'\]"):
        _task(_cfg("safmn_tiny", "+data.scael=2")).build_dataset("train")
    with pytest.raises(ConfigError, match="up-scales by 2 but data.scale is 4"):
        _task(_cfg("safmn_tiny", "model.upscale=2")).build_model()


def test_tiny_safmn_overfits_a_fixed_batch():
    torch.manual_seed(0)
    task = _task(_cfg("safmn_tiny"))
    model = task.build_model()
    loss_fn = build_loss(task.cfg.loss)
    ds = task.build_dataset("train")
    batch = torch.utils.data.default_collate([ds[i] for i in range(4)])
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(30):
        out = task.train_step(model, batch, loss_fn)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    assert losses[-1] < 0.35 * losses[0]  # 0.72 -> 0.17 in 30 steps


def test_trainer_end_to_end_report_and_infer(tmp_path):
    from toolkit.config import load_config as load_saved
    from toolkit.engine import Trainer, eval_loader, evaluate, load_for_eval
    from toolkit.engine.checkpoint import load_checkpoint

    cfg = _cfg("safmn_tiny", "train.max_iters=4", "train.val_interval=4", "device='cpu'")
    trainer = Trainer(cfg, work_dir=tmp_path)
    results = trainer.train()
    assert set(results) >= {"psnr", "ssim", "psnr_y", "ssim_y", "bicubic_psnr", "bicubic_ssim_y"}
    assert trainer.best == results["psnr"] != results["bicubic_psnr"]  # best.pt follows the model's PSNR
    assert all(np.isfinite(v) for v in results.values())
    run = trainer.run_dir
    assert (run / "checkpoints" / "best.pt").is_file() and any((run / "vis").iterdir())

    # the data-derived sizes are in the run folder's config and the checkpoint's, not None
    for saved in (load_saved(run / "config.py"), load_checkpoint(run / "checkpoints" / "best.pt")["config"]):
        assert (saved["model"]["in_channels"], saved["model"]["upscale"]) == (3, 4)

    # evaluation from the checkpoint, as tools/eval.py does it
    task, dataset, model = load_for_eval(cfg, run / "checkpoints" / "best.pt", "test")
    ev = evaluate(model, task, eval_loader(dataset, cfg, task.collate_fn("test")))
    res = ev.results
    out_dir = tmp_path / "eval"
    out_dir.mkdir()
    task.report(ev.metrics, res, out_dir, model=model, device="cpu")
    rows = (out_dir / "per_image.csv").read_text().splitlines()
    baseline_columns = "bicubic_psnr,bicubic_ssim,bicubic_psnr_y,bicubic_ssim_y"
    assert rows[0] == f"name,psnr,ssim,psnr_y,ssim_y,{baseline_columns}" and len(rows) == 3
    pics = sorted((out_dir / "side_by_side").iterdir())
    assert len(pics) == 2
    pic = cv2.imread(str(pics[0]))
    # five titled panels of the 128x640 test band (LQ, bicubic, output, GT, error), enlarged twice to 256 px and
    # stacked (a wide band), 4 px apart, then the error scale's legend line
    assert pic.shape == (5 * (22 + 256) + 4 * 4 + 4 + 22, 1280, 3)
    table = task.format_results(res, ev.metrics)
    assert "PSNR (dB)" in table and f"{res['psnr_y']:.4f}" in table and table.splitlines()[2].startswith("Y")
    assert f"{res['bicubic_psnr_y']:.4f}" in table.splitlines()[2]

    # inference on a folder: one image whole, one tiled by the memory budget
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(src / "small.png"), rng.integers(0, 256, (20, 24, 3), dtype=np.uint8))
    cv2.imwrite(str(src / "large.png"), rng.integers(0, 256, (70, 50, 3), dtype=np.uint8))
    task.cfg.infer.max_pixels = 40 * 40
    args = argparse.Namespace(input=str(src), out=str(tmp_path / "out"), tile=None, tile_overlap=8, batch_size=2)
    task.infer(model, args, torch.device("cpu"))
    assert cv2.imread(str(tmp_path / "out" / "small.png")).shape == (80, 96, 3)
    assert cv2.imread(str(tmp_path / "out" / "large.png")).shape == (280, 200, 3)


@pytest.mark.parametrize("flag, used", [(None, 8), (5, 5)])
def test_infer_takes_tile_overlap_from_config_unless_given(flag, used, tmp_path, monkeypatch):
    # tools/infer.py passes tile_overlap=None when --tile-overlap is absent; then infer.tile_overlap counts
    import tasks.restoration.task as task_module

    seen = []

    def spy(model, x, tile, overlap, batch_size=1):
        seen.append(overlap)
        return torch.zeros(1, 3, x.shape[-2] * 4, x.shape[-1] * 4)

    monkeypatch.setattr(task_module, "tiled_forward", spy)
    task = _task(_cfg("safmn_tiny", "infer.tile_overlap=8"))
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((12, 12, 3), np.uint8))
    # tile 16: an overlap must be smaller than the tile (8 and 5 are)
    args = argparse.Namespace(input=str(tmp_path / "a.png"), out=str(tmp_path / "out"), tile=16, tile_overlap=flag)
    task.infer(task.build_model(), args, torch.device("cpu"))
    assert seen == [used]


def test_infer_cli_leaves_tile_overlap_to_the_config(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    import infer as infer_tool

    args = infer_tool.parse_args(["cfg.py", "--checkpoint", "c.pt", "--input", "i", "--out", "o"])
    assert args.tile_overlap is None
