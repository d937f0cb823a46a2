"""Tasks are plug-ins: a task package outside tasks/ trains and evaluates through the command-line tools."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.config import load_config
from toolkit.engine import build_task
from toolkit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "tests" / "plugins"
CFG = PLUGINS / "toy_denoise.py"


def tool(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(PLUGINS), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return out.stdout


def test_a_task_outside_the_tree_trains_and_evaluates_through_the_tools(tmp_path):
    log = tool("tools/train.py", str(CFG), "--work-dir", str(tmp_path))
    assert "task labtasks.toy_denoise, model toy_denoiser" in log
    run = next(tmp_path.glob("toy_denoise/*"))
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    val = [r["mse"] for r in records if r["split"] == "val"]
    assert len(val) == 2 and val[1] < val[0] < 0.09  # the identity start has about the noise's MSE, 0.3**2
    saved = load_config(run / "config.py")
    assert saved.model.in_channels == 2  # the data-derived size is written back
    out = tmp_path / "eval"
    tool("tools/eval.py", str(CFG), "--checkpoint", str(run / "checkpoints" / "best.pt"), "--out", str(out))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["samples"] == 64 and metrics["metrics"]["mse"] < val[0]  # the test split, also denoised


def test_an_unknown_plug_in_is_one_clear_error():
    cfg = load_config(CFG, ["task=nolab.tasks.nothing"])
    with pytest.raises(ConfigError, match="cannot import 'nolab.tasks.nothing'"):
        build_task(cfg)
    cfg = load_config(CFG, ["task=no_such_task"])
    with pytest.raises(ConfigError, match="no package tasks/no_such_task/"):
        build_task(cfg)
