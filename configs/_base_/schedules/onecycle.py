"""OneCycleLR stepped every iteration (max_lr defaults to optim.lr)."""

sched = dict(type="onecycle", max_lr=None, pct_start=0.3, div_factor=25.0, final_div_factor=1e4)
