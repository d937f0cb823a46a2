"""ACM with the BasicIRSTD recipe (Ying et al., BasicIRSTD toolbox, train.py defaults): NUAA-SIRST with its
``img_idx`` split (213 training / 214 test images), grey input normalised with the toolbox's NUAA-SIRST
statistics, random 256 x 256 crops of the normalised image (padded bottom and right with 0, the mean grey,
when an image is smaller) then flips and transpose, batch 16 (the last batch of 5 too), Adam lr 5e-4, steps
x0.1 at epochs 200 and 300 of 400, soft-IoU loss, seed 42. Evaluation at original
resolution (zero-padded to a multiple of 32), threshold 0.5 on the probability; the toolbox reports the
model after the last epoch (its ACM row on NUAA-SIRST: IoU 69.44, Pd 92.02, Fa 22.71e-6; trained here, seeds 42
and 43: IoU 66.57 / 69.22, Pd 89.73 / 90.87, Fa 19.55 / 28.95e-6, docs/results.md).

NOTE: the toolbox pads a test image to (h // 32 + 1) * 32, 32 more rows when h is already a multiple of 32;
we pad to the next multiple. Measured on both models: mIoU -0.14 / -0.11 with its padding (docs/results.md).

    python tools/train.py tasks/sirst/acm_basicirstd.py --set data.root=../shared/data/sirst/NUAA-SIRST
    python tools/eval.py tasks/sirst/acm_basicirstd.py --checkpoint <run>/checkpoints/last.pt
"""

_base_ = ["acm.py", "../../configs/_base_/schedules/multistep.py"]  # acm.py's model, loss and metrics

seed = 42
data = dict(  # other keys: configs/_base_/datasets/sirst.py
    layout="img_idx",
    color="grey",
    mean=[101.06385040283203 / 255],  # the toolbox's NUAA-SIRST statistics, in [0, 1] units
    std=[34.619606018066406 / 255],
    crop_size=256,
    base_size=256,
    scale_range=None,  # the toolbox pads and crops without rescaling
    # the toolbox normalises first and pads with 0 (the mean grey, as its evaluation pads), bottom and right,
    # then flips and transposes the crop; 178 of the 213 training images are smaller than 256 on a side
    pad_fill="mean",
    pad_position="bottom_right",
    flip=True,
    flip_after_crop=True,
)
# NOTE: the toolbox's ACM builds the BatchNorms of its stem, shortcut projections, fusion modules and head with
# momentum=0.9 (its residual blocks' own BatchNorms keep PyTorch's 0.1). The value comes from the MXNet
# original, where momentum is the weight of the old running average; in PyTorch it is the weight of the new
# batch, so these running statistics follow the last few batches. We mirror the toolbox, as its published
# row was trained so; --set model.bn_momentum=None gives the MXNet model's meaning (PyTorch's 0.1 everywhere).
model = dict(bn_momentum=0.9)
optim = dict(type="adam", lr=5e-4, weight_decay=0.0)
sched = dict(type="multistep", milestones=None, milestone_epochs=[200, 300], gamma=0.1)
# 213 images at batch 16: 14 steps per epoch, the last of 5 images (the toolbox skips only batches of one);
# the toolbox tests every 50 epochs (14 iterations each)
train = dict(batch_size=16, max_epochs=400, num_workers=2, drop_last=False, val_interval=700)
eval = dict(batch_size=1, num_workers=1, vis_items=4)  # threshold 0.5, report_items: the base dataset config
