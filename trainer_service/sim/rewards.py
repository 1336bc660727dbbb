"""Imitation reward and pose-distance termination as pure numpy maths (no pybullet).

The terms follow DeepMimic's `cSceneImitate::CalcRewardImitate` as ported by pybullet
(`humanoid_stable_pd.HumanoidStablePD.getReward`): joint rotations and velocities weighted per
body, end-effector centres of mass in the world, the root, and (DeepMimic only) the centre-of-mass
velocity. All quaternions are (w, x, y, z) and unit length.

Recipe, "add a reward term": add its weight and scale to `RewardConfig`, compute its error in
`reward_terms`, and add `w * exp(-scale * err)` in `imitation_reward`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from backflip_addon.core.skeleton import IS_BALL, JOINT_LINKS

from .character import END_EFFECTOR_LINKS, LINK_MASSES, BodyState
from .config import RewardConfig
from .reference import ReferenceTables

# DeepMimic humanoid3d per-body weights (mJointWeights), split by joint kind in clip order.
_BODY_WEIGHTS = np.array(
    [0.20833, 0.10416, 0.0625, 0.10416, 0.0625, 0.041666666666666671, 0.0625, 0.0416, 0.0,
     0.10416, 0.0625, 0.0416, 0.0625, 0.0416, 0.0]
)
ROOT_WEIGHT = float(_BODY_WEIGHTS[0])
SPHERICAL_WEIGHTS = _BODY_WEIGHTS[np.array(JOINT_LINKS)[IS_BALL]]
REVOLUTE_WEIGHTS = _BODY_WEIGHTS[np.array(JOINT_LINKS)[~IS_BALL]]
_EE = np.array(END_EFFECTOR_LINKS)
_MASS_FRACTION = LINK_MASSES / LINK_MASSES.sum()


@dataclass
class RewardTerms:
    """The five errors and the total reward of one state."""

    pose_err: float
    velocity_err: float
    end_effector_err: float
    root_err: float
    com_err: float
    reward: float


def quat_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (rad, in [0, pi]) of the rotation between unit quaternions a and b (shortest way)."""
    dot = np.abs((a * b).sum(-1))
    return 2.0 * np.arccos(np.minimum(dot, 1.0))


def reward_terms(sim: BodyState, ref: ReferenceTables, row: int, config: RewardConfig) -> RewardTerms:
    """Errors of the simulated state against reference row `row`, and the reward (errors scaled by the
    row's confidence weight, `ReferenceTables.weight`)."""
    # Written for few numpy calls: this runs once per control step.
    root_angle = 2.0 * math.acos(min(abs(float(sim.root_rot @ ref.root_rot[row])), 1.0))
    joint_angle = quat_angle(sim.joint_rot, ref.joint_rot[row])
    d_angle = sim.joint_angle - ref.joint_angle[row]
    pose_err = ROOT_WEIGHT * root_angle**2 + SPHERICAL_WEIGHTS @ (joint_angle * joint_angle) + REVOLUTE_WEIGHTS @ (d_angle * d_angle)
    d_root_ang_vel = sim.root_ang_vel - ref.root_ang_vel[row]
    root_ang_vel_err = float(d_root_ang_vel @ d_root_ang_vel)
    d_vel = sim.joint_vel - ref.joint_vel[row]
    d_ang_vel = sim.joint_ang_vel - ref.joint_ang_vel[row]
    velocity_err = (
        ROOT_WEIGHT * root_ang_vel_err + (d_vel * d_vel).sum(1) @ SPHERICAL_WEIGHTS + REVOLUTE_WEIGHTS @ (d_ang_vel * d_ang_vel)
    )
    ee = sim.link_pos[_EE] - ref.body_pos[row, _EE]
    end_effector_err = float((ee * ee).sum()) / len(_EE)
    d_pos = sim.root_pos - ref.root_pos[row]
    d_vel_root = sim.root_vel - ref.root_vel[row]
    root_err = float(d_pos @ d_pos) + 0.1 * root_angle**2 + 0.01 * float(d_vel_root @ d_vel_root) + 0.001 * root_ang_vel_err
    com_err = 0.0
    if config.com_w > 0.0:
        d_com = _MASS_FRACTION @ sim.link_vel - ref.com_vel[row]
        com_err = 0.1 * float(d_com @ d_com)
    pose_err, velocity_err = float(pose_err), float(velocity_err)
    w = float(ref.weight[row])  # an unsure reference frame (from video) punishes a deviation less
    reward = imitation_reward(w * pose_err, w * velocity_err, w * end_effector_err, w * root_err, w * com_err, config)
    return RewardTerms(pose_err, velocity_err, end_effector_err, root_err, com_err, reward)


def imitation_reward(pose_err: float, velocity_err: float, end_effector_err: float, root_err: float,
                     com_err: float, config: RewardConfig) -> float:
    """sum_k w_k exp(-scale_k err_k) / sum_k w_k."""
    c = config
    total = (
        c.pose_w * math.exp(-c.pose_scale * pose_err)
        + c.velocity_w * math.exp(-c.velocity_scale * velocity_err)
        + c.end_effector_w * math.exp(-c.end_effector_scale * end_effector_err)
        + c.root_w * math.exp(-c.root_scale * root_err)
        + c.com_w * math.exp(-c.com_scale * com_err)
    )
    return total / c.total_weight


def pose_distance(sim: BodyState, ref: ReferenceTables, row: int) -> float:
    """m: the largest distance of any body's centre of mass from its reference position."""
    diff = sim.link_pos - ref.body_pos[row]
    return math.sqrt((diff * diff).sum(1).max())


def root_relative_pose_distance(sim: BodyState, ref: ReferenceTables, row: int) -> float:
    """m: as `pose_distance`, with each body taken relative to its own root position (the pose without the path)."""
    diff = (sim.link_pos - sim.root_pos) - (ref.body_pos[row] - ref.root_pos[row])
    return math.sqrt((diff * diff).sum(1).max())


