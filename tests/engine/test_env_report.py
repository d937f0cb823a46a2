"""``env.txt``: the versions of the design's libraries, read from the installed distributions."""

from __future__ import annotations

import importlib.metadata

from toolkit.engine.runlog import environment_report


def test_every_library_has_its_installed_version():
    text = environment_report()
    for dist in ("numpy", "albumentations", "kornia", "pytorch-msssim", "scikit-learn", "scipy"):
        assert f"\n{dist}: {importlib.metadata.version(dist)}\n" in text
    assert ": ?" not in text  # pytorch_msssim has no __version__; it used to be reported as '?'
