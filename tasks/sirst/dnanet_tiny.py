"""A small DNANet (4 levels, widths 8-64, one block per node) on the generated scenes, for a CPU laptop:
a few minutes of training that visibly learns. Used by the tests and the README.

    python tools/train.py tasks/sirst/dnanet_tiny.py && python tools/eval.py --task sirst
"""

_base_ = [
    "../../configs/_base_/runtime.py",
    "../../configs/_base_/schedules/cosine.py",
    "../../configs/_base_/datasets/sirst.py",
]

task = "sirst"
data = dict(  # other keys: configs/_base_/datasets/sirst.py
    crop_size=96,
    base_size=112,
    scale_range=(0.75, 1.25),
    target_crop_prob=0.5,
    synth=dict(num_train=160, num_test=40, seed=0),
)
model = dict(
    type="dnanet",
    in_channels=None,
    num_classes=1,
    channels=[8, 16, 32, 64],
    num_blocks=[1, 1, 1],
    attn=dict(type="cbam", reduction=4, spatial_kernel=7),
    deep_supervision=True,
)
loss = [dict(type="deep_supervision", loss=dict(type="soft_iou"), weight=1.0)]
metrics = ["miou", "niou", "pd_fa", "pd_fa_dnanet_legacy", "pixel_roc", "pd_fa_curve"]
optim = dict(type="adam", lr=5e-3, weight_decay=0.0)
sched = dict(type="cosine", eta_min=1e-4, warmup_iters=20)
# bf16 where the CPU or GPU computes it natively: equal accuracy, 1.54x end to end (docs/benchmarks.md)
train = dict(batch_size=8, max_iters=400, val_interval=200, log_interval=50, num_workers=0, amp="auto")
eval = dict(batch_size=1, num_workers=0, vis_items=4)  # threshold, report_items: configs/_base_/datasets/sirst.py
