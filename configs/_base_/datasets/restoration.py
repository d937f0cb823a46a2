"""Image restoration data: clean images degraded on the fly, or paired lq/gt folders, one source per split.

Without folders every split uses the two photographs shipped with scikit-learn (training crops from their
top 299 rows, evaluation on the bottom 128 rows). A task config states what it changes, e.g.
``data = dict(scale=4, patch_size=64, repeat=1000)``; clean images need a degradation (scale > 1, blur,
noise or jpeg). Built by ``tasks.restoration.data.restoration_dataset`` (split = train / val / test).
"""

task = "restoration"
data = dict(
    type="restoration",
    scale=1,  # super-resolution factor; 1 for same-size restoration (denoising, deblurring)
    blur=None,  # dict(type='gaussian', sigma=1.6) / dict(type='motion', length=15, angle=None)
    noise=None,  # dict(sigma=25) (0..255 scale) or dict(sigma=[0, 50])
    jpeg=None,  # dict(quality=75) or dict(quality=[30, 95])
    patch_size=None,  # low-resolution training crop (train split only); None: whole images
    repeat=1,  # training crops per image and epoch (train split only)
    augment=True,  # random flips and 90-degree rotations of training crops
    # the same flips / rotations of input and target on the batch's device with kornia (set augment=False):
    # dict(hflip=0.5, vflip=0.5, rot90=True); None: off
    batch_aug=None,
    seed=0,  # evaluation degradations are seeded per image from this
    # per split: gt = clean images, lq = paired inputs (None: gt degraded on the fly); both None: the photographs
    train=dict(gt=None, lq=None),
    val=dict(gt=None, lq=None),
    test=None,  # None: val's folders; add your own with --set +data.test.gt=FOLDER +data.test.lq=FOLDER
)
# baseline: score the trivial answer with the same metrics, printed beside the model's and logged
# (bicubic_psnr, ...: the bicubic up-scaled input when scale > 1; input_psnr, ...: the degraded input)
eval = dict(baseline=True)
