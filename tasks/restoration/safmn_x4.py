"""SAFMN x4 super-resolution (Sun et al., ICCV 2023): the paper's training recipe.

Paper setting: C = 36, N = 8 (239,520 parameters); 64x64 LR crops, batch 64, Adam (0.9, 0.99),
learning rate 1e-3 with cosine decay to 1e-5 over 500K iterations, L1 + 0.05 x FFT loss, EMA of
the weights. Without data folders it trains on the scikit-learn photographs degraded on the fly.
For DIV2K: --set data.train.gt=DIV2K/HR data.train.lq=DIV2K/LR_bicubic/X4 and Set5 as validation data
(data.val.gt=Set5/HR data.val.lq=Set5/LR_bicubic/X4; the test split reads val's folders unless data.test is set).
"""

_base_ = [
    "../../configs/_base_/runtime.py",
    "../../configs/_base_/schedules/cosine.py",
    "../../configs/_base_/datasets/restoration.py",
]

task = "restoration"

# every data key and its default: configs/_base_/datasets/restoration.py
data = dict(
    scale=4,
    patch_size=64,  # low-resolution training crop
    repeat=1000,  # training crops per image and epoch (few, long epochs: loaders restart per epoch)
)

model = dict(
    type="safmn", in_channels=None, channels=36, num_blocks=8, upscale=None, mlp_ratio=2.0, attn=dict(type="safm")
)

loss = [dict(type="l1", weight=1.0), dict(type="fft", weight=0.05)]
metrics = ["psnr", "ssim", "psnr_y", "ssim_y"]  # crop_border defaults to data.scale

optim = dict(type="adam", lr=1e-3, betas=(0.9, 0.99), weight_decay=0.0)
sched = dict(type="cosine", eta_min=1e-5, warmup_iters=0)

train = dict(batch_size=64, max_iters=500000, val_interval=5000, ema=dict(decay=0.999))
eval = dict(batch_size=1)

infer = dict(max_pixels=512 * 512, tile_overlap=32)  # tile images larger than this (input pixels)
