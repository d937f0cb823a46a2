"""``safmn_tiny.py`` trained with L1 + MS-SSIM instead of L1 + 0.05 x FFT; everything else is the same.

Zhao, Gallo, Frosio & Kautz, "Loss Functions for Image Restoration with Neural Networks" (IEEE TCI
2017), Eq. 10: ``alpha * L_MS-SSIM + (1 - alpha) * L_l1`` with alpha = 0.84. The comparison with the
plain loss (same budget, two seeds) is in docs/restoration.md.
"""

_base_ = ["safmn_tiny.py"]

# NOTE: Zhao et al. weight the L1 term with the Gaussian of MS-SSIM's coarsest scale; this is a plain L1.
# NOTE: 3 scales, not the paper's 5: the 64 px ground-truth crops (16 px LR x4) allow 3 at window 11
# (5 need 161 px); the 3 finest exponents are rescaled to sum to one (toolkit/losses/pixel.py).
loss = [dict(type="l1", weight=0.16), dict(type="ms_ssim", weight=0.84, levels=3)]
