"""SimVP v2 (gSTA translator, mlp_ratio 8) on Moving MNIST; otherwise the SimVP recipe."""

_base_ = ["simvp.py"]

model = dict(translator="gsta", mlp_ratio=8.0, drop_path=0.0)
