"""humanoid3d's rest pose, without bpy: every joint at identity, standing on the ground."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import axes
from .kinematics import forward_kinematics
from .skeleton import FRAME_WIDTH, QUAT_COLUMNS, Skeleton, humanoid3d


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
    """Rest-pose joint positions (B, 3) in Blender's Z-up frame (a copy: callers may change it)."""
    return _rest_heads(skeleton or humanoid3d()).copy()


@lru_cache(maxsize=4)
def _rest_heads(skeleton: Skeleton) -> np.ndarray:
    # Every bake and retarget asks for these several times (two FK passes each), and they never change.
    pos, _ = forward_kinematics(rest_pose_row(skeleton)[None], skeleton)
    return axes.to_blender_positions(pos[0])
