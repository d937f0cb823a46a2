# Resolved config written by the toolkit; load it with toolkit.config.load_config.
# Runs of this file are named after _source_ (the config it came from); delete that line to
# name them after this file.
work_dir = 'work_dirs'
seed = 42
deterministic = False
device = 'auto'
train = {'batch_size': 256,
 'num_workers': 0,
 'max_iters': None,
 'max_epochs': 100,
 'val_interval': 30,
 'log_interval': 5,
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
eval = {'batch_size': 256, 'num_workers': 0, 'vis_items': 4, 'max_batches': None, 'baseline': True}
optim = {'type': 'adam', 'lr': 0.001, 'weight_decay': 0.0}
sched = None
metrics = [{'type': 'classification', 'aa_mode': 'sklearn', 'per_class': True}]
log = {'mlflow': {'enabled': False, 'tracking_uri': None, 'experiment': None, 'upload_checkpoint': False},
 'wandb': {'enabled': False, 'project': None, 'mode': 'offline', 'upload_checkpoint': False}}
task = 'hsi'
data = {'type': 'hsi_scene',
 'cube': None,
 'gt': None,
 'cube_key': None,
 'gt_key': None,
 'num_classes': None,
 'class_names': None,
 'synthetic': {'height': 96,
               'width': 96,
               'bands': 100,
               'num_classes': 8,
               'layout': None,
               'layout_key': None,
               'noise': 0.02,
               'variability': 0.02,
               'mixing': 0.8,
               'fields_per_class': 6.0,
               'texture': 1.0,
               'seed': 0},
 'window': 25,
 'padding': 'zero',
 'standardize': True,
 'pca': {'n_components': 30, 'whiten': False, 'fit': 'train'},
 'split': {'type': 'disjoint', 'train': 0.3, 'val': 0.1, 'seed': 0},
 'augment': {'flip': True, 'rotate90': True, 'spectral_noise': 0.0}}
model = {'type': 'hybridsn',
 'in_channels': 30,
 'num_classes': 8,
 'window': 25,
 'dropout': 0.4,
 'attn': {'type': None}}
loss = [{'type': 'cross_entropy', 'weight': 1.0}]
_source_ = 'tasks/hsi/hybridsn.py'
