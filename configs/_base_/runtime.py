"""Runtime defaults every task config inherits: run folder, seed, device, loop and evaluation settings."""

work_dir = "work_dirs"  # runs go to <work_dir>/<config-stem>/<timestamp>/
seed = 42
deterministic = False  # torch.use_deterministic_algorithms + cudnn.deterministic
device = "auto"  # 'auto' (cuda when available), 'cpu', 'cuda', 'cuda:1'

train = dict(
    batch_size=16,
    num_workers=2,
    max_iters=None,  # give max_iters or max_epochs; iterations win when both are set
    max_epochs=None,
    val_interval=None,  # iterations between validations; None = once per epoch
    log_interval=20,  # iterations between records in metrics.jsonl / TensorBoard
    log_seconds=30,  # seconds between progress lines (it/s, ETA) in log.txt, and on stdout without a terminal
    amp=None,  # 'bf16' | 'fp16' | 'auto' (bf16 where the device computes it natively) | None; fp16 uses a GradScaler
    grad_clip=None,  # max global grad norm, or None
    accum_steps=1,
    drop_last=True,  # False also trains each epoch's last, incomplete batch (never a batch of one sample)
    early_stop=None,  # dict(patience=N): stop after N validations without improvement
    ema=None,  # dict(decay=0.999): evaluate and save an exponential moving average of the weights
    channels_last=False,
    cudnn_benchmark=True,  # CUDA only; ignored when deterministic=True
    compile=False,
    pin_memory=True,  # CUDA only
)
# NOTE: DataLoader workers are started afresh every epoch (no persistent_workers): datasets that
# draw new samples per epoch (set_epoch, e.g. Moving MNIST) must reach the workers' copies.

eval = dict(batch_size=16, num_workers=2, vis_items=4, max_batches=None)

optim = dict(type="adam", lr=1e-3, weight_decay=0.0)
sched = None
metrics = []

# Optional experiment trackers beside TensorBoard, each used only when enabled here and installed
# (pip install 'dense-toolkit[trackers]'); see toolkit/engine/trackers.py. A resumed run continues the same
# tracker runs. mlflow: tracking_uri None = SQLite in the run folder; experiment None = the task's name.
# wandb: mode 'offline' writes <run>/wandb/ without network ('online' logs live); project None = the task's name.
log = dict(
    mlflow=dict(enabled=False, tracking_uri=None, experiment=None, upload_checkpoint=False),
    wandb=dict(enabled=False, project=None, mode="offline", upload_checkpoint=False),
)
