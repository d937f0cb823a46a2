"""SAFMN with efficient channel attention in place of spatially-adaptive feature modulation.

Swaps the multi-scale SAFM (Sun et al., ICCV 2023) of every block for ECA (Wang et al., CVPR 2020),
which costs 3-5 weights per block instead of a few thousand: how much of SAFMN's quality comes
from spatial modulation? Inherits the CPU-sized SAFMN x4 run; for the paper recipe use
``_base_ = ['../../tasks/restoration/safmn_x4.py']``.
"""

_base_ = ["../../tasks/restoration/safmn_tiny.py"]

model = dict(attn=dict(_delete_=True, type="eca"))  # _delete_: SAFM's own options do not carry over
