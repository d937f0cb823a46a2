"""SimVP v1 (IncepU translator) on Moving MNIST: the published recipe.

Adam lr 1e-3, OneCycleLR stepped per iteration, batch 16, 200 epochs of 10,000 clips, MSE loss.
"""

_base_ = [
    "../../configs/_base_/runtime.py",
    "../../configs/_base_/schedules/onecycle.py",
    "../../configs/_base_/datasets/moving_mnist.py",
]

model = dict(
    type="simvp",
    in_shape=None,  # filled from the data: (T, C, H, W)
    hid_S=64,
    hid_T=512,
    N_S=4,
    N_T=8,
    translator="incepu",
    attn=None,
    init="openstl",  # OpenSTL's initialisation; "torch" keeps PyTorch's defaults (the SimVP v1 release)
)
loss = [dict(type="mse", weight=1.0)]
metrics = ["video"]
optim = dict(type="adam", lr=1e-3, weight_decay=0.0)
train = dict(batch_size=16, max_epochs=200, val_interval=None, num_workers=4)
eval = dict(batch_size=16)  # baseline (copy-last-frame scores): configs/_base_/datasets/moving_mnist.py
