"""tools/ablate.py: one short run per value, a consistent table, CSV and chart."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from toolkit.config import load_config
from toolkit.errors import ConfigError
from toolkit.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
CONFIG = ROOT / "tasks" / "video_pred" / "simvp_tiny.py"
TINY = [
    "train.max_iters=2",
    "train.batch_size=4",
    "train.val_interval=2",
    "train.log_interval=1",
    "data.splits.train.num_clips=8",
    "data.splits.val.num_clips=4",
    "eval.batch_size=4",
    "model.hid_S=8",
    "model.hid_T=16",
]


@pytest.fixture(scope="module")
def ablate():
    pytest.importorskip("tasks.video_pred")
    sys.path.insert(0, str(TOOLS))
    try:
        spec = importlib.util.spec_from_file_location("tools_ablate_under_test", TOOLS / "ablate.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.path.remove(str(TOOLS))


def test_parse_vary_and_empty_slot(ablate):
    assert ablate.parse_vary("model.attn.type=se, cbam,none") == ("model.attn.type", ["se", "cbam", None])
    assert ablate.override_for(load_config(CONFIG), "model.attn.type", None) == "model.attn={'type': None}"
    assert ablate.parse_vary("optim.lr=1e-3,0.01") == ("optim.lr", [1e-3, 0.01])
    with pytest.raises(ConfigError):
        ablate.parse_vary("model.attn.type")
    with pytest.raises(ConfigError, match="repeats"):
        ablate.parse_vary("model.attn.type=se,se")
    cfg = load_config(CONFIG)
    assert cfg.model.attn is None
    assert ablate.override_for(cfg, "model.attn.type", "se") == "model.attn={'type': 'se'}"
    assert ablate.override_for(cfg, "optim.lr", 0.1) == "optim.lr=0.1"
    assert ablate.override_for(cfg, "optim.type", "sgd") == "optim.type='sgd'"  # not a registry name: plain


def test_type_change_keeps_only_accepted_options(ablate):
    cfg = load_config(CONFIG, ["model.attn={'type': 'cbam', 'reduction': 4, 'spatial_kernel': 5}"])
    assert ablate.override_for(cfg, "model.attn.type", "cbam") == "model.attn.type='cbam'"
    assert ablate.override_for(cfg, "model.attn.type", "se") == "model.attn={'type': 'se', 'reduction': 4}"
    assert ablate.override_for(cfg, "model.attn.type", "eca") == "model.attn={'type': 'eca'}"
    assert ablate.override_for(cfg, "model.attn.type", None) == "model.attn.type=None"


def test_ablation_end_to_end(ablate, tmp_path, capsys):
    assert ablate.main([str(CONFIG), "--vary", "model.attn.type=none,se", "--set", *TINY, "--out", str(tmp_path)]) == 0
    assert str(tmp_path) in capsys.readouterr().out
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["model.attn.type"] for r in rows] == ["None", "se"]
    for r in rows:
        assert r["run_dir"].startswith(str(tmp_path / "runs"))
        run = Path(r["run_dir"])
        model = MODELS.build(json.loads((run / "config.json").read_text())["model"])
        assert int(r["params"]) == sum(p.numel() for p in model.parameters())
        state = torch.load(run / "checkpoints" / "best.pt", weights_only=True, map_location="cpu")
        assert float(r["flops_per_sample"]) > 0 and float(r["samples_per_s"]) > 0
        assert abs(float(r["mse"]) - state["best"]) < 1e-9
    assert int(rows[1]["params"]) > int(rows[0]["params"])  # SE adds weights to every translator slot
    assert float(rows[1]["flops_per_sample"]) > float(rows[0]["flops_per_sample"])
    md = (tmp_path / "results.md").read_text()
    assert "| se |" in md and "lower is better" in md
    assert (tmp_path / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
