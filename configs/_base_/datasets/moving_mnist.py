"""Moving MNIST generated on the fly: 2 digits on 64x64, 10 frames in, 10 out (the SimVP / PastNet setting)."""

task = "video_pred"
data = dict(
    type="moving_mnist",
    input_frames=10,
    output_frames=10,
    num_digits=2,
    image_size=64,
    mnist_root=None,  # folder with train-images-idx3-ubyte[.gz]; None = scikit-learn's digits
    test_path=None,  # mnist_test_seq.npy for the standard fixed test set
    seed=0,
    # test num_clips=None: the whole test_path file, or 1,000 generated clips
    splits=dict(train=dict(num_clips=10000), val=dict(num_clips=1000), test=dict(num_clips=None)),
)
