"""HybridSN (Roy et al., IEEE GRSL 2020): the published recipe on the embedded generated scene.

Adam lr 1e-3, batch 256, 100 epochs, cross-entropy, window 25, 30 PCA components. The paper uses
a random 30 % split; new experiments default to the spatially disjoint split (no test pixel inside a
training patch). The paper's protocol: ``--set data.split.type=random``.
Real data: ``--set data.cube=PATH.mat data.gt=PATH_gt.mat``.
"""

_base_ = ["../../configs/_base_/runtime.py"]

task = "hsi"
data = dict(
    cube=None,  # None = generated scene; e.g. 'data/Indian_pines_corrected.mat'
    gt=None,  # e.g. 'data/Indian_pines_gt.mat'
    cube_key=None,
    gt_key=None,
    num_classes=None,
    class_names=None,
    # a modest generated scene so that the full-size HybridSN trains in minutes on a CPU;
    # layout='../shared/data/hsi/IndianPines/Indian_pines_gt.mat' borrows a real label map
    synthetic=dict(
        height=64,
        width=64,
        bands=100,
        num_classes=8,
        layout=None,
        layout_key=None,
        noise=0.02,
        variability=0.05,
        mixing=0.8,
        fields_per_class=4.0,
        seed=0,
    ),
    window=25,
    padding="zero",
    standardize=True,
    pca=dict(n_components=30, whiten=False, fit="train"),  # fit='scene' as the HybridSN reference code
    # spatially disjoint by default (no test pixel inside a training patch); the paper's protocol,
    # a random 30 % (every test pixel then lies inside a training patch, and the run says so):
    # --set data.split.type=random
    split=dict(type="disjoint", train=0.3, val=0.1, seed=0),
    augment=dict(flip=True, rotate90=True, spectral_noise=0.0),
)
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
