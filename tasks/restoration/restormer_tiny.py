"""Restormer denoising at toy size for CPU runs: C = 8, one block per level, 32x32 crops, 500 iterations.

About 30 s on one core; ends about 7 dB above its noisy input (sigma 25) on the photographs'
held-out band (docs/restoration.md). With 20 iterations it ended 1 dB below the noisy input.
"""

_base_ = ["restormer_denoise.py"]

data = dict(patch_size=32, repeat=8)
model = dict(channels=8, num_blocks=[1, 1, 1, 1], num_refinement_blocks=1)
# NOTE: learning rate 2e-3 instead of the paper's 3e-4: at 500 iterations 3e-4 leaves the toy model
# far from converged (26.7 dB with 1e-3, 28.2 dB with 2e-3).
optim = dict(lr=2e-3)
train = dict(batch_size=4, max_iters=500, val_interval=250, num_workers=0)
eval = dict(batch_size=1, num_workers=0, vis_items=2)
