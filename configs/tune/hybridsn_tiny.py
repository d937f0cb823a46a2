"""A search space for tools/tune.py: HybridSN's learning rate and attention slot on the tiny HSI scene.

    python tools/tune.py configs/tune/hybridsn_tiny.py --trials 8 [--workers 2]

Every trial is hybridsn_tiny.py shortened to 150 iterations with a validation every 30, so the median
pruner can stop a trial whose primary metric trails the complete trials' median from its first validation on.
"""

_base_ = ["../../tasks/hsi/hybridsn_tiny.py"]

train = dict(max_iters=150, val_interval=30, log_interval=30)
tune = dict(
    params={
        "optim.lr": dict(type="float", low=1e-4, high=3e-3, log=True),
        "model.attn.type": dict(type="categorical", choices=[None, "se", "eca", "cbam"]),
    },
    trials=8,
    sampler="tpe",
    pruner=dict(type="median", n_startup_trials=2, n_warmup_steps=30),
)
