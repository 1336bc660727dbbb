"""ImitationEnv: one pybullet world, one humanoid, one reference clip; DeepMimic semantics.

Per control step (1/control_hz s): the action becomes PD targets (held, stable PD), physics runs
physics_hz/control_hz steps, then the state is read once (array calls), and observation, reward
and termination come from pure functions against the precomputed reference tables.

Actions (28 numbers): per spherical joint an exponential-map rotation (3), per revolute joint an
angle (1), joints in clip order (chest, neck, right hip, knee, ankle, shoulder, elbow, left ...).
With `residual_actions` they are applied on top of the reference pose at the end of the step
(q_target = q_ref * exp(a), angle_target = angle_ref + a); else they are the targets themselves.
"""
from __future__ import annotations

import math

import numpy as np

from backflip_addon.core import rotations as rot
from backflip_addon.core.clip import MotionClip
from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.skeleton import ACTION_BALL_INDEX, ACTION_HINGE_INDEX, FRAME_WIDTH, ROOT_POS, ROOT_ROT, set_joints, split_joints

from . import world
from .character import ACTION_SIZE, LINK_NAMES, SPHERICAL, BodyState, Character
from .config import RewardConfig, SimConfig
from .fastmath import multiply_rows, rotvec_rows
from .observation import observation_size, observe
from .reference import ReferenceTables, build_reference, joint_targets_xyzw
from .rewards import pose_distance, reward_terms, root_relative_pose_distance
from .start_states import StartSampler
from .termination import episode_ending

__all__ = ["ImitationEnv", "SimConfig", "RewardConfig"]

def split_action(action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(8, 3) exponential maps of the spherical joints and (4,) revolute angles of an action vector."""
    return action[ACTION_BALL_INDEX].reshape(-1, 3), action[ACTION_HINGE_INDEX]


def pd_targets(action: np.ndarray, ref: ReferenceTables, row: int, residual: bool) -> tuple[np.ndarray, np.ndarray]:
    """Spherical (8, 4) wxyz and revolute (4,) PD targets of an action at reference row `row`."""
    sph, rev = split_action(action)
    q = rotvec_rows(sph)
    if residual:
        return multiply_rows(ref.joint_rot[row], q), ref.joint_angle[row] + rev
    return q, rev


class ImitationEnv:
    """Humanoid imitation of one clip in one in-process pybullet world."""

    def __init__(self, clip: MotionClip, config: SimConfig | None = None, seed: int = 0) -> None:
        self.config = config if config is not None else SimConfig()
        self.clip = clip
        self.observation_size = observation_size(self.config.target_obs)
        self.action_size = ACTION_SIZE
        self.reference = build_reference(clip, self.config)
        self._client = world.connect(self.config)
        self._colliders = world.add_colliders(self._client, self.config.colliders)
        self._char = Character(self._client, self.config.self_collision)
        self._rng = np.random.default_rng(seed)
        self._substeps = self.config.substeps
        self._cycle_rows = max(1, int(math.floor(self.reference.cycle / self.reference.dt)))
        window = self.config.rsi_window
        rsi_rows = self._cycle_rows if window <= 0.0 else max(1, min(self._cycle_rows, int(window / self.reference.dt)))
        self._starts = StartSampler(rsi_rows, self.reference.dt, self.config.rsi_adaptive, self.config.rsi_failure_seconds)
        self._start_pending = False
        """the episode started at a random phase and its outcome there is not recorded yet"""
        self._row = 0
        self._start_row = 0
        self._sim: BodyState | None = None

    # --- episode ----------------------------------------------------------------------------
    def reset(self, seed: int | None = None, start_time: float | None = None) -> np.ndarray:
        """Start an episode at `start_time` (s into the clip); None = random phase if RSI is on."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._start_pending = start_time is None and self.config.rsi
        if start_time is None:
            row = self._starts.draw(self._rng) if self.config.rsi else 0
        else:
            if not math.isfinite(start_time) or start_time < 0.0:
                raise InvalidInputError(f"start_time must be a finite time >= 0, got {start_time}", "pass e.g. 0.0")
            row = int(round(start_time / self.reference.dt))
        last = self.reference.num_rows - 1 - self._substeps
        row = min(row, last) if self.clip.loop != "wrap" else row % self._cycle_rows
        self._start_row = self._row = row
        ref = self.reference
        self._char.set_state(
            ref.root_pos[row], ref.root_rot[row][[1, 2, 3, 0]], ref.root_vel[row], ref.root_ang_vel[row],
            joint_targets_xyzw(ref.joint_rot[row], ref.joint_angle[row]), _joint_velocities(ref, row),
        )
        self._sim = self._char.read()
        return self._observe(row)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (ACTION_SIZE,):
            raise InvalidInputError(f"action must have shape ({ACTION_SIZE},), got {action.shape}", "one PD target vector per env")
        if not np.all(np.isfinite(action)):
            raise InvalidInputError("action holds NaN or infinity", "check the policy output (exploding weights?)")
        ref = self.reference
        target_row = self._row + self._substeps
        sph, rev = pd_targets(action, ref, target_row, self.config.residual_actions)
        self._char.set_pd_targets(joint_targets_xyzw(sph, rev))
        self._char.step(self._substeps)
        self._row = row = target_row
        sim = self._sim = self._char.read()
        phase = ref.phase(row)
        obs = self._observe(row)
        terms = reward_terms(sim, ref, row, self.config.reward)
        distance = (root_relative_pose_distance if self.config.pose_termination_frame == "root" else pose_distance)(sim, ref, row)
        end = episode_ending(self._char.contacts(), distance, row, self._start_row, ref.num_rows, self.config,
                             ref.grounded[min(row, ref.num_rows - 1)])
        if self._start_pending and (end.terminated or end.truncated or (row - self._start_row) * ref.dt >= self._starts.horizon):
            self._starts.record(self._start_row, end.terminated)
            self._start_pending = False
        info = {
            "fell": end.fell,
            "unexpected_contact": end.unexpected,
            "first_contact": end.first_contact,
            "pose_distance": distance,
            "phase": phase,
            "time": row * ref.dt,
        }
        return obs, terms.reward, end.terminated, end.truncated, info

    def _observe(self, row: int) -> np.ndarray:
        if not self.config.target_obs:
            return observe(self._sim, self.reference.phase(row))
        target = min(row + self._substeps, self.reference.num_rows - 1)  # where the next action heads
        return observe(self._sim, self.reference.phase(row), self.reference, target)

    def detect_contacts(self) -> None:
        """Refresh the contacts of the current pose without stepping (after `reset` or `set_pose`)."""
        self._client.performCollisionDetection()

    def touching(self) -> list[str]:
        """Names of the bodies touching a collider after the last physics step, feet included."""
        links = {max(link, 0) for link, _other in self._char.contacts()}
        return [LINK_NAMES[link] for link in sorted(links)]

    # --- read-outs ----------------------------------------------------------------------------
    @property
    def time(self) -> float:
        """s: current time in the reference clip."""
        return self._row * self.reference.dt

    def body_state(self) -> BodyState:
        """The last read of the simulated character."""
        if self._sim is None:
            self._sim = self._char.read()
        return self._sim

    def state(self) -> np.ndarray:
        """The simulated pose as one DeepMimic 44-number row (duration column 0)."""
        sim = self.body_state()
        row = np.zeros(FRAME_WIDTH)
        row[ROOT_POS] = sim.root_pos
        row[ROOT_ROT] = sim.root_rot
        set_joints(row, sim.joint_rot, sim.joint_angle)
        return row

    def set_pose(self, frame: np.ndarray) -> None:
        """Teleport the character to a DeepMimic row (zero velocities); for checks and previews."""
        frame = np.asarray(frame, dtype=np.float64)
        q = rot.normalize(frame[ROOT_ROT])
        ball, hinge = split_joints(frame)
        zeros = [[0.0] * 3 if s else [0.0] for s in SPHERICAL]
        self._char.set_state(frame[ROOT_POS], q[[1, 2, 3, 0]], [0.0] * 3, [0.0] * 3,
                             joint_targets_xyzw(rot.normalize(ball), hinge), zeros)
        self._sim = self._char.read()

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client = None

    def __enter__(self) -> "ImitationEnv":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _joint_velocities(ref: ReferenceTables, row: int) -> list[list[float]]:
    sph = iter(ref.joint_vel[row].tolist())
    rev = iter(ref.joint_ang_vel[row].tolist())
    return [next(sph) if spherical else [next(rev)] for spherical in SPHERICAL]
