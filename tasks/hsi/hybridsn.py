"""HybridSN (Roy et al., IEEE GRSL 2020): the published recipe on the embedded generated scene.

Adam lr 1e-3, batch 256, 100 epochs, cross-entropy, window 25, 30 PCA components. The paper uses
a random 30 % split; new experiments default to the spatially disjoint split (no test pixel inside a
training patch). The paper's protocol: ``--set data.split.type=random``.
Real data: ``--set data.cube=PATH.mat data.gt=PATH_gt.mat``.
"""

_base_ = ["../../configs/_base_/runtime.py", "../../configs/_base_/datasets/hsi.py"]

task = "hsi"
# data: the defaults of configs/_base_/datasets/hsi.py (window 25, 30 components, disjoint split)
model = dict(
    type="hybridsn",
    in_channels=None,  # filled from the data (PCA components)
    num_classes=None,  # filled from the data
    window=None,  # filled from data.window
    dropout=0.4,
    attn=dict(type=None),  # an ATTENTION block after the 2-D convolution: --set model.attn.type=se
)
loss = [dict(type="cross_entropy", weight=1.0)]
metrics = [dict(type="classification", aa_mode="sklearn", per_class=True)]
optim = dict(type="adam", lr=1e-3, weight_decay=0.0)
sched = None
train = dict(batch_size=256, max_epochs=100, val_interval=30, num_workers=0, log_interval=5)  # validate every 10 epochs
eval = dict(batch_size=256, num_workers=0)
