"""A small PastNet that trains in minutes on a 2-core CPU: the data of simvp_tiny.py, narrow branches.

Moving MNIST at 32x32 with one digit, 5 frames in and 5 out; patch 8, 32-channel tokens, a narrow
Inception U-Net. The codebook keeps 512 entries (of 32 dims): with 64 entries, or without dead-code
restarts, the codebook collapses to a handful of codes in a short run and the model only learns a
blurred average (measured: train MSE stuck at 0.016 per pixel after 300 iterations, 0.008 with these settings).
"""

_base_ = ["pastnet.py", "../../configs/_base_/datasets/moving_mnist_tiny.py"]

model = dict(
    patch_size=8,
    embed_dim=32,
    hid_S=32,
    res_layers=1,
    res_channels=16,
    num_codes=512,
    code_dim=32,
    restart_threshold=1.0,
    hid_T=64,
    N_T=3,
    kernel_sizes=(3, 5),
    groups=4,
)
optim = dict(lr=5e-3)
train = dict(batch_size=16, max_epochs=None, max_iters=600, val_interval=200, num_workers=0, log_interval=20)
eval = dict(batch_size=32)
