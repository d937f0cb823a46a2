"""A tiny HybridSN run for CPUs and tests: a 40x40 generated scene, window 11, 15 components, 300 iterations."""

_base_ = ["hybridsn.py"]

data = dict(
    synthetic=dict(height=40, width=40, bands=48, num_classes=5, seed=0),
    window=11,
    pca=dict(n_components=15),
    split=dict(type="random"),  # train 0.3, val 0.1, seed 0 from the base
)
train = dict(batch_size=32, max_epochs=None, max_iters=300, val_interval=100, log_interval=50)
eval = dict(batch_size=256)
