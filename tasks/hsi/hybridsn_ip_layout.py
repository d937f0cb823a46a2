"""HybridSN on a generated scene laid out like Indian Pines (the real 145x145 label map, 16 classes).

Needs the real label map at ``../shared/data/hsi/IndianPines/Indian_pines_gt.mat`` (or set
``data.synthetic.layout``). The paper protocol is ``--set data.split.type=random`` (30 % training);
the default here is the spatially disjoint split. See docs/hsi.md, "Fidelity".
"""

_base_ = ["hybridsn.py"]

data = dict(
    # variability 0.05 and no texture: the scene measured in docs/hsi.md "Fidelity" (the generated default
    # scene has textures since; texture=0 draws the same cube as before they existed)
    synthetic=dict(
        layout="../shared/data/hsi/IndianPines/Indian_pines_gt.mat", bands=200, variability=0.05, texture=0.0, seed=0
    ),
    split=dict(val=0.05, regions=2),  # disjoint, train 0.3 from the base; 2 regions: 10 of 16 classes on both sides
)
