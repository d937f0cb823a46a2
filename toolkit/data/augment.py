"""Seeding albumentations pipelines so that every transform draws its own random numbers.

``Compose.set_random_seed(s)`` (albumentations 2) gives every transform of the pipeline the *same*
seed, so their first draws are equal: a horizontal and a vertical flip with the same probability
then always happen together (a 180-degree rotation, never a single flip), and a random crop's offset
follows the flip. :func:`reseed` gives each transform a seed of its own, derived from one seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["reseed", "transforms_of"]


def reseed(pipeline: Any, seed: int) -> Any:
    """Seed ``pipeline`` (a Compose or a transform) and each transform inside it independently from ``seed``.

    Returns the pipeline. The same seed always gives the same draws.
    """
    nodes = list(transforms_of(pipeline))
    states = np.random.SeedSequence(int(seed) % 2**64).generate_state(len(nodes), dtype=np.uint32)
    for node, state in zip(nodes, states):
        children = getattr(node, "transforms", None)
        if children is not None:  # a Compose: set its own generators without pushing its seed down
            node.transforms, saved = [], children
            node.set_random_seed(int(state))
            node.transforms = saved
        else:
            node.set_random_seed(int(state))
    return pipeline


def transforms_of(pipeline: Any) -> Iterator[Any]:
    """``pipeline`` and every transform inside it (Compose, OneOf, ... opened), depth first, in order."""
    yield pipeline
    for child in getattr(pipeline, "transforms", None) or []:
        yield from transforms_of(child)
