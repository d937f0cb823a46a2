"""SIRST data: every key of the ``sirst`` dataset with its default; the generated scenes when root is None.

Images in ``images/``, masks in ``masks/`` (optionally with a suffix such as ``_pixels0``) and split lists
in one of the layouts of tasks/sirst/data.py. Mean and std are in [0, 1] units per channel.
"""

task = "sirst"
data = dict(
    type="sirst",
    root=None,  # dataset folder; None = generated scenes (tasks/sirst/synth.py) in cache_dir
    cache_dir=None,  # where generated scenes go; None = data_cache/ in the repository
    synth=dict(),  # generate_dataset options: num_train (160), num_test (40), seed (0), sizes, max_targets (4)
    layout="auto",  # 'auto', '50_50', 'img_idx', 'idx_427', 'idx_320' or 'folder' (every image)
    split_files=None,  # dict(train=..., val=..., test=...) list files relative to root, overriding the layout
    val_split="test",  # list used for validation during training (the field selects on test)
    image_dir="images",
    mask_dir="masks",
    mask_suffix="auto",  # 'auto' = none or '_pixels0'; otherwise the exact suffix
    color="grey",  # 'grey' (1 channel) or 'rgb' (3 channels); gives the model's in_channels
    mean=None,  # per-channel mean in [0, 1]; None (with std None) = computed on the training split
    std=None,  # per-channel std in [0, 1]
    size_mismatch="resize",  # mask size != image size: 'resize' the mask (nearest), 'skip' or 'error'
    crop_size=256,  # training crop
    base_size=256,  # short side that scale_range multiplies
    scale_range=(0.5, 2.0),  # random scale of the short side, relative to base_size; None keeps the size
    flip=True,  # random horizontal / vertical flips and transpose
    target_crop_prob=0.0,  # probability that a training crop contains a target
    blur_prob=0.0,  # probability of a Gaussian blur of the training image (not the mask)
    # a training image smaller than crop_size is padded with 'zero' (black pixels) or 'mean' (the normalisation
    # mean: 0 after normalisation, as evaluation pads); at 'center' or 'bottom_right'
    pad_fill="zero",
    pad_position="center",  # NOTE: DNANet's and BasicIRSTD's own pipelines pad bottom and right
    flip_after_crop=False,  # True: flip / transpose the crop (BasicIRSTD) instead of the image before padding
    eval_size=None,  # None = original resolution; 256 (DNANet protocol) or 512 (ACM protocol)
    pad_multiple=32,  # evaluation at original size: zero-pad to this multiple, crop the output back
)
# evaluation settings every SIRST config has (a config's eval dict changes them like any other key)
eval = dict(
    threshold=0.5,  # a pixel is a target where prob > threshold: every metric, saved mask and overlay
    report_items=8,  # overlay pictures tools/eval.py writes
    # also score a training-free top-hat detector (tasks/sirst/baseline.py) on the same images with the
    # same metrics (tophat_mIoU, ...), printed beside the model's figures and logged
    baseline=True,
)
