"""DNANet with the BasicIRSTD recipe (Ying et al., BasicIRSTD toolbox): Adam lr 5e-4, steps x0.1 at epochs
200 and 300 of 400, batch 16, 256 x 256 crops with flips and transpose, grey input normalised with the
toolbox's NUAA-SIRST statistics, soft-IoU on the deeply supervised outputs. Evaluation at original
resolution (zero-padded to a multiple of 32), threshold 0.5 -- the protocol of BasicIRSTD's benchmark
(DNANet on NUAA-SIRST 50_50: IoU 74.82, Pd 93.54, Fa 38.28e-6).

    python tools/train.py tasks/sirst/dnanet_basicirstd.py --set data.root=../shared/data/sirst/NUAA-SIRST
"""

_base_ = [
    "../../configs/_base_/runtime.py",
    "../../configs/_base_/schedules/multistep.py",
    "../../configs/_base_/datasets/sirst.py",
]

task = "sirst"
data = dict(  # grey, 256 crops: configs/_base_/datasets/sirst.py
    # the toolbox normalises with fixed per-dataset statistics (its NUAA-SIRST values, in [0, 1] units here);
    # NUDT-SIRST: mean=[107.80905151367188 / 255], std=[33.02274703979492 / 255]; IRSTD-1K: mean=[87.4661865234375
    # / 255], std=[39.71953201293945 / 255]; mean=None, std=None: the statistics of the training images
    mean=[101.06385040283203 / 255],
    std=[34.619606018066406 / 255],
    scale_range=None,  # BasicIRSTD pads and crops without rescaling
    pad_fill="mean",  # it pads the normalised image with 0, bottom and right, then flips the crop
    pad_position="bottom_right",
    flip_after_crop=True,
)
model = dict(
    type="dnanet",
    in_channels=None,
    num_classes=1,
    channels=[16, 32, 64, 128, 256],
    num_blocks=[2, 2, 2, 2],
    attn=dict(type="cbam", reduction=16, spatial_kernel=7, bias=False),  # DNANet's attention convs have no bias
    deep_supervision=True,
)
loss = [dict(type="deep_supervision", loss=dict(type="soft_iou"), weight=1.0)]
metrics = ["miou", "niou", "pd_fa", "pd_fa_dnanet_legacy", "pixel_roc", "pd_fa_curve"]
optim = dict(type="adam", lr=5e-4, weight_decay=0.0)
sched = dict(type="multistep", milestones=None, milestone_epochs=[200, 300], gamma=0.1)
train = dict(batch_size=16, max_epochs=400, num_workers=4, drop_last=False)  # it trains the last batch too
eval = dict(batch_size=1, num_workers=2, vis_items=4)  # threshold, report_items: configs/_base_/datasets/sirst.py
