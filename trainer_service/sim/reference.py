"""The reference motion precomputed into numpy tables, one row per physics step.

No kinematic twin body lives in the world: everything the reward, the observation's phase, the
PD targets and reference state initialisation need is looked up here by row. Rows are unrolled in
time (wrapping clips repeat with the root advanced each cycle), placed at the configured start
position and heading. Velocities follow DeepMimic / pybullet's port: finite differences between
the two keyframes around t (constant within a keyframe interval).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from backflip_addon.core import rotations as rot
from backflip_addon.core.clip import MotionClip
from backflip_addon.core.kinematics import forward_kinematics, lowest_points, shape_centers
from backflip_addon.core.skeleton import QUAT_COLUMNS, ROOT_POS, ROOT_ROT, split_joints

from .character import FOOT_LINKS, LINK_MASSES, SPHERICAL
from .config import SimConfig


@dataclass
class ReferenceTables:
    """Reference state per physics step; row r is time r / physics_hz (s) after the clip start."""

    dt: float  # s between rows
    cycle: float  # s, clip duration (one cycle)
    frames: np.ndarray  # (R, 44) DeepMimic rows (placed, quaternions normalised)
    root_pos: np.ndarray  # (R, 3)
    root_rot: np.ndarray  # (R, 4) wxyz
    root_vel: np.ndarray  # (R, 3)
    root_ang_vel: np.ndarray  # (R, 3) world frame
    joint_rot: np.ndarray  # (R, 8, 4) wxyz, spherical joints in clip order
    joint_angle: np.ndarray  # (R, 4) revolute joints
    joint_vel: np.ndarray  # (R, 8, 3) joint-frame angular velocity
    joint_ang_vel: np.ndarray  # (R, 4)
    body_pos: np.ndarray  # (R, 15, 3) centre of mass of each body
    com_vel: np.ndarray  # (R, 3) whole-body centre-of-mass velocity
    weight: np.ndarray  # (R,) 0..1, how much the reward's errors count (the extraction's confidence)
    grounded: np.ndarray  # (R, 15) bool, bodies the reference has on its ground near this row (termination)

    @property
    def num_rows(self) -> int:
        return len(self.root_pos)

    def phase(self, row: int) -> float:
        return math.fmod(row * self.dt / self.cycle, 1.0)


def normalized_frames(clip: MotionClip) -> np.ndarray:
    """Clip rows with every quaternion at unit length (clip files drift from 1)."""
    frames = clip.frames.copy()
    for start in QUAT_COLUMNS:
        frames[:, start : start + 4] = rot.normalize(frames[:, start : start + 4])
    return frames


def confidence_weights(clip: MotionClip, t: np.ndarray, config: SimConfig) -> np.ndarray:
    """Error weights at times t (s) from the per-frame `confidence` a clip extracted from video carries in
    its extras (see reference_source.py), ones for a clip without; see RewardConfig.confidence_full."""
    confidence = clip.extras.get("confidence")
    if confidence is None:
        return np.ones(len(t))
    confidence = np.asarray(confidence, dtype=np.float64)
    times = clip.times[: len(confidence)]  # a held last pose (TrainConfig.hold_seconds) keeps the last value
    local = np.fmod(t, clip.duration) if clip.loop == "wrap" else t
    full = config.reward.confidence_full
    return np.clip(np.interp(local, times, confidence) / full, config.reward.confidence_floor, 1.0)


def build_reference(clip: MotionClip, config: SimConfig) -> ReferenceTables:
    """Tables covering one cycle of random start plus a full episode (or the whole clip if it does not loop)."""
    dt = 1.0 / config.physics_hz
    span = clip.duration + config.episode_seconds if clip.loop == "wrap" else clip.duration
    count = int(math.ceil(span / dt)) + config.substeps + 1
    t = np.arange(count) * dt
    normal = MotionClip(normalized_frames(clip), loop=clip.loop)
    frames = normal.sample(t)
    root_vel, root_ang_vel, joint_vel, rev_vel = _keyframe_velocities(normal, t)
    frames, root_vel, root_ang_vel = _place(frames, root_vel, root_ang_vel, normal.root_pos[0], config)
    positions, rotations = forward_kinematics(frames)
    body_pos = shape_centers(positions, rotations)
    com = np.einsum("rbk,b->rk", body_pos, LINK_MASSES / LINK_MASSES.sum())
    com_vel = np.gradient(com, dt, axis=0)
    sph, hinge = split_joints(frames)
    return ReferenceTables(
        dt=dt,
        cycle=clip.duration,
        frames=frames,
        root_pos=frames[:, ROOT_POS].copy(),
        root_rot=frames[:, ROOT_ROT].copy(),
        root_vel=root_vel,
        root_ang_vel=root_ang_vel,
        joint_rot=sph,
        joint_angle=hinge,
        joint_vel=joint_vel,
        joint_ang_vel=rev_vel,
        body_pos=body_pos,
        com_vel=com_vel,
        weight=confidence_weights(clip, t, config),
        grounded=grounded_bodies(frames, config),
    )


def grounded_bodies(frames: np.ndarray, config: SimConfig) -> np.ndarray:
    """(R, B) bool: bodies the reference puts down (see `SimConfig.reference_contact_height`) at any row
    within `reference_contact_seconds`; all False when that height is 0."""
    bodies = len(LINK_MASSES)
    if config.reference_contact_height <= 0.0:
        return np.zeros((len(frames), bodies), dtype=bool)
    lowest = lowest_points(frames)
    frame_lowest = lowest.min(axis=1)
    above = lowest - frame_lowest[:, None]
    not_feet = np.array([b not in FOOT_LINKS for b in range(bodies)])
    on_floor = frame_lowest <= np.percentile(frame_lowest, 5) + config.reference_contact_band
    down = on_floor & (above[:, not_feet] <= config.reference_contact_height).any(axis=1)
    near = down[:, None] & (above <= config.reference_contact_band)
    reach = int(round(config.reference_contact_seconds * config.physics_hz))
    if reach == 0:
        return near
    # Dilate in time: a row is excused if any row within `reach` has the body down.
    padded = np.pad(near, ((reach, reach), (0, 0))).astype(np.int64)
    counts = np.vstack([np.zeros((1, bodies), dtype=np.int64), np.cumsum(padded, axis=0)])
    return (counts[2 * reach + 1 :] - counts[: -2 * reach - 1]) > 0


def _keyframe_velocities(clip: MotionClip, t: np.ndarray):
    """Root linear / world angular, spherical joint-frame and revolute velocities at times t."""
    times = clip.times
    local = np.mod(t, clip.duration) if clip.loop == "wrap" else np.clip(t, 0.0, clip.duration)
    i0 = np.clip(np.searchsorted(times, local, side="right") - 1, 0, clip.num_frames - 2)
    a, b = clip.frames[i0], clip.frames[i0 + 1]
    span = (times[i0 + 1] - times[i0])[:, None]
    root_vel = (b[:, ROOT_POS] - a[:, ROOT_POS]) / span
    qa, qb = a[:, ROOT_ROT], b[:, ROOT_ROT]
    root_ang_vel = rot.to_rotvec(rot.multiply(qb, rot.conjugate(qa))) / span
    (sa, ra), (sb, rb) = split_joints(a), split_joints(b)
    joint_vel = rot.to_rotvec(rot.multiply(rot.conjugate(sa), sb)) / span[:, :, None]
    rev_vel = (rb - ra) / span
    return root_vel, root_ang_vel, joint_vel, rev_vel


def _place(frames: np.ndarray, root_vel: np.ndarray, root_ang_vel: np.ndarray, anchor: np.ndarray, config: SimConfig):
    """Turn the motion by start_heading about +Y around its first root position and move it to start_position."""
    heading = rot.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.array(config.start_heading))
    ground_anchor = np.array([anchor[0], 0.0, anchor[2]])
    out = frames.copy()
    out[:, ROOT_POS] = rot.rotate(heading, frames[:, ROOT_POS] - ground_anchor) + np.array(config.start_position)
    out[:, ROOT_ROT] = rot.normalize(rot.multiply(heading, frames[:, ROOT_ROT]))
    return out, rot.rotate(heading, root_vel), rot.rotate(heading, root_ang_vel)


def _target_layout():
    sph_pos, rev_pos, slices, cursor = [], [], [], 0
    for spherical in SPHERICAL:
        width = 4 if spherical else 1
        (sph_pos.extend if spherical else rev_pos.extend)(range(cursor, cursor + width))
        slices.append((cursor, cursor + width))
        cursor += width
    return np.array(sph_pos), np.array(rev_pos), tuple(slices), cursor


_SPH_POS, _REV_POS, _TARGET_SLICES, _TARGET_WIDTH = _target_layout()


def joint_targets_xyzw(joint_rot_wxyz: np.ndarray, joint_angle: np.ndarray) -> list[list[float]]:
    """Per-joint pybullet targets ([x, y, z, w] or [angle], clip order) from (8, 4) wxyz and (4,) values."""
    flat = np.empty(_TARGET_WIDTH)
    flat[_SPH_POS] = joint_rot_wxyz[:, (1, 2, 3, 0)].ravel()
    flat[_REV_POS] = joint_angle
    values = flat.tolist()
    return [values[a:b] for a, b in _TARGET_SLICES]
