"""Paired batch augmentation with kornia: one transform per sample on input and target, exact, seeded, resumable."""

from __future__ import annotations

import pytest
import torch

from toolkit.data.batch_augment import PairedBatchAugment, build_batch_augment
from toolkit.errors import ConfigError, DataError

D4 = [(flip, k) for flip in (False, True) for k in range(4)]  # (horizontal flip first?, quarter turns)


def _d4(x: torch.Tensor, flip: bool, k: int) -> torch.Tensor:
    """One element of the square's symmetry group on the last two axes, with plain torch ops."""
    return torch.rot90(x.flip(-1) if flip else x, k, dims=(-2, -1))


def _which(original: torch.Tensor, augmented: torch.Tensor) -> list[tuple[bool, int]]:
    return [e for e in D4 if torch.equal(_d4(original, *e), augmented)]


def _up(x: torch.Tensor, s: int) -> torch.Tensor:
    return x.repeat_interleave(s, -1).repeat_interleave(s, -2)  # nearest up-scaling: (.., H*s, W*s)


def test_input_and_target_get_the_same_exact_transform_per_sample():
    torch.manual_seed(0)
    x = torch.rand(32, 3, 8, 8)  # distinct values: every D4 element gives a different picture
    target = _up(x, 4)  # a x4 super-resolution pair: target = up(input)
    aug = build_batch_augment(dict(hflip=0.5, vflip=0.5, rot90=True), seed=1)
    a, b = aug(x, target)
    assert a.shape == x.shape and b.shape == target.shape and a.dtype == x.dtype
    assert torch.equal(_up(a, 4), b)  # the relation holds exactly after augmentation
    seen = set()
    for i in range(len(x)):
        found = _which(x[i], a[i])
        assert len(found) == 1  # pixels moved, never interpolated
        assert torch.equal(_d4(target[i], *found[0]), b[i])
        seen.add(found[0])
    assert len(seen) >= 6  # the batch is not all one transform


def test_clips_move_every_frame_of_input_and_target_alike():
    torch.manual_seed(1)
    clip_in = torch.rand(8, 5, 2, 6, 6)  # (B, T, C, H, W)
    clip_out = clip_in.flip(1) * 2.0 + 1.0  # any per-pixel relation between the two clips
    a, b = build_batch_augment(dict(hflip=0.5, vflip=0.5, rot90=True), seed=2)(clip_in, clip_out)
    assert a.shape == clip_in.shape and b.shape == clip_out.shape
    assert torch.equal(b, a.flip(1) * 2.0 + 1.0)
    for i in range(8):
        (element,) = _which(clip_in[i, 0], a[i, 0])
        assert torch.equal(_d4(clip_in[i], *element), a[i])  # all frames and channels of the sample
        assert torch.equal(_d4(clip_out[i], *element), b[i])


def test_probabilities_follow_the_config():
    x = torch.arange(4.0).reshape(1, 1, 2, 2).expand(4000, 1, 2, 2).contiguous()
    (a,) = build_batch_augment(dict(rot90=True), seed=0)(x)
    turns = [next(k for k in range(4) if torch.equal(torch.rot90(x[0], k, (-2, -1)), a[i])) for i in range(len(a))]
    counts = torch.bincount(torch.tensor(turns), minlength=4)
    # 1/4 each (about 1000 +- 27); kornia's plain times=(0, 3) would give 667 / 1333 / 1333 / 667
    assert ((counts > 900) & (counts < 1100)).all(), counts
    (h,) = build_batch_augment(dict(hflip=0.3), seed=0)(x)
    flipped = sum(torch.equal(h[i], x[0].flip(-1)) for i in range(len(h)))
    assert 1100 < flipped < 1300  # 0.3 x 4000 = 1200
    assert all(torch.equal(h[i], x[0]) or torch.equal(h[i], x[0].flip(-1)) for i in range(len(h)))


def test_seeded_by_seed_and_call_number_and_resumable():
    x = torch.rand(16, 3, 8, 8)
    straight = build_batch_augment(dict(hflip=0.5, vflip=0.5, rot90=True), seed=5)
    rng_before = torch.get_rng_state()
    outs = [straight(x)[0] for _ in range(4)]
    assert torch.equal(torch.get_rng_state(), rng_before)  # the model's random stream is not shifted
    assert not torch.equal(outs[0], outs[1])  # a new draw per call
    first = build_batch_augment(dict(hflip=0.5, vflip=0.5, rot90=True), seed=5)
    assert torch.equal(first(x)[0], outs[0]) and torch.equal(first(x)[0], outs[1])  # same seed, same draws
    resumed = build_batch_augment(dict(hflip=0.5, vflip=0.5, rot90=True), seed=5)
    resumed.load_state_dict(first.state_dict())  # {'step': 2}, as a checkpoint carries it
    assert torch.equal(resumed(x)[0], outs[2]) and torch.equal(resumed(x)[0], outs[3])
    other = build_batch_augment(dict(hflip=0.5, vflip=0.5, rot90=True), seed=6)
    assert not torch.equal(other(x)[0], outs[0])
    torch.manual_seed(123)  # the global seed plays no part
    again = build_batch_augment(dict(hflip=0.5, vflip=0.5, rot90=True), seed=5)
    assert torch.equal(again(x)[0], outs[0])


@pytest.mark.parametrize(
    "spec, match",
    [
        ([0.5], "must be None or a dict"),
        (dict(hflip=0.5, rotate=True), r"unknown key\(s\) \['rotate'\]"),
        (dict(hflip=1.5), "hflip must be a probability"),
        (dict(vflip="0.5"), "vflip must be a probability"),
        (dict(rot90=1), "rot90 must be True or False"),
        (dict(hflip=0.0, rot90=False), "changes nothing"),
        (dict(), "changes nothing"),
    ],
)
def test_bad_specs_name_the_key(spec, match):
    with pytest.raises(ConfigError, match=match):
        build_batch_augment(spec)
    assert build_batch_augment(None) is None


def test_bad_shapes_name_them():
    aug = PairedBatchAugment(rot90=True, where="data.batch_aug")
    with pytest.raises(DataError, match=r"data.batch_aug.rot90 needs square images.*\(2, 3, 4, 6\)"):
        aug(torch.zeros(2, 3, 4, 6))
    with pytest.raises(DataError, match="one batch size"):
        aug(torch.zeros(2, 3, 4, 4), torch.zeros(3, 3, 4, 4))
