"""Typed configuration of the imitation simulator: reward weights, the set (colliders), the env.

Every config is a dataclass with a docstring per field; `from_dict` rejects unknown keys and
`to_dict` gives plain JSON-ready data, so a run folder can hold the exact config it ran with.
Coordinates are pybullet's / DeepMimic's: metres, Y up, quaternions (w, x, y, z).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from backflip_addon.core.config import check_keys
from backflip_addon.core.errors import InvalidInputError

COLLIDER_KINDS = ("plane", "box", "mesh")
TERMINATION_FRAMES = ("world", "root")
PREPASS_MODES = ("off", "extracted", "always")


def _finite(name: str, values: Any) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be a list of numbers, got {values!r}", "check the set data") from None
    if not all(math.isfinite(v) for v in out):
        raise InvalidInputError(f"{name} holds NaN or infinity: {values!r}", "check the set data")
    return out


@dataclass
class RewardConfig:
    """Imitation reward of DeepMimic: a weighted sum of exp(-scale * error) terms.

    Defaults are DeepMimic's released code (pose 0.5, velocity 0.05, end effectors 0.15, root 0.2,
    centre of mass 0.1). Weights are divided by their sum, so the reward lies in [0, 1].
    pybullet's DeepMimic port uses the same numbers with com_w = 0.
    """

    pose_w: float = 0.5
    """Weight of joint-rotation tracking (root rotation included)."""
    velocity_w: float = 0.05
    """Weight of joint angular-velocity tracking."""
    end_effector_w: float = 0.15
    """Weight of hand and foot position tracking."""
    root_w: float = 0.2
    """Weight of root position / rotation / velocity tracking."""
    com_w: float = 0.1
    """Weight of centre-of-mass velocity tracking."""
    pose_scale: float = 2.0
    """1/rad^2: pose error scale."""
    velocity_scale: float = 0.1
    """s^2/rad^2: velocity error scale."""
    end_effector_scale: float = 40.0
    """1/m^2: end-effector error scale."""
    root_scale: float = 5.0
    """1/m^2: root error scale."""
    com_scale: float = 10.0
    """s^2/m^2: centre-of-mass error scale."""
    confidence_full: float = 0.5
    """A reference frame whose extraction confidence (0..1, the npz's `confidence`) reaches this counts
    fully (the extraction's preview draws frames below 0.5 as low confidence); clips without confidence
    (mocap) count fully everywhere."""
    confidence_floor: float = 0.2
    """Weight of the errors at a frame of confidence 0 (refilled by the extraction): errors are multiplied by
    clip(confidence / confidence_full, confidence_floor, 1), so unsure frames punish a deviation less."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = float(getattr(self, f.name))
            if not (math.isfinite(value) and value >= 0.0):
                raise InvalidInputError(f"reward {f.name} must be a non-negative number, got {value}", "fix the reward config")
            setattr(self, f.name, value)
        if self.confidence_full <= 0.0 or self.confidence_floor > 1.0:
            raise InvalidInputError("reward confidence_full must be > 0 and confidence_floor <= 1",
                                    "e.g. confidence_full 0.5, confidence_floor 0.2")
        if self.total_weight <= 0.0:
            raise InvalidInputError("all reward weights are zero", "give at least one term a positive weight")

    @property
    def total_weight(self) -> float:
        return self.pose_w + self.velocity_w + self.end_effector_w + self.root_w + self.com_w

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RewardConfig":
        check_keys(cls, data)
        return cls(**data)

    @classmethod
    def pybullet_deepmimic(cls) -> "RewardConfig":
        """The weights of pybullet's DeepMimic port (its centre-of-mass term is off)."""
        return cls(com_w=0.0)


@dataclass
class ColliderConfig:
    """One static collider of the set, given as plain data."""

    kind: str = "plane"
    """"plane" (infinite, normal = local +Y), "box" or "mesh" (static triangle mesh)."""
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """m: centre of the box / origin of the plane or mesh, world frame (Y up)."""
    rotation: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    """Orientation (w, x, y, z); normalised on load."""
    size: tuple[float, float, float] = (1.0, 1.0, 1.0)
    """m: full box extents; scale of a mesh; ignored for a plane."""
    vertices: list[list[float]] = field(default_factory=list)
    """Mesh only: vertex positions (V, 3) in the collider's frame, before `size` scaling."""
    indices: list[int] = field(default_factory=list)
    """Mesh only: triangle vertex indices, three per triangle."""
    friction: float = 0.9
    """Coulomb friction coefficient (pybullet lateral friction)."""
    stiffness: float | None = None
    """N/m: contact stiffness of a soft surface (a mattress); None = rigid contact."""
    damping: float | None = None
    """N*s/m: contact damping; needed together with `stiffness`."""

    def __post_init__(self) -> None:
        if self.kind not in COLLIDER_KINDS:
            raise InvalidInputError(f"unknown collider type (kind) {self.kind!r}", f"use one of {list(COLLIDER_KINDS)}")
        self.position = _finite("collider position", self.position)
        self.rotation = _finite("collider rotation", self.rotation)
        self.size = _finite("collider size", self.size)
        if len(self.position) != 3 or len(self.size) != 3 or len(self.rotation) != 4:
            raise InvalidInputError("collider position/size need 3 numbers and rotation 4 (w, x, y, z)", "check the set data")
        norm = math.sqrt(sum(v * v for v in self.rotation))
        if norm < 1e-9:
            raise InvalidInputError("collider rotation is a zero quaternion", "use (1, 0, 0, 0) for no rotation")
        self.rotation = tuple(v / norm for v in self.rotation)
        if self.kind != "plane" and min(self.size) <= 0.0:
            raise InvalidInputError(f"{self.kind} collider size must be positive, got {self.size}", "sizes are full extents in metres")
        self.friction = float(self.friction)
        if not (math.isfinite(self.friction) and self.friction >= 0.0):
            raise InvalidInputError(f"collider friction must be >= 0, got {self.friction}", "use e.g. 0.9")
        if (self.stiffness is None) != (self.damping is None):
            raise InvalidInputError("a soft collider needs both stiffness and damping", "set both, or neither for a rigid one")
        if self.stiffness is not None:
            self.stiffness, self.damping = float(self.stiffness), float(self.damping)
            if not (self.stiffness > 0.0 and self.damping >= 0.0 and math.isfinite(self.stiffness + self.damping)):
                raise InvalidInputError(
                    f"collider stiffness must be > 0 and damping >= 0, got {self.stiffness}, {self.damping}",
                    "e.g. stiffness 3000 N/m, damping 300 N*s/m for a mattress",
                )
        if self.kind == "mesh":
            self._check_mesh()

    def _check_mesh(self) -> None:
        if len(self.vertices) < 3 or any(len(v) != 3 for v in self.vertices):
            raise InvalidInputError("a mesh collider needs at least 3 vertices of 3 numbers", "pass vertices as [[x, y, z], ...]")
        self.vertices = [list(_finite("mesh vertex", v)) for v in self.vertices]
        self.indices = [int(i) for i in self.indices]
        if not self.indices or len(self.indices) % 3 or min(self.indices) < 0 or max(self.indices) >= len(self.vertices):
            raise InvalidInputError(
                f"mesh indices must be triangles (a multiple of 3) into {len(self.vertices)} vertices",
                "pass indices as a flat list [i0, i1, i2, ...]",
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ColliderConfig":
        check_keys(cls, data)
        return cls(**data)


@dataclass
class SimConfig:
    """The imitation environment: rates, actions, episode rules, start placement, set and reward."""

    physics_hz: int = 240
    """Hz: physics rate; must be a multiple of control_hz."""
    control_hz: int = 30
    """Hz: policy rate; PD targets are held for physics_hz / control_hz physics steps."""
    residual_actions: bool = True
    """True: actions are offsets (exponential map / radians) added to the reference pose; False: absolute targets."""
    reference_prepass: str = "extracted"
    """When the trainer makes a new run's reference physically consistent (sim/physical.py: support on the
    ground, ballistic flights): "off", "extracted" (only a clip extracted from video: an .npz with per-frame
    confidence, or a .txt beside one) or "always"."""
    pose_termination_distance: float = 1.0
    """m: end the episode when any body is farther than this from its reference position; 0 = off."""
    pose_termination_frame: str = "world"
    """Where that distance is measured: "world" (bodies against the reference's bodies, root position
    included) or "root" (each body relative to its root: the pose, not the path, so a reference whose root
    path physics cannot follow does not end episodes; root rotation still counts)."""
    fall_termination: bool = True
    """End the episode when a body other than the feet touches a collider."""
    reference_contact_height: float = 0.03
    """m: ...unless the reference puts that body down too. A roll, a get-up or a cartwheel puts more than
    the feet on the ground, and ending every episode on that contact left those skills unlearnable (get-up
    episodes averaged 0.3 s). A reference frame puts bodies down when a body other than the feet comes this
    close to the frame's lowest point while the frame is on the clip's floor; then every body within
    `reference_contact_band` of that point is excused. The backflip, walk, run, jump and kicks of
    pybullet_data put only their feet down, so nothing changes for them; 0 = DeepMimic's rule (any contact
    but the feet ends the episode)."""
    reference_contact_band: float = 0.16
    """m: see `reference_contact_height`; also how far above the clip's floor (the 5th percentile of its
    frames' lowest points: mocap floors are off by a few cm) a frame's lowest point may be and still be down."""
    reference_contact_seconds: float = 0.2
    """s: how far around the current time a reference contact still excuses the same body's contact (a
    policy that rolls a little early or late is still rolling). With 0.1 s and 0.08 m the roll's episodes
    ended on contacts the reference makes 0.1-0.2 s away or with that body a median 0.14 m up; 0.2 s and
    0.16 m excuse 94 % of those, and a 30-min roll then rolls and stands up (it did not before)."""
    episode_seconds: float = 20.0
    """s: time limit of an episode (truncation); a non-looping clip also ends at its last frame."""
    rsi: bool = True
    """Reference state initialisation: reset at a random phase of the clip (else at its start)."""
    target_obs: bool = False
    """Append the reference pose of the coming control step to the observation (see observation.py);
    off by default so policies trained without it keep working; the trainer turns it on."""
    rsi_window: float = 0.0
    """s: RSI starts episodes only in the first `rsi_window` seconds of the clip (0 = anywhere in its
    cycle); the trainer sets it to the clip's own length so no episode starts in the held last pose."""
    rsi_adaptive: float = 0.0
    """share (0-1) of RSI starts drawn towards the phases training episodes still fail from (start_states.py);
    0 = DeepMimic's uniform RSI (0.5 rotated sooner on the mocap backflip but checked lower by 1M samples)"""
    rsi_failure_seconds: float = 1.0
    """s: an episode that ends by failure within this time of its start counts against its start phase"""
    start_position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """m: where the clip's first root position lands on the ground plane (x, z); y lifts the whole clip."""
    start_heading: float = 0.0
    """rad: turn of the whole clip about +Y around its first root position."""
    self_collision: bool = True
    """Let the character's bodies collide with each other (as pybullet's DeepMimic port does)."""
    colliders: list[ColliderConfig] = field(default_factory=lambda: [ColliderConfig()])
    """The set: static colliders; the default is a ground plane at y = 0."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    """Reward weights and scales."""

    def __post_init__(self) -> None:
        self.colliders = [c if isinstance(c, ColliderConfig) else ColliderConfig.from_dict(c) for c in self.colliders]
        if isinstance(self.reward, dict):
            self.reward = RewardConfig.from_dict(self.reward)
        if not (isinstance(self.physics_hz, int) and isinstance(self.control_hz, int)) or self.control_hz <= 0:
            raise InvalidInputError("physics_hz and control_hz must be positive integers", "e.g. 240 and 30")
        if self.physics_hz < self.control_hz or self.physics_hz % self.control_hz:
            raise InvalidInputError(
                f"physics_hz {self.physics_hz} must be a multiple of control_hz {self.control_hz}", "e.g. 240 or 120 with 30"
            )
        if self.pose_termination_frame not in TERMINATION_FRAMES:
            raise InvalidInputError(f"unknown pose_termination_frame {self.pose_termination_frame!r}",
                                    f"use one of {list(TERMINATION_FRAMES)}")
        if self.reference_prepass not in PREPASS_MODES:
            raise InvalidInputError(f"unknown reference_prepass {self.reference_prepass!r}", f"use one of {list(PREPASS_MODES)}")
        self.start_position = _finite("start_position", self.start_position)
        if len(self.start_position) != 3:
            raise InvalidInputError("start_position needs 3 numbers (x, y, z)", "e.g. [0, 0, 0]")
        for name in ("episode_seconds", "pose_termination_distance", "start_heading", "rsi_window", "rsi_adaptive",
                     "rsi_failure_seconds", "reference_contact_height", "reference_contact_band",
                     "reference_contact_seconds"):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise InvalidInputError(f"{name} must be finite, got {value}", "fix the sim config")
            setattr(self, name, value)
        if self.episode_seconds <= 0.0 or min(self.pose_termination_distance, self.rsi_window,
                                              self.reference_contact_height, self.reference_contact_band,
                                              self.reference_contact_seconds) < 0.0:
            raise InvalidInputError("episode_seconds must be > 0; pose_termination_distance, rsi_window and the "
                                    "reference_contact_ values >= 0", "fix the sim config")
        if not 0.0 <= self.rsi_adaptive <= 1.0 or self.rsi_failure_seconds <= 0.0:
            raise InvalidInputError(f"rsi_adaptive must lie in 0-1 (got {self.rsi_adaptive}) and rsi_failure_seconds "
                                    f"be > 0 (got {self.rsi_failure_seconds})", "fix the sim config")

    @property
    def substeps(self) -> int:
        """Physics steps per control step."""
        return self.physics_hz // self.control_hz

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SimConfig":
        check_keys(cls, data)
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
