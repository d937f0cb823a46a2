"""CAMixerSR x4 at toy size for CPU runs: C = 16, two groups of one block, window 8, 16x16 crops.

3,000 iterations, about 75 s on one core; ends about 0.35 dB above the bicubic baseline on the
photographs' held-out band (docs/restoration.md). The routing, the deformable attention and the
ratio loss are all active: each 16x16 crop holds four 8x8 windows.
"""

_base_ = ["camixersr_x4.py"]

data = dict(patch_size=16, repeat=8)
model = dict(channels=16, num_blocks=[1, 1], window=8)
# NOTE: window 8 instead of 16: a 16x16 training crop would hold one window, and routing one window
# per crop to attention or not is all-or-nothing.
# NOTE: learning rate 3e-3 (halved after 2,500 iterations) instead of the paper's 5e-4 over 500K: at
# 2,000 iterations and 2e-3 the toy model ended only 0.18 dB above bicubic (25.54 vs 25.36 dB RGB).
optim = dict(lr=3e-3)
sched = dict(milestones=[2500], gamma=0.5)
# NOTE: EMA decay 0.9 instead of 0.999, as safmn_tiny.py: 3,000 steps are too few for a 0.999 average.
train = dict(batch_size=4, max_iters=3000, val_interval=1500, num_workers=0, ema=dict(decay=0.9))
eval = dict(batch_size=1, num_workers=0, vis_items=2)
