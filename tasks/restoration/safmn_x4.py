"""SAFMN x4 super-resolution (Sun et al., ICCV 2023): the paper's training recipe.

Paper setting: C = 36, N = 8 (239,520 parameters); 64x64 LR crops, batch 64, Adam (0.9, 0.99),
learning rate 1e-3 with cosine decay to 1e-5 over 500K iterations, L1 + 0.05 x FFT loss, EMA of
the weights. Without data folders it trains on the scikit-learn photographs degraded on the fly.
For DIV2K: --set data.train.gt=DIV2K/HR data.train.lq=DIV2K/LR_bicubic/X4 and Set5 as test data.
"""

_base_ = ["../../configs/_base_/runtime.py", "../../configs/_base_/schedules/cosine.py"]

task = "restoration"

data = dict(
    scale=4,
    blur=None,  # dict(type='gaussian', sigma=1.6) / dict(type='motion', length=15, angle=None)
    noise=None,  # dict(sigma=25) (0..255 scale) or dict(sigma=[0, 50])
    jpeg=None,  # dict(quality=75) or dict(quality=[30, 95])
    patch_size=64,  # low-resolution training crop
    repeat=1000,  # training crops per image and epoch (few, long epochs: loaders restart per epoch)
    augment=True,
    seed=0,  # evaluation degradations are seeded per image from this
    train=dict(gt=None, lq=None),  # None: the scikit-learn photographs
    val=dict(gt=None, lq=None),
    test=dict(gt=None, lq=None),
)

model = dict(
    type="safmn", in_channels=None, channels=36, num_blocks=8, upscale=None, expansion=2.0, attn=dict(type="safm")
)

loss = [dict(type="l1", weight=1.0), dict(type="fft", weight=0.05)]
metrics = ["psnr", "ssim", "psnr_y", "ssim_y"]  # crop_border defaults to data.scale

optim = dict(type="adam", lr=1e-3, betas=(0.9, 0.99), weight_decay=0.0)
sched = dict(type="cosine", eta_min=1e-5, warmup_iters=0)

train = dict(batch_size=64, max_iters=500000, val_interval=5000, ema=dict(decay=0.999))
eval = dict(batch_size=1)

infer = dict(max_pixels=512 * 512, tile_overlap=32)  # tile images larger than this (input pixels)
