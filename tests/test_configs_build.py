"""Every config under tasks/ and configs/ loads, and every one that defines a model builds it."""

import importlib
from pathlib import Path

import pytest

from toolkit.config import load_config
from toolkit.registry import MODELS

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(
    p
    for p in [*(ROOT / "tasks").glob("*/*.py"), *(ROOT / "configs").rglob("*.py")]
    if p.name != "__init__.py"
    and "_base_" not in p.parts
    and p.stem not in {"task", "data", "visualise", "synth", "clips", "infer", "degrade", "tiling", "transforms"}
)


def is_config(path: Path) -> bool:
    text = path.read_text()
    return "\ntask = " in text or text.startswith("task = ") or "_base_ = " in text


@pytest.mark.parametrize("path", [p for p in CONFIGS if is_config(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_config_builds_its_model(path):
    cfg = load_config(path)
    assert cfg.get("task"), f"{path} has no task"
    importlib.import_module(f"tasks.{cfg.task}")
    if "model" not in cfg:
        return
    cls = MODELS.get(cfg.model.type)
    assert cls is not None
    # data-dependent sizes are filled in by the Task: build through it on the embedded default
    from toolkit.engine import build_task

    task = build_task(cfg)
    if _needs_data(cfg):
        pytest.skip("model sizes need the data set")
    try:
        task.build_dataset("val")
    except Exception as exc:  # noqa: BLE001 - a config may point to user data that is absent here
        pytest.skip(f"dataset not available: {exc}")
    model = task.build_model()
    assert sum(p.numel() for p in model.parameters()) > 0


def _needs_data(cfg) -> bool:
    root_keys = ("root", "data_root", "path", "cube_path")
    return any(cfg.data.get(k) for k in root_keys if isinstance(cfg.get("data"), dict))
