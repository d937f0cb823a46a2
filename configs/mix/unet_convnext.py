"""U-Net with a ConvNeXt encoder for infrared small targets: the U-Net decoder on a ConvNeXt pyramid.

ConvNeXt (Liu et al., CVPR 2022) stages (depths 2-2-6-2, the toolkit's small default) at widths
16-32-64-128, the first four of the U-Net baseline, with a 1x1 patch stem instead of the paper's 4x4
stride-4 patchify: a 4x4 patch would average a 3-pixel target with its background before any
feature is computed. The 7x7 depthwise convolutions give every level a larger receptive field than
the U-Net's 3x3 pairs, with 0.72M parameters in all against the U-Net's 1.81M. The decoder and the
recipe are those of ``tasks/sirst/unet.py``, so a run of each compares the encoders.
"""

_base_ = ["../../tasks/sirst/unet.py"]

model = dict(channels=None, backbone=dict(type="convnext", channels=[16, 32, 64, 128], patch_size=1))
