"""Every BACKBONES entry returns the declared channels and strides; published sizes hold; the U-Net decoder fits any."""

from __future__ import annotations

import pytest
import torch

from toolkit.errors import ConfigError, DataError
from toolkit.modules.attention import ATTENTION
from toolkit.modules.backbones import BACKBONES, UNetDecoder, UNetEncoder

# smallest useful setting of every entry (the paper-sized ones are only counted, not run)
SMALL = {
    "resnet": dict(depth=18, base_channels=8),
    "resnet18": dict(base_channels=8),
    "resnet34": dict(base_channels=4),
    "resnet50": dict(base_channels=4),
    "unet": dict(channels=(4, 8, 16, 32)),
    "convnext": dict(depths=(1, 1, 1, 1), channels=(8, 16, 24, 32)),
    "convnext_tiny": dict(),
}


def _n(m):
    return sum(p.numel() for p in m.parameters())


def test_every_backbone_has_a_small_setting():
    assert sorted(SMALL) == sorted(BACKBONES)


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_declared_channels_and_strides(name):
    torch.manual_seed(0)
    m = BACKBONES.build(dict(type=name, attn="se", **SMALL[name]))
    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    feats = m(x)
    assert len(feats) == len(m.out_channels) == len(m.strides)
    assert m.strides == sorted(m.strides)
    for f, c, s in zip(feats, m.out_channels, m.strides):
        assert f.shape == (2, c, 64 // s, 64 // s)
    sum(f.mean() for f in feats).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "name,params",
    [("resnet18", 11_689_512 - 513_000), ("resnet34", 21_797_672 - 513_000), ("resnet50", 25_557_032 - 2_049_000)],
)
def test_resnet_published_sizes(name, params):
    # published ImageNet sizes minus the 1000-way classifier (512*1000 + 1000, 2048*1000 + 1000)
    assert _n(BACKBONES.build(name)) == params


def test_convnext_tiny_published_size():
    head = 2 * 768 + 768 * 1000 + 1000  # final LayerNorm + 1000-way classifier
    assert _n(BACKBONES.build("convnext_tiny")) + head == 28_589_128


def test_per_stage_attention_and_errors():
    m = BACKBONES.build(dict(type="resnet18", base_channels=8, attn=["se", None, "cbam", "eca"]))
    kinds = [type(stage[0].attn) for stage in m.stages]
    assert kinds == [ATTENTION.get(n) for n in ("se", "none", "cbam", "eca")]
    assert m.stages[2][0].attn.channels == 32
    with pytest.raises(ConfigError, match="one per stage"):
        BACKBONES.build(dict(type="resnet18", attn=["se", "se"]))
    with pytest.raises(DataError, match=r"\(B, 3, H, W\)"):
        m(torch.randn(1, 1, 32, 32))


@pytest.mark.parametrize("stem_stride", [1, 2])
def test_resnet_small_stems(stem_stride):
    m = BACKBONES.build(dict(type="resnet18", base_channels=8, stem_stride=stem_stride))
    assert m.strides == [stem_stride * 2**i for i in range(4)]
    assert m(torch.randn(1, 3, 32, 32))[0].shape[-1] == 32 // stem_stride


def test_unet_odd_input_keeps_full_resolution():
    m = BACKBONES.build(dict(type="unet", in_channels=1, channels=(4, 8, 16), attn="coord"))
    feats = m(torch.randn(1, 1, 37, 41))
    assert [tuple(f.shape) for f in feats] == [(1, 4, 37, 41), (1, 8, 18, 20), (1, 16, 9, 10)]
    decoded = UNetDecoder(m.out_channels)(feats)
    assert [f.shape for f in decoded] == [f.shape for f in feats]


def test_unet_paper_layout_size():
    # Ronneberger et al., Fig. 1: 1 input channel, widths 64-1024, 2x2 up-convolutions, a 1x1 conv to 2 classes, no norm
    enc = UNetEncoder(in_channels=1, norm_layer="none")
    dec = UNetDecoder(enc.out_channels, upsample="deconv", norm_layer="none")
    w = [1, 64, 128, 256, 512, 1024]
    convs = sum(9 * w[i] * w[i + 1] + w[i + 1] + 9 * w[i + 1] ** 2 + w[i + 1] for i in range(5))  # encoder
    convs += sum(4 * w[i + 1] * w[i] + w[i] + 9 * 2 * w[i] * w[i] + w[i] + 9 * w[i] ** 2 + w[i] for i in range(1, 5))
    assert _n(enc) + _n(dec) == convs
    assert _n(enc) + _n(dec) + 64 * 2 + 2 == 31_030_658  # about 31.0M with the 2-class head


@pytest.mark.parametrize("upsample", ["deconv", "bilinear"])
@pytest.mark.parametrize("name", ["resnet18", "convnext"])
def test_unet_decoder_on_other_pyramids(name, upsample):
    m = BACKBONES.build(dict(type=name, **SMALL[name]))
    dec = UNetDecoder(m.out_channels, upsample=upsample, attn="se")
    x = torch.randn(2, 3, 45, 61, requires_grad=True)  # odd sizes: ResNet rounds up, ConvNeXt down
    feats = m(x)
    out = dec(feats)
    assert [f.shape for f in out] == [f.shape for f in feats]
    out[0].mean().backward()
    assert all(p.grad is not None for p in dec.parameters())
    with pytest.raises(ConfigError, match="'deconv' or 'bilinear'"):
        UNetDecoder(m.out_channels, upsample="nearest")
