"""The one place where DeepMimic's Y-up world meets Blender's Z-up world.

Y-up (x, y, z) maps to Z-up (x, -z, y): a +90 degree turn about X. Heading (the forward x axis)
is unchanged, so a character facing +x in pybullet faces +x in Blender.
"""
from __future__ import annotations

import numpy as np

from . import rotations as rot

# Rotation taking Y-up coordinates to Z-up coordinates.
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
_Q = rot.from_matrix(Y_UP_TO_Z_UP)


def to_blender_positions(p: np.ndarray) -> np.ndarray:
    return np.asarray(p, dtype=np.float64) @ Y_UP_TO_Z_UP.T


def from_blender_positions(p: np.ndarray) -> np.ndarray:
    return np.asarray(p, dtype=np.float64) @ Y_UP_TO_Z_UP


def to_blender_rotations(q: np.ndarray) -> np.ndarray:
    """World-frame orientations (w, x, y, z) from Y-up to Z-up: C q C^-1."""
    return rot.multiply(rot.multiply(_Q, q), rot.conjugate(_Q))


def from_blender_rotations(q: np.ndarray) -> np.ndarray:
    return rot.multiply(rot.multiply(rot.conjugate(_Q), q), _Q)
