"""Foot lock without bpy: a root offset per frame that keeps planted feet where they landed.

During each contact run of a foot, the foot should stay at the spot where the run began; the
offset moves the whole body (the root) by the foot's slide, averaged over the feet in contact.
Between contact runs (in flight) the offset eases linearly from the last contact frame's value to
the next one's, so nothing pops and the flight itself stays free.
"""
from __future__ import annotations

import numpy as np

from .runs import true_runs


def lock_offsets(feet: np.ndarray, contact: np.ndarray) -> np.ndarray:
    """Root offsets (F, 3) pinning feet (F, K, 3) during their contact frames (F, K) bool."""
    count = len(feet)
    slide = np.zeros((count, 3))
    weight = np.zeros(count)
    for k in range(feet.shape[1]):
        for start, end in true_runs(contact[:, k]):
            slide[start:end] += feet[start, k] - feet[start:end, k]
            weight[start:end] += 1.0
    planted = weight > 0
    if not planted.any():
        return np.zeros((count, 3))
    offset = slide[planted] / weight[planted, None]
    frames = np.arange(count)
    return np.stack([np.interp(frames, frames[planted], offset[:, i]) for i in range(3)], axis=-1)
