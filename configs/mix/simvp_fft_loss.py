"""SimVP with a frequency-domain loss term added to MSE.

The FFT L1 loss of MIMO-UNet (Cho et al., ICCV 2021), used with weight 0.1 there and 0.05 in
SAFMN, penalises the blur that MSE alone tolerates in predicted frames; the clips' time axis is
folded into the batch before the transform. Inherits the CPU-sized SimVP run.
"""

_base_ = ["../../tasks/video_pred/simvp_tiny.py"]

loss = [dict(type="mse", weight=1.0), dict(type="fft", weight=0.05)]
