"""Every task model's attention slot takes every ATTENTION entry: build, forward, backward.

This is the toolkit's promise that a block written for one task runs in the others by changing one
config value. Each model is built at a tiny size once per attention entry; the test checks that the
requested block really sits in the model (the slot is wired), that the output is finite and has the
task's shape, and that gradients reach every parameter of the inserted blocks.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
import torch

from toolkit.errors import ConfigError
from toolkit.modules.attention import ATTENTION
from toolkit.registry import MODELS

for _task in ("video_pred", "sirst", "hsi", "restoration"):
    for _mod in (f"tasks.{_task}", f"tasks.{_task}.models"):
        try:
            importlib.import_module(_mod)
        except ModuleNotFoundError:
            pass

# name -> (smallest constructor arguments, input shape, expected output shape); batch 2 so that
# BatchNorm inside a block can train on a 1x1 map
TINY = {
    "simvp": (
        dict(in_shape=(2, 1, 8, 8), hid_S=4, hid_T=8, N_S=2, N_T=2, kernel_sizes=(3,), groups=2),
        (2, 2, 1, 8, 8),
        (2, 2, 1, 8, 8),
    ),
    "simvp_gsta": (
        dict(type="simvp", in_shape=(2, 1, 8, 8), hid_S=4, hid_T=8, N_S=2, N_T=2, translator="gsta", mlp_ratio=2.0),
        (2, 2, 1, 8, 8),
        (2, 2, 1, 8, 8),
    ),
    "pastnet": (
        dict(
            in_shape=(2, 1, 16, 16),
            patch_size=8,
            embed_dim=8,
            num_blocks=1,
            hid_S=4,
            res_layers=1,
            res_channels=4,
            num_codes=8,
            code_dim=4,
            hid_T=8,
            N_T=2,
            kernel_sizes=(3,),
            groups=2,
        ),
        (2, 2, 1, 16, 16),
        (2, 2, 1, 16, 16),
    ),
    "acm": (dict(in_channels=1, channels=(4, 8, 16, 32), num_blocks=(1, 1, 1)), (2, 1, 16, 16), (2, 1, 16, 16)),
    "dnanet": (
        dict(in_channels=1, channels=(4, 8, 16, 32, 64), num_blocks=(1, 1, 1, 1), deep_supervision=False),
        (2, 1, 16, 16),
        (2, 1, 16, 16),
    ),
    "unet": (dict(in_channels=1, channels=(4, 8, 16)), (2, 1, 16, 16), (2, 1, 16, 16)),
    "hybridsn": (
        dict(in_channels=14, num_classes=3, window=9, hidden_channels=8, dense=(8,)),
        (2, 1, 14, 9, 9),
        (2, 3),
    ),
    "hsi_lite": (
        dict(in_channels=8, num_classes=3, window=7, channels_3d=2, hidden_channels=8),
        (2, 1, 8, 7, 7),
        (2, 3),
    ),
    "safmn": (dict(channels=8, num_blocks=1, upscale=2), (2, 3, 8, 8), (2, 3, 16, 16)),
    "restormer": (
        dict(channels=4, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1, num_heads=(1, 1, 1, 1)),
        (2, 3, 8, 8),
        (2, 3, 8, 8),
    ),
}


def _attn_slots(cls) -> list[str]:
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return []
    return [p for p in params if p == "attn" or p.endswith("_attn")]


def test_every_model_with_an_attention_slot_is_covered():
    hosts = {name for name, cls in MODELS.items() if _attn_slots(cls)}
    covered = {spec.get("type", key) for key, (spec, _, _) in TINY.items()}
    assert hosts <= covered, f"add a tiny setting for {sorted(hosts - covered)} to TINY"


def _output_tensor(out) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (list, tuple)):
        return out[-1]
    return out["pred"] if "pred" in out else next(iter(out.values()))


@pytest.mark.parametrize("attn", sorted(ATTENTION))
@pytest.mark.parametrize("key", sorted(TINY))
def test_model_runs_with_attention(key, attn):
    spec, in_shape, out_shape = TINY[key]
    name = spec.get("type", key)
    if name not in MODELS:
        pytest.skip(f"model {name!r} is not registered in this checkout")
    kwargs = {k: v for k, v in spec.items() if k != "type"}
    torch.manual_seed(0)
    model = MODELS.build(dict(type=name, **kwargs, attn=attn))
    blocks = [m for m in model.modules() if isinstance(m, ATTENTION.get(attn))]
    assert blocks, f"{name}: attn={attn!r} was not placed in the model"
    x = torch.rand(in_shape)
    pred = _output_tensor(model(x))
    assert pred.shape == out_shape and torch.isfinite(pred).all()
    pred.square().mean().backward()
    for block in blocks:
        for pname, p in block.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), f"{name}/{attn}: no gradient in {pname}"


# ------------------------------------------------------------------ configs/mix


MIX_CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs" / "mix").glob("*.py"))


@pytest.mark.parametrize("path", MIX_CONFIGS, ids=lambda p: p.stem)
def test_mix_config_trains_one_step(path):
    from torch.utils.data import DataLoader

    from toolkit.config import load_config
    from toolkit.engine.trainer import build_task

    cfg = load_config(path)
    try:
        task = build_task(cfg)
    except ConfigError as exc:  # the task package is not part of this checkout
        pytest.skip(str(exc))
    torch.manual_seed(0)
    dataset = task.build_dataset("train")
    model = task.build_model()
    attn = cfg.model.get("attn")
    if isinstance(attn, dict) and attn.get("type"):
        assert any(isinstance(m, ATTENTION.get(attn["type"])) for m in model.modules())
    loss_fn = task.build_loss()
    batch = next(iter(DataLoader(dataset, batch_size=2, collate_fn=task.collate_fn("train"))))
    out = task.train_step(model, batch, loss_fn)
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
