"""DNANet with coordinate attention in place of its channel + spatial (CBAM-style) attention.

Coordinate attention (Hou et al., CVPR 2021) keeps positional information along each axis, which
a small infrared target occupies only in a few rows and columns; DNANet (Li et al., IEEE TIP 2022)
re-weights every residual block of its nested U-Net with channel + spatial attention. Inherits the
CPU-sized DNANet run on generated scenes; for the paper recipe use
``_base_ = ['../../tasks/sirst/dnanet.py']``.
"""

_base_ = ["../../tasks/sirst/dnanet_tiny.py"]

# _delete_: CBAM's options (spatial_kernel, reduction 4) do not carry over; coord keeps its paper defaults
model = dict(attn=dict(_delete_=True, type="coord"))
