"""tools/train.py habits: --print-config writes nothing; a saved run's config.py re-runs under its own name."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from toolkit.config import load_config

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "tests" / "plugins"


def _train(argv, monkeypatch) -> int:
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    monkeypatch.setattr(sys, "argv", ["train.py", *argv])
    spec = importlib.util.spec_from_file_location("train_test_tool", ROOT / "tools" / "train.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool.main()


def test_print_config_prints_the_resolved_config_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # a run would create work_dirs/ here
    cfg = ROOT / "tasks" / "video_pred" / "simvp_tiny.py"
    sets = ["--set", "train.max_iters=7", "model.attn.type=se", "+model.attn.reduction=8"]
    assert _train([str(cfg), *sets, "--print-config", "--work-dir", str(tmp_path / "runs")], monkeypatch) == 0
    text = capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []
    (tmp_path.parent / "printed.py").write_text(text)
    printed = load_config(tmp_path.parent / "printed.py")
    assert printed.train.max_iters == 7 and printed.model.attn == {"type": "se", "reduction": 8}
    assert printed.to_dict() == load_config(cfg, sets[1:]).to_dict()  # the whole resolved config, _source_ too


def test_rerunning_a_saved_config_keeps_the_original_name(tmp_path, monkeypatch, capsys):
    sets = ["--set", "train.max_iters=1", "train.val_interval=1"]
    assert _train([str(PLUGINS / "toy_denoise.py"), *sets, "--work-dir", str(tmp_path)], monkeypatch) == 0
    (first,) = (tmp_path / "toy_denoise").iterdir()
    assert _train([str(first / "config.py"), *sets, "--work-dir", str(tmp_path)], monkeypatch) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy_denoise"]  # not work_dirs/config/
    assert len(list((tmp_path / "toy_denoise").iterdir())) == 2
