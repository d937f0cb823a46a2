"""PastNet on Moving MNIST: the released recipe.

Wu et al., arXiv 2305.11421. Adam lr 1e-2, OneCycleLR stepped per iteration, batch 16, MSE loss
plus the vector quantiser's commitment loss (``model.vq_loss_weight``; 0 reproduces the released
code, which drops it). The released script trains 201 epochs of 10,000 clips.
16.43M parameters at this setting (the released model counts its 65,536 codebook numbers too).
"""

_base_ = [
    "../../configs/_base_/runtime.py",
    "../../configs/_base_/schedules/onecycle.py",
    "../../configs/_base_/datasets/moving_mnist.py",
]

model = dict(
    type="pastnet",
    in_shape=None,  # filled from the data: (T, C, H, W)
    # FPG branch: patch embedding, one AFNO block, transposed-conv upsampling
    patch_size=16,
    embed_dim=128,
    fpg_depth=1,
    mlp_ratio=2.0,
    num_blocks=4,
    softshrink=0.0,
    # DST branch: VQ-VAE encoder/decoder, codebook, Inception U-Net translator
    hid_S=128,
    res_layers=4,
    res_channels=32,
    num_codes=512,
    code_dim=64,
    decay=0.99,
    commitment_weight=0.25,
    restart_threshold=0.0,  # > 0 restarts dead codes (not in the released model)
    hid_T=256,
    N_T=8,
    kernel_sizes=(3, 5, 7, 11),
    groups=8,
    attn=None,  # attention after every Inception block, e.g. dict(type="gsta")
    vq_loss_weight=1.0,
)
loss = [dict(type="mse", weight=1.0)]
metrics = ["video"]
optim = dict(type="adam", lr=1e-2, weight_decay=0.0)
train = dict(batch_size=16, max_epochs=200, val_interval=None, num_workers=4)
eval = dict(batch_size=16)  # baseline (copy-last-frame scores): configs/_base_/datasets/moving_mnist.py
