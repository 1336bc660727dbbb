"""The policy's observation: DeepMimic's character state, as pure numpy maths.

Layout (197 numbers for humanoid3d, the same as pybullet's DeepMimic port):
phase in [0, 1), root height, then per body (15) its centre-of-mass position relative to the root
and its orientation (w, x, y, z with w >= 0), both in the heading frame, then per body its linear
and angular velocity in the heading frame. The heading frame turns about +Y so that the root's
forward (+x) axis points along +x.
"""
from __future__ import annotations

import numpy as np

from .character import NUM_LINKS, BodyState

OBSERVATION_SIZE = 2 + NUM_LINKS * 7 + NUM_LINKS * 6


def heading_angle(root_rot: np.ndarray) -> float:
    """rad: rotation about +Y of the root's forward axis (DeepMimic's heading)."""
    w, x, y, z = root_rot
    # Forward axis (1, 0, 0) rotated by the root: its x and z components.
    fx = 1.0 - 2.0 * (y * y + z * z)
    fz = 2.0 * (x * z - w * y)
    return float(np.arctan2(-fz, fx))


def observe(sim: BodyState, phase: float, out: np.ndarray | None = None) -> np.ndarray:
    """Fill (and return) the float32 observation vector of one simulated state."""
    heading = heading_angle(sim.root_rot)
    c, s = np.cos(-heading), np.sin(-heading)
    # Rotation by -heading about +Y, as a matrix for vectors and a left-multiplication matrix for quaternions.
    rot_t = np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])  # transposed, for row vectors
    hc, hs = np.cos(-heading / 2.0), np.sin(-heading / 2.0)
    left_t = np.array([[hc, 0.0, hs, 0.0], [0.0, hc, 0.0, -hs], [-hs, 0.0, hc, 0.0], [0.0, hs, 0.0, hc]])
    origin = np.array([sim.root_pos[0], 0.0, sim.root_pos[2]])
    root_rel = (sim.root_pos - origin) @ rot_t
    pos = (sim.link_pos - origin) @ rot_t - root_rel
    quat = sim.link_rot @ left_t
    quat *= np.where(quat[:, :1] < 0.0, -1.0, 1.0)
    vel = np.concatenate([sim.link_vel, sim.link_ang_vel], axis=1).reshape(-1, 3) @ rot_t
    if out is None:
        out = np.empty(OBSERVATION_SIZE, dtype=np.float32)
    out[0] = phase
    out[1] = root_rel[1]
    out[2 : 2 + NUM_LINKS * 7] = np.concatenate([pos, quat], axis=1).ravel()
    out[2 + NUM_LINKS * 7 :] = vel.ravel()
    return out
