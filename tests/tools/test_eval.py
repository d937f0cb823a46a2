"""tools/eval.py: the whole split unless the command line limits it, the count printed, the newest run chosen."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "tests" / "plugins"


def _tool(name: str):
    """``tools/<name>.py`` imported as a module, to run its ``main`` in this process."""
    spec = importlib.util.spec_from_file_location(f"eval_test_{name}_tool", ROOT / "tools" / f"{name}.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two runs of the plug-in toy task under two config names (toy_a older, with eval.max_batches=1), and a
    newer run of another task that ``--task labtasks.toy_denoise`` must not pick."""
    from toolkit.config import load_config
    from toolkit.engine import Trainer

    tmp = tmp_path_factory.mktemp("eval_runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(PLUGINS))
        made = {}
        for i, (stem, extra) in enumerate([("toy_a", "eval = dict(max_batches=1)\n"), ("toy_b", "")]):
            cfg_file = tmp / f"{stem}.py"
            cfg_file.write_text(
                f"_base_ = [{str(PLUGINS / 'toy_denoise.py')!r}]\n"
                "train = dict(max_iters=2, val_interval=2, log_interval=1)\n" + extra
            )
            trainer = Trainer(load_config(cfg_file), work_dir=tmp / "runs")
            trainer.train()
            best = trainer.run_dir / "checkpoints" / "best.pt"
            os.utime(best, (1_700_000_000 + 100 * i,) * 2)  # toy_b's best.pt is the newer one
            made[stem] = (cfg_file, best)
        other = tmp / "runs" / "dnanet_tiny" / "20990101_000000"
        (other / "checkpoints").mkdir(parents=True)
        (other / "config.py").write_text("task = 'sirst'\n")
        (other / "checkpoints" / "best.pt").write_bytes(b"not a checkpoint")
        os.utime(other / "checkpoints" / "best.pt", (1_800_000_000,) * 2)
    return tmp, made


def _eval(argv, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    monkeypatch.setattr(sys, "argv", ["eval.py", *argv])
    assert _tool("eval").main() == 0
    return capsys.readouterr().out


def test_task_picks_the_newest_best_among_all_of_its_runs(runs, monkeypatch, capsys):
    from labtasks.toy_denoise import ToyDenoiseTask

    tmp, made = runs
    # the older run's config comes first, as dnanet.py comes before dnanet_tiny.py for sirst
    monkeypatch.setattr(ToyDenoiseTask, "default_configs", (str(made["toy_a"][0]), str(made["toy_b"][0])))
    out = _eval(
        ["--task", "labtasks.toy_denoise", "--work-dir", str(tmp / "runs"), "--out", str(tmp / "e1")],
        monkeypatch,
        capsys,
    )
    best = made["toy_b"][1]
    assert f"newest best.pt among 2 run(s) of task labtasks.toy_denoise: {best} (config toy_b, iteration 2" in out
    assert json.loads((tmp / "e1" / "metrics.json").read_text())["checkpoint"] == str(best)


def test_whole_split_by_default_whatever_the_runs_eval_max_batches(runs, monkeypatch, capsys):
    tmp, made = runs
    run_config = made["toy_a"][1].parents[1] / "config.py"  # trained with eval.max_batches=1 (16 of 64 samples)
    args = [str(run_config), "--checkpoint", str(made["toy_a"][1])]
    out = _eval([*args, "--out", str(tmp / "whole")], monkeypatch, capsys)
    assert "note: the config's eval.max_batches=1 limits validation during training only" in out
    assert "scored 64 of 64 samples of split 'test' (the whole split)" in out
    record = json.loads((tmp / "whole" / "metrics.json").read_text())
    assert record["samples"] == 64 and record["split_samples"] == 64

    out = _eval([*args, "--max-batches", "2", "--out", str(tmp / "part")], monkeypatch, capsys)
    assert "scored 32 of 64 samples of split 'test' (partial: --max-batches 2)" in out
    record = json.loads((tmp / "part" / "metrics.json").read_text())
    assert record["samples"] == 32 and record["max_batches"] == 2
    assert record["metrics"]["mse"] != json.loads((tmp / "whole" / "metrics.json").read_text())["metrics"]["mse"]
