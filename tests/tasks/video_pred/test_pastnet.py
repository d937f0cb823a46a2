"""PastNet: parameter count at the Moving MNIST setting, shapes, the VQ auxiliary loss and its
switch, the attention slot, the config checks, the task's train step, and a fixed batch overfit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import tasks.video_pred  # noqa: F401  registers the models, datasets and task
from tasks.video_pred.models.pastnet import PastNet
from toolkit.config import load_config
from toolkit.engine import build_task
from toolkit.errors import ConfigError
from toolkit.registry import MODELS

ROOT = Path(__file__).resolve().parents[3]
TINY = dict(
    patch_size=8,
    embed_dim=32,
    hid_S=32,
    res_layers=1,
    res_channels=16,
    num_codes=64,
    code_dim=16,
    hid_T=64,
    N_T=2,
    kernel_sizes=(3, 5),
    groups=4,
)


def _n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_parameter_count_at_moving_mnist_setting():
    model = MODELS.build(dict(type="pastnet", in_shape=(10, 1, 64, 64)))
    # FPG: patch embed 1*128*16*16 + 128, position 128*4*4, Fourier block 83,328, final norm 256,
    # transposed convs 128->16 (2x2), 16->4 (2x2), 4->1 (4x4) with biases
    fpg = (32768 + 128) + 2048 + 83328 + 256 + (128 * 16 * 4 + 16) + (16 * 4 * 4 + 4) + (4 * 16 + 1)
    assert _n_params(model.fpg) == fpg == 127061
    assert _n_params(model.translator) == 15481344  # Inception U-Net 640 -> 256 channels, 8 + 8 blocks
    assert _n_params(model.quantizer) == 0  # codebook 512 x 64 and EMA statistics are buffers
    # NOTE: the released model reports 16,498,326 (~16.5M): it also counts its codebook and EMA sums
    # (2 x 512 x 64 = 65,536), kept as nn.Parameters there although no gradient trains them.
    assert _n_params(model) == 16432790 == 16498326 - 65536


def test_tiny_forward_backward_and_aux_loss():
    torch.manual_seed(0)
    model = PastNet((4, 1, 32, 32), **TINY).train()
    x = torch.rand(2, 4, 1, 32, 32)
    y, aux = model(x, return_aux=True)
    assert y.shape == x.shape
    assert aux["vq"] is not None and aux["vq"].ndim == 0 and aux["vq"].item() > 0
    assert 1.0 <= model.vq_stats["perplexity"].item() <= 64
    (y.pow(2).mean() + aux["vq"]).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []


def test_vq_loss_weight_scales_and_switches_off():
    torch.manual_seed(0)
    x = torch.rand(2, 4, 1, 32, 32)
    a = PastNet((4, 1, 32, 32), **TINY, vq_loss_weight=1.0).eval()
    b = PastNet((4, 1, 32, 32), **TINY, vq_loss_weight=3.0).eval()
    b.load_state_dict(a.state_dict())
    (_, aux_a), (_, aux_b) = a(x, return_aux=True), b(x, return_aux=True)
    assert aux_b["vq"].item() == pytest.approx(3.0 * aux_a["vq"].item(), rel=1e-6)
    off = PastNet((4, 1, 32, 32), **TINY, vq_loss_weight=0.0)
    assert off(x, return_aux=True)[1] == {}  # no VQ term
    assert off(x).shape == x.shape  # without return_aux: the prediction only


def test_channels_and_sizes_come_from_in_shape_and_attention_slot():
    rgb = PastNet((3, 3, 48, 32), **{**TINY, "patch_size": 16})
    assert rgb(torch.rand(1, 3, 3, 48, 32)).shape == (1, 3, 3, 48, 32)
    with_attn = PastNet((4, 1, 32, 32), **TINY, attn="gsta")
    assert _n_params(with_attn) > _n_params(PastNet((4, 1, 32, 32), **TINY))
    assert with_attn(torch.rand(1, 4, 1, 32, 32)).shape == (1, 4, 1, 32, 32)


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="divisible by model.patch_size=16"):
        PastNet((10, 1, 40, 40))
    with pytest.raises(ConfigError, match="in_shape"):
        PastNet(None)
    with pytest.raises(ConfigError, match="out_frames"):
        PastNet((10, 1, 64, 64), out_frames=5)
    with pytest.raises(ValueError, match=r"\(B, 4, 1, 32, 32\)"):
        PastNet((4, 1, 32, 32), **TINY)(torch.rand(1, 5, 1, 32, 32))


def test_task_adds_the_vq_loss_to_the_objective():
    cfg = load_config(ROOT / "tasks/video_pred/pastnet_tiny.py")
    cfg.data.splits.val.num_clips = 4
    task = build_task(cfg)
    ds = task.build_dataset("val")
    model = task.build_model()
    assert model.in_shape == (5, 1, 32, 32)
    batch = {k: torch.stack([ds[i][k] for i in range(2)]) for k in ("input", "target")}
    out = task.train_step(model, batch, task.build_loss())
    assert out["loss_aux"].item() > 0
    assert out["loss"].item() == pytest.approx(out["loss_mse"].item() + out["loss_aux"].item(), rel=1e-5)


def test_overfits_a_fixed_batch():
    torch.manual_seed(0)
    model = PastNet((4, 1, 32, 32), **TINY)
    x = torch.zeros(4, 8, 1, 32, 32)
    for t in range(8):  # a bright square moving right by 2 px per frame
        x[:, t, :, 10:18, 4 + 2 * t : 12 + 2 * t] = 1.0
    inputs, target = x[:, :4], x[:, 4:]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        pred, aux = model(inputs, return_aux=True)
        loss = torch.nn.functional.mse_loss(pred, target)
        (loss + aux["vq"]).backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
