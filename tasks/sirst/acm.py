"""ACM U-Net (Dai et al., WACV 2021) with its paper's recipe: ResNet-20 backbone (3 blocks per stage, widths
8-16-32-64), asymmetric bi-directional modulation, soft-IoU loss, Adagrad lr 0.05 with weight decay 1e-4,
batch 8, 300 epochs, 480 x 480 crops of images scaled around 512, RGB input with ImageNet statistics.
Evaluation at original resolution, threshold 0.5; ACM's own 512 x 512 protocol: --set data.eval_size=512.

    python tools/train.py tasks/sirst/acm.py --set data.root=../shared/data/sirst/NUAA-SIRST data.layout=idx_427
"""

_base_ = ["../../configs/_base_/runtime.py", "../../configs/_base_/datasets/sirst.py"]

task = "sirst"
data = dict(  # other keys: configs/_base_/datasets/sirst.py
    color="rgb",
    mean=[0.485, 0.456, 0.406],  # ImageNet statistics
    std=[0.229, 0.224, 0.225],
    crop_size=480,
    base_size=512,
)
model = dict(
    type="acm",
    in_channels=None,
    num_classes=1,
    channels=[8, 16, 32, 64],
    num_blocks=[3, 3, 3],
    fuse="asym_bi",
    reduction=4,
    tiny=False,
    attn=None,  # e.g. dict(type='se') adds a block inside every residual block
    bn_momentum=None,  # PyTorch's 0.1 for the BatchNorms outside the residual blocks (acm_basicirstd.py: 0.9)
)
loss = [dict(type="soft_iou", weight=1.0)]
metrics = ["miou", "niou", "pd_fa", "pixel_roc", "pd_fa_curve"]
optim = dict(type="adagrad", lr=0.05, weight_decay=1e-4)
sched = None
train = dict(batch_size=8, max_epochs=300, num_workers=4)
eval = dict(batch_size=1, num_workers=2, vis_items=4)  # threshold, report_items: configs/_base_/datasets/sirst.py
