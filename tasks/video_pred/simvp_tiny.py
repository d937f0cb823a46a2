"""A small SimVP and schedule that finishes in minutes on a 2-core CPU and visibly learns.

Moving MNIST at 32x32 with one 14 px digit, 5 frames in and 5 out; a narrow IncepU translator.
"""

_base_ = ["simvp.py", "../../configs/_base_/datasets/moving_mnist_tiny.py"]

model = dict(hid_S=16, hid_T=64, N_S=2, N_T=3, kernel_sizes=(3, 5), groups=4)
optim = dict(lr=5e-3)
# bf16 where the CPU or GPU computes it natively: equal accuracy, 1.28x end to end over two seeds (docs/benchmarks.md)
train = dict(
    batch_size=16, max_epochs=None, max_iters=600, val_interval=200, num_workers=0, log_interval=20, amp="auto"
)
eval = dict(batch_size=32)
