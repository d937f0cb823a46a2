"""SimVP v1 (IncepU translator) on Moving MNIST: the published recipe.

Adam lr 1e-3, OneCycleLR stepped per iteration, batch 16, 200 epochs of 10,000 clips, MSE loss.
"""

_base_ = ["../../configs/_base_/runtime.py", "../../configs/_base_/schedules/onecycle.py"]

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
model = dict(
    type="simvp",
    in_shape=None,  # filled from the data: (T, C, H, W)
    hid_S=64,
    hid_T=512,
    N_S=4,
    N_T=8,
    translator="incepu",
    attn=None,
)
loss = [dict(type="mse", weight=1.0)]
metrics = ["video"]
optim = dict(type="adam", lr=1e-3, weight_decay=0.0)
train = dict(batch_size=16, max_epochs=200, val_interval=None, num_workers=4)
eval = dict(batch_size=16)
