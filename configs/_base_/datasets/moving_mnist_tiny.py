"""Moving MNIST sized for a 2-core CPU: one 14 px digit on 32x32, 5 frames in, 5 out, small splits."""

_base_ = ["moving_mnist.py"]

data = dict(
    input_frames=5,
    output_frames=5,
    num_digits=1,
    image_size=32,
    digit_size=14,
    splits=dict(train=dict(num_clips=2000), val=dict(num_clips=64), test=dict(num_clips=256)),
)
