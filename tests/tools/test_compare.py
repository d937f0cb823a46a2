"""tools/compare.py: two toy runs that differ in one key show exactly that key, with their own best values."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from toolkit.config import load_config
from toolkit.engine import Trainer
from toolkit.errors import DataError

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
PLUGINS = ROOT / "tests" / "plugins"
TOY = PLUGINS / "toy_denoise.py"
SHORT = ["train.max_iters=4", "train.val_interval=2", "train.log_interval=2"]


def test_one_differing_key_is_the_only_column(compare, tmp_path, capsys):
    runs = []
    for lr in (0.2, 0.05):
        trainer = Trainer(load_config(TOY, [*SHORT, f"optim.lr={lr}"]), work_dir=tmp_path / "runs", argv=["test"])
        trainer.train()
        runs.append(trainer.run_dir)
    out = tmp_path / "cmp"
    assert compare.main([*map(str, runs), "--out", str(out)]) == 0
    with open(out / "compare.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:2] == ["run_dir", "optim.lr"] and list(rows[0])[2] == "best_mse"  # one key differs
    assert [float(r["optim.lr"]) for r in rows] == [0.2, 0.05]
    for run, row in zip(runs, rows):
        val = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if '"val"' in x]
        assert float(row["best_mse"]) == min(r["mse"] for r in val)  # mse: lower is better
        assert float(row["final_mse"]) == val[-1]["mse"] and row["iterations"] == "4"
        assert row["params"] == "38"  # one 3x3 conv on 2 channels: 2*2*9 weights + 2 biases
        # one 8x8 sample: 2 output channels x 64 pixels x (2 x 9) multiply-adds x 2 (the residual sum is not counted)
        assert float(row["flops_per_sample"]) == 2 * 64 * 18 * 2
        train = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if '"train"' in x]
        speeds = sorted(r["it_per_s"] for r in train)  # two records (iterations 2 and 4): the median is their mean
        assert len(speeds) == 2 and float(row["samples_per_s"]) == pytest.approx(8 * (speeds[0] + speeds[1]) / 2)
        assert float(row["wall_seconds"]) >= 0
    printed = capsys.readouterr().out
    assert "1 config key(s) differ; mse: lower is better" in printed
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert compare.config_differences([{"a": {"b": [1, 2]}, "c": 0}, {"a": {"b": [1, 3]}}]) == ["a.b.1", "c"]
    with pytest.raises(DataError, match="not a run folder"):
        compare.main([str(tmp_path), "--out", str(out)])
