"""Restormer denoising at toy size for CPU smoke runs: C = 8, one block per level, 32x32 crops."""

_base_ = ["restormer_denoise.py"]

data = dict(patch_size=32, repeat=8)
model = dict(channels=8, num_blocks=[1, 1, 1, 1], num_refinement_blocks=1)
train = dict(batch_size=4, max_iters=20, val_interval=10, num_workers=0)
eval = dict(batch_size=1, num_workers=0, vis_items=2)
