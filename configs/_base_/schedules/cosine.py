"""Cosine decay from optim.lr to eta_min over the whole run, stepped every iteration."""

sched = dict(type="cosine", eta_min=1e-5, warmup_iters=0)
