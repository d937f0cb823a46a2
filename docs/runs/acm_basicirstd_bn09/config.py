# Resolved config written by the toolkit; load it with toolkit.config.load_config.
# Runs of this file are named after _source_ (the config it came from); delete that line to
# name them after this file.
work_dir = 'work_dirs'
seed = 42
deterministic = False
device = 'auto'
train = {'batch_size': 16,
 'num_workers': 0,
 'max_iters': None,
 'max_epochs': 400,
 'val_interval': 650,
 'log_interval': 20,
 'log_seconds': 30,
 'amp': None,
 'grad_clip': None,
 'accum_steps': 1,
 'early_stop': None,
 'ema': None,
 'channels_last': False,
 'cudnn_benchmark': True,
 'compile': False,
 'pin_memory': True}
eval = {'batch_size': 1,
 'num_workers': 1,
 'vis_items': 4,
 'max_batches': None,
 'threshold': 0.5,
 'report_items': 8}
optim = {'type': 'adam', 'lr': 0.0005, 'weight_decay': 0.0}
sched = {'type': 'multistep', 'milestones': None, 'milestone_epochs': [200, 300], 'gamma': 0.1}
metrics = ['miou', 'niou', 'pd_fa', 'pixel_roc', 'pd_fa_curve']
log = {'mlflow': {'enabled': False, 'tracking_uri': None, 'experiment': None, 'upload_checkpoint': False},
 'wandb': {'enabled': False, 'project': None, 'mode': 'offline', 'upload_checkpoint': False}}
task = 'sirst'
data = {'type': 'sirst',
 'root': '../shared/data/sirst/NUAA-SIRST',
 'cache_dir': None,
 'synth': {},
 'layout': 'img_idx',
 'split_files': None,
 'val_split': 'test',
 'image_dir': 'images',
 'mask_dir': 'masks',
 'mask_suffix': 'auto',
 'color': 'grey',
 'mean': [0.39632882510914524],
 'std': [0.13576316085516238],
 'size_mismatch': 'resize',
 'crop_size': 256,
 'base_size': 256,
 'scale_range': None,
 'flip': True,
 'target_crop_prob': 0.0,
 'blur_prob': 0.0,
 'eval_size': None,
 'pad_multiple': 32}
model = {'type': 'acm',
 'in_channels': 1,
 'num_classes': 1,
 'channels': [8, 16, 32, 64],
 'num_blocks': [3, 3, 3],
 'fuse': 'asym_bi',
 'reduction': 4,
 'tiny': False,
 'attn': None,
 'bn_momentum': 0.9}
loss = [{'type': 'soft_iou', 'weight': 1.0}]
_source_ = 'tasks/sirst/acm_basicirstd.py'
