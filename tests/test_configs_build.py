"""Every config under tasks/ and configs/ loads, and every one that defines a model builds it."""

from pathlib import Path

import pytest

from toolkit.config import load_config
from toolkit.engine import build_task
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
def test_config_builds_its_model(path, tmp_path):
    cfg = load_config(path)
    assert cfg.get("task"), f"{path} has no task"
    if "model" not in cfg:
        return
    # data-dependent sizes are filled in by the Task: build through it on the embedded default
    task = build_task(cfg)
    assert MODELS.get(cfg.model.type) is not None
    if _needs_data(cfg):
        pytest.skip("model sizes need the data set")
    try:
        task.build_dataset("val")
    except Exception as exc:  # noqa: BLE001 - a config may point to user data that is absent here
        pytest.skip(f"dataset not available: {exc}")
    model = task.build_model()
    assert sum(p.numel() for p in model.parameters()) > 0
    # what the data decided is in the config the run folder and the checkpoint save, not None
    cfg.dump(tmp_path / "config.py")
    saved = load_config(tmp_path / "config.py").model
    accepted = MODELS.accepts(cfg.model.type) or set()
    decided = {k: v for k, v in task.context().items() if k in accepted}
    assert decided, f"{path}: the task states no data-derived size that the model takes"
    for key, value in decided.items():
        assert saved.get(key) is not None, f"{path}: saved model.{key} is None, the data gives {value!r}"
        assert saved[key] == value or list(saved[key]) == list(value), key


def _needs_data(cfg) -> bool:
    root_keys = ("root", "data_root", "path", "cube_path")
    return any(cfg.data.get(k) for k in root_keys if isinstance(cfg.get("data"), dict))
