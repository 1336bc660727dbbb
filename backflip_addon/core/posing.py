"""Clip → armature pose channels, without bpy.

The humanoid armature has one bone per body, headed at the body's joint in the rest pose (all
joint rotations identity). A bone's rest orientation B (from Blender's bone.matrix_local) differs
from the body frame, so a body's local rotation q becomes the pose-bone rotation B⁻¹·q·B, and the
root's world position p becomes the pose location B⁻¹·(p − head).
"""
from __future__ import annotations

import numpy as np

from . import axes
from . import rotations as rot
from .kinematics import forward_kinematics, local_rotations
from .skeleton import FRAME_WIDTH, QUAT_COLUMNS, ROOT_POS, Skeleton, humanoid3d


def standing_root_height(skeleton: Skeleton | None = None) -> float:
    """Root height (m) at which the rest-pose feet touch the ground."""
    skeleton = skeleton or humanoid3d()
    rest = identity_row()
    pos, _ = forward_kinematics(rest[None], skeleton)
    lowest = 0.0
    for i, body in enumerate(skeleton.bodies):
        shape = body.shape
        bottom = pos[0, i, 1] + shape.origin[1] - (shape.size[1] / 2 if shape.kind == "box" else shape.radius)
        lowest = min(lowest, bottom)
    return -lowest


def identity_row() -> np.ndarray:
    """A 44-number DeepMimic row with the root at the origin and every joint at identity."""
    row = np.zeros(FRAME_WIDTH)
    row[QUAT_COLUMNS] = 1.0
    return row


def rest_pose_row(skeleton: Skeleton | None = None) -> np.ndarray:
    """A 44-number DeepMimic row: standing, all joints at identity."""
    row = identity_row()
    row[2] = standing_root_height(skeleton)
    return row


def rest_heads_blender(skeleton: Skeleton | None = None) -> np.ndarray:
    """Rest-pose joint positions (B, 3) in Blender's Z-up frame."""
    pos, _ = forward_kinematics(rest_pose_row(skeleton)[None], skeleton)
    return axes.to_blender_positions(pos[0])


def pose_channels(
    frames: np.ndarray, bone_rest_rotations: np.ndarray, root_head: np.ndarray, skeleton: Skeleton | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pose-bone quaternions (F, B, 4) and root bone location (F, 3) for DeepMimic rows.

    `bone_rest_rotations` (B, 4): each bone's rest orientation in armature space (Z up);
    `root_head`: the root bone's rest head position in armature space.
    Quaternions are made continuous in time so Blender's per-channel interpolation is smooth.
    """
    frames = np.atleast_2d(frames)
    local = axes.to_blender_rotations(local_rotations(frames, skeleton))
    b = rot.normalize(bone_rest_rotations)[None]
    b_inv = rot.conjugate(b)
    channels = rot.multiply(rot.multiply(b_inv, local), b)
    channels = rot.make_continuous(channels, axis=0)
    root_world = axes.to_blender_positions(frames[:, ROOT_POS])
    location = rot.rotate(np.broadcast_to(b_inv[0, 0], (len(frames), 4)), root_world - np.asarray(root_head))
    return channels, location
