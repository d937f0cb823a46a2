"""SimVP (IncepU translator) with CBAM after every Inception block of the translator.

CBAM (Woo et al., ECCV 2018) re-weights the translator's time-folded features (B, T*C, H, W)
first per channel, i.e. per frame and feature, then per position. Inherits the CPU-sized SimVP
run; for the paper-sized recipe use ``_base_ = ['../../tasks/video_pred/simvp.py']``.
Compare with the plain model: ``python tools/ablate.py configs/mix/simvp_cbam.py --vary model.attn.type=cbam,none``.
"""

_base_ = ["../../tasks/video_pred/simvp_tiny.py"]

model = dict(attn=dict(type="cbam"))  # paper defaults: reduction 16, 7x7 spatial conv
