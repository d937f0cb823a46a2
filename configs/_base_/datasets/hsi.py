"""One hyperspectral scene for the hsi Task: every data key the Task reads, with its default.

The scene (a .mat / .npy / .npz file, or a generated scene when ``cube`` is None) is loaded, split
into train / val / test pixels, preprocessed and padded once; the three pixel subsets share it.
The defaults are the HybridSN recipe (window 25, 30 PCA components) on a generated 144x144 scene with
several fields of every class and class-specific canopy textures, so that a spatially disjoint split
is meaningful and a spectral-spatial model has something to learn that single spectra do not show.
Real data: ``data.cube=PATH.mat data.gt=PATH_gt.mat``.

Child configs list only the keys they change. Nested dicts merge key by key, ``split`` included: a
child writing ``split=dict(type='random')`` keeps ``train``, ``val`` and ``seed`` from here (the random
split ignores the disjoint split's ``block_size`` / ``guard`` / ``regions``). To replace the split
dict wholesale, write ``split=dict(_delete_=True, type='random', train=10)``: keys it leaves out then
take the split function's own defaults (``val=0``, ``seed=0``; disjoint: ``regions=1``).
"""

task = "hsi"
data = dict(
    type="hsi_scene",  # DATASETS entry: the prepared scene; the Task takes its 'train' / 'val' / 'test' subsets
    cube=None,  # cube file (H, W, bands), e.g. 'data/Indian_pines_corrected.mat'; None = the generated scene
    gt=None,  # ground-truth file, e.g. 'data/Indian_pines_gt.mat'; None = the 2-D array in the cube's file
    cube_key=None,  # variable name inside the cube file; None = the one 3-D array
    gt_key=None,  # variable name inside the ground-truth file; None = the one 2-D array (*_gt names break ties)
    num_classes=None,  # None = the largest label of the ground truth
    class_names=None,  # K names; None = the known names of public scenes, else 'class c'
    # the generated scene, used when cube is None
    synthetic=dict(
        height=144,
        width=144,
        bands=100,
        num_classes=8,
        layout=None,  # a real label map for the fields, e.g. '../shared/data/hsi/IndianPines/Indian_pines_gt.mat'
        layout_key=None,  # its variable name; None = detected
        noise=0.02,  # standard deviation of the band-correlated noise (reflectance units)
        variability=0.02,  # relative within-class variability (per field and per pixel)
        mixing=0.8,  # Gaussian sigma (pixels) of material mixing across field borders; 0 = none
        fields_per_class=6.0,  # fields per class in a generated layout (more = smaller fields)
        # canopy texture depth in [0, 1]: every class plants its own pattern (rows, trees on a grid, patches,
        # closed canopy) over bare soil, so single pixels between the plants look alike; 0 = closed canopy
        texture=1.0,
        seed=0,
    ),
    window=25,  # odd patch size S: a pixel is classified from the S x S window around it
    padding="zero",  # border padding of the preprocessed cube: 'zero' (the mean spectrum) | 'reflect'
    standardize=True,  # every band to zero mean and unit variance before PCA
    # n_components=None keeps the bands; fit: 'train' pixels, or the whole 'scene' as the HybridSN reference code
    pca=dict(n_components=30, whiten=False, fit="train"),
    # spatially disjoint by default (no test pixel inside a training patch); the paper's protocol, a random
    # 30 % (every test pixel then lies inside a training patch, and the run says so): --set data.split.type=random.
    # train / val: a ratio of each class, or (random only) a whole count of pixels per class
    split=dict(type="disjoint", train=0.3, val=0.1, seed=0),
    augment=dict(flip=True, rotate90=True, spectral_noise=0.0),  # training patches only; noise std after PCA
)
# baseline: also score a per-pixel logistic regression on the same preprocessed spectra, fitted on the
# training pixels (logreg_OA, logreg_AA, logreg_kappa), printed beside the model's figures and logged
eval = dict(baseline=True)
