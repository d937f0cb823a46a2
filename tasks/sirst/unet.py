"""A plain U-Net baseline (Ronneberger et al., MICCAI 2015; widths 16-256, 1.81M parameters) with the
BasicIRSTD training recipe: Adam lr 5e-4, steps x0.1 at epochs 200 and 300 of 400, batch 16, 256 x 256 crops,
grey input with the toolbox's NUAA-SIRST statistics, soft-IoU loss. Evaluation at original resolution, threshold 0.5.
"""

_base_ = [
    "../../configs/_base_/runtime.py",
    "../../configs/_base_/schedules/multistep.py",
    "../../configs/_base_/datasets/sirst.py",
]

task = "sirst"
data = dict(  # grey, 256 crops: configs/_base_/datasets/sirst.py
    # the toolbox's fixed NUAA-SIRST statistics (other data sets' values: dnanet_basicirstd.py)
    mean=[101.06385040283203 / 255],
    std=[34.619606018066406 / 255],
    scale_range=None,  # BasicIRSTD pads and crops without rescaling
    pad_fill="mean",  # it pads the normalised image with 0, bottom and right, then flips the crop
    pad_position="bottom_right",
    flip_after_crop=True,
)
model = dict(type="unet", in_channels=None, num_classes=1, channels=[16, 32, 64, 128, 256], attn=None)
loss = [dict(type="soft_iou", weight=1.0)]
metrics = ["miou", "niou", "pd_fa", "pixel_roc", "pd_fa_curve"]
optim = dict(type="adam", lr=5e-4, weight_decay=0.0)
sched = dict(type="multistep", milestones=None, milestone_epochs=[200, 300], gamma=0.1)
train = dict(batch_size=16, max_epochs=400, num_workers=4, drop_last=False)  # it trains the last batch too
eval = dict(batch_size=1, num_workers=2, vis_items=4)  # threshold, report_items: configs/_base_/datasets/sirst.py
