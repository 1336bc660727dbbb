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


def _rpy_quat(rpy: tuple[float, float, float]) -> np.ndarray:
    """URDF roll-pitch-yaw (fixed X, then Y, then Z) as a quaternion."""
    qx = rot.from_axis_angle(np.array([1.0, 0, 0]), rpy[0])
    qy = rot.from_axis_angle(np.array([0, 1.0, 0]), rpy[1])
    qz = rot.from_axis_angle(np.array([0, 0, 1.0]), rpy[2])
    return rot.multiply(qz, rot.multiply(qy, qx))


def lowest_points(frames: np.ndarray) -> np.ndarray:
    """Height (F, B) of the lowest point of each body's collision shape."""
    skeleton = humanoid3d()
    pos, world = forward_kinematics(frames, skeleton)
    out = np.zeros(pos.shape[:2])
    for i, body in enumerate(skeleton.bodies):
        shape = body.shape
        q = rot.multiply(world[:, i], _rpy_quat(shape.rpy))
        centre = pos[:, i] + rot.rotate(world[:, i], np.array(shape.origin))
        if shape.kind == "sphere":
            out[:, i] = centre[:, 1] - shape.radius
        elif shape.kind == "capsule":
            tip = rot.rotate(q, np.array([0.0, 0.0, shape.length / 2]))
            out[:, i] = centre[:, 1] - np.abs(tip[:, 1]) - shape.radius
        else:  # box: the lowest of its eight corners
            half = np.array(shape.size) / 2
            corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * half
            heights = centre[:, None, 1] + rot.rotate(q[:, None], corners[None])[..., 1]
            out[:, i] = heights.min(axis=1)
    return out
