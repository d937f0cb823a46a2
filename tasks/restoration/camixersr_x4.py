"""CAMixerSR x4 (Wang et al., CVPR 2024): the released large-image "S" model and the authors' training recipe.

Model: C = 36, blocks per group (4, 4, 6, 6), window 16, ratio 0.5: the setting of the authors' released
``CAMixerSR_S.pth`` (351,238 parameters), so that their weights evaluate with this config:

    python tools/eval.py tasks/restoration/camixersr_x4.py --checkpoint ../shared/weights/camixersr/CAMixerSR_S.pth \
        --set data.test.gt=../shared/data/restoration/Set5/HR data.test.lq=../shared/data/restoration/Set5/LR_bicubic/X4

--set model.channels=60 gives the lightweight-SR model of the paper's tables (765,322 parameters).

Training recipe from the authors' options file (``codes/options/train/train_example.yml``): 256x256 HR
crops (64x64 LR) with flips and rotations, batch 16 per GPU on 4 GPUs, AdamW (lr 5e-4, betas (0.9, 0.99),
weight decay 1e-4), learning rate halved at 250K, 400K, 450K and 475K of 500K iterations, L1 loss plus
the model's ratio loss, EMA 0.999 of the weights, validation every 2,500 iterations. Without data
folders it trains on the scikit-learn photographs degraded on the fly; for DIV2K:
--set data.train.gt=DIV2K/HR data.train.lq=DIV2K/LR_bicubic/X4.
"""

_base_ = [
    "../../configs/_base_/runtime.py",
    "../../configs/_base_/schedules/multistep.py",
    "../../configs/_base_/datasets/restoration.py",
]

task = "restoration"

# every data key and its default: configs/_base_/datasets/restoration.py
data = dict(
    scale=4,
    patch_size=64,  # LR crop (the options' gt_size 256 / 4)
    repeat=1000,  # training crops per image and epoch (few, long epochs: loaders restart per epoch)
    test=dict(gt=None, lq=None),  # the photographs, or --set data.test.gt=... data.test.lq=... (Set5, Set14)
)

model = dict(
    type="camixersr",
    in_channels=None,
    channels=36,
    num_blocks=[4, 4, 6, 6],
    upscale=None,
    window=16,
    ratio=0.5,
    count="expected",
)

loss = [dict(type="l1", weight=1.0)]  # the ratio loss comes from the model (forward(x, return_aux=True))
metrics = ["psnr", "ssim", "psnr_y", "ssim_y"]  # crop_border defaults to data.scale

optim = dict(type="adamw", lr=5e-4, betas=(0.9, 0.99), weight_decay=1e-4)
sched = dict(type="multistep", milestones=[250000, 400000, 450000, 475000], gamma=0.5)

# NOTE: batch 64 in one process stands for the options' 16 per GPU x 4 GPUs; with
# `torchrun --nproc_per_node 4` set train.batch_size=16 (the batch is per process).
train = dict(batch_size=64, max_iters=500000, val_interval=2500, ema=dict(decay=0.999))
eval = dict(batch_size=1)  # benchmark images differ in size

infer = dict(max_pixels=512 * 512, tile_overlap=32)  # tile images larger than this (input pixels)
