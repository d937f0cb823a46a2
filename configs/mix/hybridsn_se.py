"""HybridSN with squeeze-and-excitation after its 2-D convolution.

SE (Hu et al., CVPR 2018) re-weights the 64 spatial-spectral feature maps of HybridSN (Roy et al.,
IEEE GRSL 2020) before the dense layers. Inherits the CPU-sized HybridSN run on the generated
scene; for the paper recipe use ``_base_ = ['../../tasks/hsi/hybridsn.py']``.
"""

_base_ = ["../../tasks/hsi/hybridsn_tiny.py"]

model = dict(attn=dict(type="se", reduction=16))
