"""Moving MNIST generated on the fly: 2 digits on 64x64, 10 frames in, 10 out (the SimVP / PastNet setting).

Every key of the ``moving_mnist`` dataset (``tasks/video_pred/data.py``) with its default; task
configs list this file in ``_base_`` and change only what differs. ``splits.<split>`` overrides the
shared keys for one split.
"""

task = "video_pred"
data = dict(
    type="moving_mnist",
    input_frames=10,  # frames the model reads
    output_frames=10,  # frames it predicts (must equal input_frames for SimVP / PastNet)
    num_digits=2,  # digits bouncing in every clip
    image_size=64,  # square canvas side in pixels
    digit_size=28,  # digit side in pixels (MNIST's 28; smaller canvases need smaller digits)
    step=0.1,  # distance a digit moves per frame, as a fraction of its free range
    mnist_root=None,  # folder with train-images-idx3-ubyte[.gz]; None = scikit-learn's digits
    test_path=None,  # mnist_test_seq.npy for the standard fixed test set (validation stays generated)
    seed=0,  # clip i of epoch e depends only on (seed, split, e, i)
    # the same flips / rotations of every input and target frame on the batch's device with kornia:
    # dict(hflip=0.5, vflip=0.5, rot90=True); None: off
    batch_aug=None,
    # clips per split; test num_clips=None: the whole test_path file, or 1,000 generated clips
    splits=dict(train=dict(num_clips=10000), val=dict(num_clips=1000), test=dict(num_clips=None)),
)
# baseline: also score the copy-last-frame forecast with the same metrics (copy_last_mse, ...)
eval = dict(baseline=True)
