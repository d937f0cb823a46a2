"""U-Net with a ResNet-18 encoder for infrared small targets: the U-Net decoder on a residual pyramid.

The usual "U-Net with a ResNet encoder" of segmentation work, at SIRST scale: ResNet-18 (He et al.,
CVPR 2016; basic blocks 2-2-2-2) at a quarter of the paper's width (16-32-64-128, the widths of the
U-Net baseline's first four levels) and with the stride-1 3x3 stem: the paper's 7x7 stride-2 stem and
max-pool would shrink a 3-pixel target below one feature pixel before the first residual block
(0.86M parameters in all, the U-Net baseline 1.81M).
The decoder and the recipe are those of ``tasks/sirst/unet.py``, so a run of each compares the
encoders. Deeper: ``python tools/ablate.py configs/mix/unet_resnet18.py --vary model.backbone.depth=18,34``.
"""

_base_ = ["../../tasks/sirst/unet.py"]

model = dict(channels=None, backbone=dict(type="resnet", depth=18, base_channels=16, stem_stride=1))
