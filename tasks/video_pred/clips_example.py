"""Your own clips: a .npy/.npz array or a folder of clip folders, with the small SimVP.

Point ``data.path`` at
- a ``.npy``/``.npz`` of clips (N, T, H, W) or (N, T, C, H, W) (``layout="NTHWC"`` for channels-last,
  ``key`` for the array of a multi-array ``.npz``); uint8 is read as value / 255;
- or a folder holding one sub-folder of frames (PNG/JPG) per clip.
Clips need at least input_frames + output_frames frames. The clips are split by ``split_ratios``
(seeded) or ``split_ranges``; every item is normalised with the training split's per-channel mean
and std, which the checkpoint keeps so that predictions, metrics and pictures are in the data scale.

    python tools/train.py tasks/video_pred/clips_example.py --set data.path=/data/my_clips.npy
    python tools/infer.py tasks/video_pred/clips_example.py --checkpoint work_dirs/.../best.pt \
        --input new_clips.npy --out preds.npy --frames 20
"""

_base_ = ["simvp_tiny.py"]

data = dict(
    _delete_=True,  # replaces the Moving MNIST settings instead of merging into them
    type="clips",
    path=None,  # REQUIRED: .npy/.npz file or folder of clip folders (see above)
    input_frames=5,  # frames the model reads
    output_frames=5,  # frames it predicts (must equal input_frames)
    key=None,  # array name inside a multi-array .npz
    layout=None,  # None = guess; "NTCHW" or "NTHWC" for 5-D arrays
    channels=None,  # None = from the data; set it to have a mismatch reported
    image_size=None,  # (H, W) to resize every frame; needed when clip folders differ in size
    stride=None,  # one window per clip; N = a window every N frames of long clips
    split_ratios=(0.8, 0.1, 0.1),  # seeded fractions of the clips for train / val / test
    split_ranges=None,  # e.g. dict(train=(0, 800), val=(800, 900), test=(900, 1000)); wins over split_ratios
    seed=0,  # seed of the shuffle behind split_ratios
    normalise=True,  # per-channel mean / std of the training split (kept in the checkpoint)
    stats_max_clips=1000,  # training clips (evenly spaced) read to compute those statistics
    augment=dict(scale=(1.0, 1.15), hflip=0.5, vflip=0.0),  # training only; None disables it
    batch_aug=None,  # e.g. dict(vflip=0.5, rot90=True): on the batch's device (kornia), after augment
    splits=None,  # per-split overrides, e.g. dict(test=dict(path="test.npy", split_ratios=None))
)
