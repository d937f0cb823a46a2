"""A tiny HybridSN run for CPUs and tests: the default generated scene, window 11, 15 components, 300 iterations.

Same scene and spatially disjoint split as ``hybridsn.py``; about a minute on a 2-core CPU (docs/results.md).
"""

_base_ = ["hybridsn.py"]

data = dict(window=11, pca=dict(n_components=15))  # scene and disjoint split: configs/_base_/datasets/hsi.py
# bf16 where the CPU or GPU computes it natively: equal accuracy, 1.21x end to end (docs/benchmarks.md)
train = dict(batch_size=32, max_epochs=None, max_iters=300, val_interval=100, log_interval=50, amp="auto")
eval = dict(batch_size=256)
