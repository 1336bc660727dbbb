"""Numpy forward kinematics of humanoid3d for whole clips at once."""
from __future__ import annotations

import numpy as np

from . import rotations as rot
from .skeleton import JOINTS, ROOT_POS, ROOT_ROT, Skeleton, humanoid3d


def local_rotations(frames: np.ndarray, skeleton: Skeleton | None = None) -> np.ndarray:
    """Per-body rotation relative to the parent (F, B, 4); the root's is its world rotation."""
    skeleton = skeleton or humanoid3d()
    frames = np.atleast_2d(frames)
    out = np.tile(rot.IDENTITY, (len(frames), len(skeleton.bodies), 1))
    out[:, 0] = rot.normalize(frames[:, ROOT_ROT])
    for j in JOINTS:
        i = skeleton.index(j.name)
        if j.ball:
            out[:, i] = rot.normalize(frames[:, j.column : j.column + 4])
        else:
            out[:, i] = rot.from_axis_angle(np.array(skeleton.bodies[i].axis), frames[:, j.column])
    return out


def forward_kinematics(frames: np.ndarray, skeleton: Skeleton | None = None) -> tuple[np.ndarray, np.ndarray]:
    """World positions (F, B, 3) and rotations (F, B, 4) of every body's joint frame, Y up.

    `frames` are DeepMimic rows (F, 44). Bodies are ordered as in the skeleton (parents first).
    """
    skeleton = skeleton or humanoid3d()
    frames = np.atleast_2d(np.asarray(frames, dtype=np.float64))
    local = local_rotations(frames, skeleton)
    count = len(skeleton.bodies)
    pos = np.zeros((len(frames), count, 3))
    world = np.zeros((len(frames), count, 4))
    for i, body in enumerate(skeleton.bodies):
        if body.parent < 0:
            pos[:, i] = frames[:, ROOT_POS]
            world[:, i] = local[:, i]
        else:
            p = body.parent
            pos[:, i] = pos[:, p] + rot.rotate(world[:, p], np.array(body.offset))
            world[:, i] = rot.multiply(world[:, p], local[:, i])
    return pos, world


def shape_centers(positions: np.ndarray, rotations: np.ndarray, skeleton: Skeleton | None = None) -> np.ndarray:
    """World positions (F, B, 3) of each body's collision shape centre (its centre of mass here)."""
    skeleton = skeleton or humanoid3d()
    origins = np.array([b.shape.origin for b in skeleton.bodies])
    return positions + rot.rotate(rotations, origins)
