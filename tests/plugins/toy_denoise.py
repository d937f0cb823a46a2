"""Config of the plug-in task in tests/plugins/labtasks/toy_denoise (see docs/architecture.md)."""

_base_ = ["../../configs/_base_/runtime.py"]

task = "labtasks.toy_denoise"
data = dict(type="toy_noisy_images", num_samples=64, channels=2, size=8, noise=0.3, seed=0)
model = dict(type="toy_denoiser", in_channels=None)  # filled in from the data
loss = [dict(type="mse", weight=1.0)]
optim = dict(type="sgd", lr=0.2)
train = dict(batch_size=8, max_iters=12, val_interval=6, log_interval=3, num_workers=0)
eval = dict(batch_size=16, num_workers=0)
