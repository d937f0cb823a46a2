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
    # one TensorBoard HParams session per value, holding the value and the table's numbers
    for r in rows:
        hparams, domain, scalars = _hparams(tmp_path / "tb" / r["model.attn.type"])
        assert hparams == {"model.attn.type": r["model.attn.type"]} and domain == ["None", "se"]
        assert scalars["mse"] == pytest.approx(float(r["mse"]), rel=1e-6)
        assert scalars["params"] == int(r["params"]) and scalars["samples_per_s"] > 0


def _hparams(folder: Path) -> tuple[dict, list, dict]:
    """What TensorBoard's HParams dashboard reads from ``folder``: values, the key's domain, metric scalars."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    acc = EventAccumulator(str(folder))
    acc.Reload()
    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    domain = [v.string_value for v in experiment.hparam_infos[0].domain_discrete.values]
    values = {k: getattr(v, v.WhichOneof("kind")) for k, v in start.hparams.items()}
    return values, domain, {tag: acc.Scalars(tag)[-1].value for tag in acc.Tags()["scalars"]}


def test_seeds_give_mean_and_std_and_flops_differences(ablate, tmp_path):
    import statistics

    argv = [str(CONFIG), "--vary", "model.attn.type=none,se", "--seeds", "2", "--set", *TINY, "--out", str(tmp_path)]
    assert ablate.main(argv) == 0
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    pairs = [(r["model.attn.type"], r["seed"]) for r in rows]
    assert pairs == [("None", "42"), ("None", "43"), ("se", "42"), ("se", "43")]
    for r in rows:  # every seed's own run, its value that run's best
        state = torch.load(Path(r["run_dir"]) / "checkpoints" / "best.pt", weights_only=True, map_location="cpu")
        assert state["config"]["seed"] == int(r["seed"]) and abs(float(r["mse"]) - state["best"]) < 1e-9
    se = [float(r["mse"]) for r in rows[2:]]
    md = (tmp_path / "results.md").read_text()
    assert f"{statistics.mean(se):.6g} ± {statistics.stdev(se):.2g} (n=2)" in md
    delta = float(rows[2]["flops_per_sample"]) - float(rows[0]["flops_per_sample"])
    assert delta > 0 and f"{delta:+,.0f}" in md  # SE's FLOPs shown as a difference to the first value
