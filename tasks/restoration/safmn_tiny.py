"""SAFMN x4 at toy size for CPU smoke runs: C = 16, N = 2, 16x16 crops, 20 iterations."""

_base_ = ["safmn_x4.py"]

data = dict(patch_size=16, repeat=8)
model = dict(channels=16, num_blocks=2)
# NOTE: EMA decay 0.9 instead of the paper's 0.999: a 0.999 average needs thousands of steps to
# forget the initial weights, so a short run would evaluate an almost untrained model.
train = dict(batch_size=4, max_iters=20, val_interval=10, num_workers=0, ema=dict(decay=0.9))
eval = dict(batch_size=1, num_workers=0, vis_items=2)
