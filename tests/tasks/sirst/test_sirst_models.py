"""SIRST models: published sizes, shapes, deep supervision, attention and backbone slots, a fixed-batch overfit."""

from __future__ import annotations

import pytest
import torch

from tasks.sirst.models import ACM, DNANet, ResidualBlock, UNet
from toolkit.errors import ConfigError, DataError
from toolkit.losses import build_loss
from toolkit.registry import ATTENTION, BACKBONES, MODELS


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_dnanet_standard_setting_has_the_published_size():
    # paper setting: widths 16-256, two blocks per level, RGB input; the comparison tables give 4.70M
    # (4.697M). The released CSAM has no biases: 2*C*(C//16) channel-MLP weights + 2*49 spatial weights.
    bare = DNANet(in_channels=3, attn=None)
    blocks = [b for b in bare.modules() if isinstance(b, ResidualBlock)]
    assert len(blocks) == 26
    csam = sum(2 * b.conv2[0].out_channels * (b.conv2[0].out_channels // 16) + 2 * 49 for b in blocks)
    paper = n_params(bare) + csam
    assert paper == 4_696_888
    assert round(paper / 1e6, 2) == 4.70
    assert n_params(DNANet(in_channels=3)) == paper  # the default slot: shared 'cbam' without biases
    with_biases = DNANet(in_channels=3, attn=dict(type="cbam"))  # adds C + C//16 + 1 per block
    extra = sum(b.conv2[0].out_channels + b.conv2[0].out_channels // 16 + 1 for b in blocks)
    assert n_params(with_biases) == paper + extra == 4_698_784


def test_acm_resnet20_has_the_published_size():
    # ACM U-Net with the ResNet-20 backbone (3 blocks per stage, widths 8-64): 0.398M in the tables
    assert n_params(ACM(in_channels=3)) == 397_851
    assert round(n_params(ACM(in_channels=3)) / 1e6, 3) == 0.398


def test_acm_bn_momentum_reaches_the_toolbox_set_of_batchnorms():
    # BasicIRSTD's ACM: momentum 0.9 in the stem (4), the two shortcut projections, the two fusion modules
    # (5 each) and the head (1); the 12 residual blocks' own BatchNorms (2 each) keep 0.1
    model = ACM(in_channels=1, bn_momentum=0.9)
    momenta = [m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert momenta.count(0.9) == 4 + 2 + 2 * 5 + 1 and momenta.count(0.1) == 2 * 3 * 5
    assert all(m.momentum == 0.1 for m in ACM(in_channels=1).modules() if isinstance(m, torch.nn.BatchNorm2d))
    # it changes the running average only: a training step moves running_mean by 0.9 of the way
    stem_bn = model.stem[0]
    x = torch.rand(2, 1, 32, 32) + 5.0
    model.train()(x)
    assert torch.allclose(stem_bn.running_mean, 0.9 * x.mean(), atol=1e-5)
    for bad in (1.5, 0, True, "0.9"):
        with pytest.raises(ConfigError, match="bn_momentum"):
            ACM(in_channels=1, bn_momentum=bad)


def test_unet_shipped_config_size():
    # tasks/sirst/unet.py on grey input: widths 16-256, bilinear up-sampling + 1x1 reduction, 1x1 head
    spec = dict(type="unet", in_channels=1, num_classes=1, channels=[16, 32, 64, 128, 256], attn=None)
    model = MODELS.build(spec)
    assert n_params(model) == 1_811_729
    # the default encoder is the registered 'unet' backbone: naming it gives the same model
    named = MODELS.build(dict(spec, channels=None, backbone=dict(type="unet", channels=[16, 32, 64, 128, 256])))
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert {k: v.shape for k, v in named.state_dict().items()} == shapes
    # the paper's 2x2 up-convolution in place of resize + 1x1: 4x the weights of each reduction
    deconv = MODELS.build(dict(spec, upsample="deconv"))
    assert n_params(deconv) - n_params(model) == 3 * sum(a * b for a, b in zip([16, 32, 64, 128], [32, 64, 128, 256]))


@pytest.mark.parametrize(
    "backbone",
    [
        dict(type="resnet18", base_channels=8, stem_stride=1),
        dict(type="resnet", depth=50, base_channels=4),  # stride-4 stem: logits up-sampled to the input
        dict(type="convnext", depths=(1, 1, 1, 1), channels=(8, 16, 24, 32), patch_size=2),
        dict(type="unet", channels=(4, 8, 16)),
    ],
    ids=lambda b: b["type"] + str(b.get("depth", "")),
)
def test_unet_backbone_slot_takes_every_pyramid(backbone):
    model = MODELS.build(dict(type="unet", in_channels=1, backbone=backbone, attn="se"))
    assert n_params(model.backbone) == n_params(BACKBONES.build(dict(backbone, in_channels=1, attn="se")))
    se = ATTENTION.get("se")
    assert any(isinstance(m, se) for m in model.backbone.modules())  # the model's attn reaches the encoder
    assert any(isinstance(m, se) for m in model.decoder.modules())
    x = torch.randn(2, 1, 37, 53)
    out = model(x)
    assert out.shape == (2, 1, 37, 53) and torch.isfinite(out).all()
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_unet_backbone_options_are_checked():
    with pytest.raises(ConfigError, match="set model.channels=None"):
        UNet(in_channels=1, channels=[8, 16], backbone="resnet18")
    with pytest.raises(ConfigError, match="in_channels=3"):
        UNet(in_channels=1, backbone=dict(type="resnet18", in_channels=3))
    own = UNet(in_channels=1, backbone=dict(type="resnet18", base_channels=8, attn=None), attn="se")
    assert not any(isinstance(m, ATTENTION.get("se")) for m in own.backbone.modules())  # the spec's own attn wins


def test_acm_training_batch_of_one_is_a_clear_error():
    model = ACM(in_channels=1, channels=[4, 8, 16, 32], num_blocks=[1, 1, 1]).train()
    with pytest.raises(ConfigError, match="batch of at least 2"):
        model(torch.randn(1, 1, 32, 32))
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 1, 32, 32)
    add = ACM(in_channels=1, channels=[4, 8, 16, 32], num_blocks=[1, 1, 1], fuse="add").train()
    assert add(torch.randn(1, 1, 32, 32)).shape == (1, 1, 32, 32)  # the ablation has no pooled BatchNorm


@pytest.mark.parametrize("name", ["dnanet", "acm", "unet"])
def test_models_keep_odd_sizes_and_check_the_input(name):
    small = {
        "dnanet": dict(channels=[4, 8, 16], num_blocks=[1, 1], attn=None),
        "acm": dict(channels=[4, 8, 16, 32], num_blocks=[1, 1, 1]),
        "unet": dict(channels=[4, 8, 16]),
    }[name]
    model = MODELS.build(dict(type=name, in_channels=1, **small)).eval()
    with torch.no_grad():
        for h, w in ((37, 53), (64, 64), (33, 96)):
            out = model(torch.randn(1, 1, h, w))
            assert out.shape == (1, 1, h, w)
    with pytest.raises(DataError, match=r"\(B, 1, H, W\)"):
        model(torch.randn(1, 3, 32, 32))


def test_dnanet_deep_supervision_outputs_and_gradients():
    model = DNANet(in_channels=1, channels=[4, 8, 16, 32], num_blocks=[1, 1, 1], attn=None)
    x = torch.randn(2, 1, 32, 40)
    outs = model.train()(x)
    assert isinstance(outs, list) and len(outs) == 3 and all(o.shape == (2, 1, 32, 40) for o in outs)
    loss = build_loss([dict(type="deep_supervision", loss=dict(type="soft_iou"))])(outs, (x > 1).float())["loss"]
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    with torch.no_grad():
        fused = model.eval()(x)
    assert isinstance(fused, torch.Tensor) and fused.shape == (2, 1, 32, 40)
    single = DNANet(in_channels=1, channels=[4, 8, 16], num_blocks=[1, 1], attn=None, deep_supervision=False)
    assert isinstance(single.train()(x), torch.Tensor) and len(single.heads) == 1


@pytest.mark.parametrize("attn", ["cbam", "se", "eca", "coord"])
def test_attention_slot_swaps_any_registered_block(attn):
    if attn not in ATTENTION:
        pytest.skip(f"attention {attn!r} is not registered")
    kw = dict(in_channels=1, channels=[8, 16, 32], num_blocks=[1, 1])
    bare, swapped = DNANet(attn=None, **kw), DNANet(attn=dict(type=attn), **kw)
    assert n_params(swapped) >= n_params(bare)
    blocks = [b for b in swapped.modules() if isinstance(b, ResidualBlock)]
    assert all(type(b.attn).__name__ != "Identity" for b in blocks)
    acm = ACM(in_channels=1, channels=[4, 8, 16, 32], num_blocks=[1, 1, 1], attn=attn)
    unet = UNet(in_channels=1, channels=[8, 16], attn=attn)
    with torch.no_grad():
        for m in (swapped, acm, unet):
            assert m.eval()(torch.randn(1, 1, 32, 32)).shape == (1, 1, 32, 32)


def test_tiny_dnanet_overfits_a_fixed_batch():
    torch.manual_seed(0)
    target = torch.zeros(2, 1, 32, 32)
    target[0, 0, 5:8, 6:9] = 1
    target[0, 0, 20:22, 25:27] = 1
    target[1, 0, 14:17, 14:16] = 1
    x = 2 * target + 0.3 * torch.randn_like(target) + 0.2 * torch.randn(2, 1, 1, 32).cumsum(-1) / 5
    model = DNANet(in_channels=1, channels=[8, 16, 32], num_blocks=[1, 1], attn=None)
    loss_fn = build_loss([dict(type="deep_supervision", loss=dict(type="soft_iou"))])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(60):
        loss = loss_fn(model(x), target)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = torch.sigmoid(model.eval()(x)) > 0.5
    iou = (pred & (target > 0)).sum() / (pred | (target > 0)).sum()
    assert loss.item() < 0.3
    assert iou.item() > 0.8


def test_basicirstd_config_is_basicirstds_dnanet():
    """tasks/sirst/dnanet_basicirstd.py on grey input: BasicIRSTD's DNANet has 4,696,568 parameters."""
    from pathlib import Path

    from toolkit.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[3] / "tasks/sirst/dnanet_basicirstd.py")
    assert n_params(MODELS.build(cfg.model, context={"in_channels": 1})) == 4_696_568
