"""The policy's observation: DeepMimic's character state, as pure numpy maths.

Layout (197 numbers for humanoid3d, the same as pybullet's DeepMimic port):
phase in [0, 1), root height, then per body (15) its centre-of-mass position relative to the root
and its orientation (w, x, y, z with w >= 0), both in the heading frame, then per body its linear
and angular velocity in the heading frame. The heading frame turns about +Y so that the root's
forward (+x) axis points along +x.

With a target (`SimConfig.target_obs`, as MimicKit's DeepMimic env does) 85 numbers follow: the
reference pose the step is heading for — per body its reference centre of mass relative to the
simulated root in the same heading frame (45), the reference root orientation in that frame (4), the
reference joint rotations (8 x 4, w >= 0) and angles (4). The policy then sees where it should be
instead of having to recall the whole clip from the phase alone.
"""
from __future__ import annotations

import math

import numpy as np

from .character import NUM_LINKS, BodyState
from .reference import ReferenceTables

OBSERVATION_SIZE = 2 + NUM_LINKS * 7 + NUM_LINKS * 6
TARGET_SIZE = NUM_LINKS * 3 + 4 + 8 * 4 + 4
ROOT_HEIGHT_INDEX = 1
"""where the root height sits in the observation"""


def observation_size(target_obs: bool) -> int:
    """Length of the observation vector with or without the reference target."""
    return OBSERVATION_SIZE + (TARGET_SIZE if target_obs else 0)


def heading_angle(root_rot: np.ndarray) -> float:
    """rad: rotation about +Y of the root's forward axis (DeepMimic's heading)."""
    w, x, y, z = root_rot.tolist()
    # Forward axis (1, 0, 0) rotated by the root: its x and z components.
    fx = 1.0 - 2.0 * (y * y + z * z)
    fz = 2.0 * (x * z - w * y)
    return math.atan2(-fz, fx)


def observe(sim: BodyState, phase: float, target: ReferenceTables | None = None, row: int = 0) -> np.ndarray:
    """The float32 observation vector of one simulated state; with `target`, its row `row` follows."""
    # Written for few numpy calls: this runs once per control step.
    heading = heading_angle(sim.root_rot)
    c, s = math.cos(heading), -math.sin(heading)  # rotation by -heading about +Y
    hc, hs = math.cos(heading / 2.0), -math.sin(heading / 2.0)
    # Transposed, for row vectors; and the left-multiplication matrix for (w, x, y, z) quaternions.
    rot_t = np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])
    left_t = np.array([[hc, 0.0, hs, 0.0], [0.0, hc, 0.0, -hs], [-hs, 0.0, hc, 0.0], [0.0, hs, 0.0, hc]])
    out = np.empty(observation_size(target is not None), dtype=np.float32)
    out[0] = phase
    out[ROOT_HEIGHT_INDEX] = sim.root_pos[1]  # root height: the heading frame sits on the ground below the root
    bodies = out[2 : 2 + NUM_LINKS * 7].reshape(NUM_LINKS, 7)
    bodies[:, :3] = (sim.link_pos - sim.root_pos) @ rot_t
    quat = sim.link_rot @ left_t
    quat[quat[:, 0] < 0.0] *= -1.0
    bodies[:, 3:] = quat
    velocities = out[2 + NUM_LINKS * 7 : OBSERVATION_SIZE].reshape(NUM_LINKS, 2, 3)
    velocities[:, 0] = sim.link_vel @ rot_t
    velocities[:, 1] = sim.link_ang_vel @ rot_t
    if target is not None:
        tail = out[OBSERVATION_SIZE:]
        tail[: NUM_LINKS * 3].reshape(NUM_LINKS, 3)[:] = (target.body_pos[row] - sim.root_pos) @ rot_t
        root = target.root_rot[row] @ left_t
        tail[NUM_LINKS * 3 : NUM_LINKS * 3 + 4] = root if root[0] >= 0.0 else -root
        joints = target.joint_rot[row] * np.where(target.joint_rot[row][:, :1] < 0.0, -1.0, 1.0)
        tail[NUM_LINKS * 3 + 4 : -4] = joints.ravel()
        tail[-4:] = target.joint_angle[row]
    return out
