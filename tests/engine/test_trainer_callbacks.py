"""Trainer.on_validation: every validation reaches the callbacks, a returned reason stops the run, early stop stays."""

from __future__ import annotations

import json
from pathlib import Path

from toolkit.config import load_config
from toolkit.engine import Trainer

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
TOY = PLUGINS / "toy_denoise.py"


def test_callbacks_see_every_validation_and_a_reason_stops_the_run(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGINS))
    trainer = Trainer(load_config(TOY, ["train.max_iters=8", "train.val_interval=2"]), work_dir=tmp_path)
    seen = []
    trainer.on_validation.append(lambda it, results: seen.append((it, results["mse"])))
    trainer.on_validation.append(lambda it, results: "enough" if it == 4 else None)
    trainer.train()
    assert trainer.iter == 4 and trainer.stop_reason == "enough"
    records = [json.loads(line) for line in (trainer.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert seen == [(r["iter"], r["mse"]) for r in records if r["split"] == "val"]  # iterations 2 and 4, in order
    assert [it for it, _ in seen] == [2, 4]
    assert "stopped at iteration 4: enough" in (trainer.run_dir / "log.txt").read_text()


def test_early_stop_still_applies_beside_callbacks(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGINS))
    cfg = load_config(TOY, ["train.max_iters=20", "train.val_interval=1", "+train.early_stop.patience=2"])
    trainer = Trainer(cfg, work_dir=tmp_path)
    values = iter([5.0, 3.0, 4.0, 3.5, 1.0])
    trainer.validate = lambda: {"mse": next(values)}  # MSE: lower is better
    calls = []
    trainer.on_validation.append(lambda it, results: calls.append(it))  # returns None: never stops the run
    trainer.train()
    assert calls == [1, 2, 3, 4] and trainer.iter == 4  # 3.0 at iteration 2, then two without improvement
    assert trainer.stop_reason == "early stop: no improvement of mse in 2 validations"
