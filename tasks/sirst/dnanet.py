"""DNANet with the recipe of its paper (Li et al., IEEE TIP 2023): Adagrad lr 0.05 with cosine decay to 1e-5,
batch 16, 1500 epochs, 256 x 256 crops, soft-IoU loss on all four deeply supervised outputs, RGB input with
ImageNet statistics (as the released code). Evaluation at original resolution, threshold 0.5.

On NUAA-SIRST (DNANet / BasicIRSTD 50_50 split):
    python tools/train.py tasks/sirst/dnanet.py --set data.root=../shared/data/sirst/NUAA-SIRST
Without data.root it trains on generated scenes (tasks/sirst/synth.py). DNANet's own 256 x 256 test
protocol: --set data.eval_size=256.
"""

_base_ = [
    "../../configs/_base_/runtime.py",
    "../../configs/_base_/schedules/cosine.py",
    "../../configs/_base_/datasets/sirst.py",
]

task = "sirst"
data = dict(  # other keys (layout, split_files, size_mismatch, eval_size, ...): configs/_base_/datasets/sirst.py
    color="rgb",
    mean=[0.485, 0.456, 0.406],  # ImageNet statistics, as the released code
    std=[0.229, 0.224, 0.225],
    blur_prob=0.5,
)
model = dict(
    type="dnanet",
    in_channels=None,  # filled in from data.color
    num_classes=1,
    channels=[16, 32, 64, 128, 256],
    num_blocks=[2, 2, 2, 2],
    attn=dict(type="cbam", reduction=16, spatial_kernel=7, bias=False),  # DNANet's channel-spatial attention
    deep_supervision=True,
)
loss = [dict(type="deep_supervision", loss=dict(type="soft_iou"), weight=1.0)]
metrics = ["miou", "niou", "pd_fa", "pd_fa_dnanet_legacy", "pixel_roc", "pd_fa_curve"]
optim = dict(type="adagrad", lr=0.05, weight_decay=0.0)
sched = dict(type="cosine", eta_min=1e-5, warmup_iters=0)
train = dict(batch_size=16, max_epochs=1500, num_workers=4)
eval = dict(batch_size=1, num_workers=2, vis_items=4)  # threshold, report_items: configs/_base_/datasets/sirst.py
