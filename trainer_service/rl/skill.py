"""What a reference clip asks for, read from the clip itself (pure numpy, no simulator).

The judge needs to know which skill a rollout attempts before it can say whether it succeeded. Nothing
here knows clip names: a skill is derived from the reference's motion, in this order:

1. it starts lying down (neck below `LYING_NECK`) and ends standing     → "getup"
2. its root turns >= `ROTATION_SKILL` degrees about one axis:
   pitch with a flight phase → "backflip" / "frontflip"; pitch without → "roll";
   about the forward axis → "cartwheel"; about the vertical → "spinkick" (a foot kicked above the hips
   while the other stands) or "spin"
3. it has a flight phase of at least `JUMP_FLIGHT` seconds               → "jump"
4. its root travels at least `TRAVEL_SPEED` m/s                          → "run" (it has flight phases)
   or "walk"
5. anything else                                                       → "balance" (stay up)

Rotation about an axis is the frame-to-frame root rotation projected on that axis as it was in frame 0
(see `axis_degrees`), so a cartwheel's turn does not count as pitch.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from backflip_addon.core import rotations as rot
from backflip_addon.core.clip import MotionClip
from backflip_addon.core.config import check_types, from_dict
from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.kinematics import forward_kinematics, lowest_points
from backflip_addon.core.runs import longest_run
from backflip_addon.core.skeleton import FEET, ROOT_POS, ROOT_ROT, humanoid3d

SKILL_KEY = "Skill"
"""key of the skill a stage's rollout.txt was judged for (absent: the backflip)"""
LYING_NECK = 0.5
"""m: a reference whose neck starts below this starts lying down (standing humanoid3d: ~1.3 m)"""
ROTATION_SKILL = 240.0
"""degrees about one axis that make a reference a rotation skill (the mocap cartwheel turns 273°,
the spin kick 323°, the roll 373°, the backflip 359°; nothing else turns more than 120°)"""
JUMP_FLIGHT = 0.25
"""s: the longest flight phase of a jump (mocap jump 0.6 s); a run's strides fly ~0.13 s"""
TRAVEL_SPEED = 0.4
"""m/s of mean horizontal root speed that make a reference locomotion (mocap walk ~1 m/s)"""
FLIGHT_CONTACT = 0.03
"""m: a body this close to the floor touches it, for the reference's flight phases (the mocap clips
sink up to 9 cm into the floor and hover 2-3 cm above it)"""
KICK_HEIGHT = 1.0
"""a foot this many times the root's standing height above the floor while the other touches is a kick"""
AXES = ("pitch", "roll", "yaw")
KINDS = ("backflip", "frontflip", "roll", "cartwheel", "spin", "spinkick", "jump", "walk", "run", "getup",
         "balance")


@dataclass(frozen=True)
class Skill:
    """A reference's skill and the measures of it that the judge compares a rollout with."""

    kind: str = "backflip"
    """one of `KINDS`"""
    axis: str = "pitch"
    """the axis the skill rotates about (`AXES`); pitch for skills that do not rotate"""
    direction: float = 1.0
    """+1 / -1: the sign of the reference's rotation about `axis` (pitch +1 = backwards)"""
    rotation_deg: float = 360.0
    """the reference's largest rotation about `axis` in `direction` (degrees)"""
    flight_s: float = 0.5
    """the reference's longest flight phase (s)"""
    speed: float = 0.0
    """the reference's mean horizontal root speed (m/s)"""
    stand_neck: float = 1.3
    """neck height of the reference standing at its end (m)"""
    motion_s: float = 0.0
    """how long the reference moves before it ends or holds its last pose (s); 0 = it repeats"""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Skill":
        skill = from_dict(cls, data)
        check_types(skill)
        if skill.kind not in KINDS or skill.axis not in AXES:
            raise InvalidInputError(f"unknown skill {skill.kind!r} about {skill.axis!r}",
                                    f"use one of {', '.join(KINDS)} about {', '.join(AXES)}")
        return skill


BACKFLIP = Skill()
"""the judge's default: the product's backflip"""


def axis_degrees(frames: np.ndarray) -> np.ndarray:
    """Cumulative root rotation (F, 3) about pitch, roll and yaw axes fixed at frame 0 (degrees).

    Pitch is about the lateral axis (forward x up: positive tips up backwards for humanoid3d, whose
    forward is its local +x), roll about the horizontal forward axis, yaw about the vertical.
    """
    q = rot.normalize(frames[:, ROOT_ROT])
    up = np.array([0.0, 1.0, 0.0])
    forward0 = rot.rotate(q[0], np.array([1.0, 0.0, 0.0]))
    forward0 = forward0 - up * forward0[1]
    norm = np.linalg.norm(forward0)
    forward0 = forward0 / norm if norm > 1e-6 else np.array([1.0, 0.0, 0.0])
    axes = np.stack([np.cross(forward0, up), forward0, up], axis=1)
    steps = rot.to_rotvec(rot.multiply(q[1:], rot.conjugate(q[:-1]))) @ axes
    return np.degrees(np.concatenate([np.zeros((1, 3)), np.cumsum(steps, axis=0)]))


def skill_of(frames: np.ndarray, fps: float, motion_s: float = 0.0) -> Skill:
    """The skill of reference rows (F, 44) at `fps` (see the module docstring); `motion_s` as in `Skill`."""
    frames = np.asarray(frames, dtype=np.float64)
    skeleton = humanoid3d()
    names = skeleton.names
    pos, _ = forward_kinematics(frames, skeleton)
    neck = pos[:, names.index("neck"), 1]
    touching = lowest_points(frames) <= FLIGHT_CONTACT
    flight_s = longest_run(~touching.any(axis=1)) / fps
    travel = np.linalg.norm(frames[-1, [ROOT_POS.start, ROOT_POS.start + 2]] - frames[0, [ROOT_POS.start, ROOT_POS.start + 2]])
    speed = float(travel / max(len(frames) - 1, 1) * fps)
    common = dict(flight_s=flight_s, speed=speed, stand_neck=float(max(neck[-1], neck.max() * 0.9)),
                  motion_s=motion_s)
    if neck[0] < LYING_NECK and neck[-1] > 2 * LYING_NECK:
        return Skill(kind="getup", rotation_deg=0.0, **common)
    turns = axis_degrees(frames)
    extreme = np.where(turns.max(axis=0) >= -turns.min(axis=0), turns.max(axis=0), turns.min(axis=0))
    k = int(np.argmax(np.abs(extreme)))
    if abs(extreme[k]) >= ROTATION_SKILL:
        direction = float(np.sign(extreme[k]))
        if AXES[k] == "pitch":
            kind = ("backflip" if direction > 0 else "frontflip") if flight_s >= JUMP_FLIGHT / 2 else "roll"
        elif AXES[k] == "roll":
            kind = "cartwheel"
        else:
            kind = "spinkick" if _kicks(pos, touching, names, frames[0, ROOT_POS.start + 1]) else "spin"
        return Skill(kind=kind, axis=AXES[k], direction=direction, rotation_deg=float(abs(extreme[k])), **common)
    if flight_s >= JUMP_FLIGHT:
        return Skill(kind="jump", rotation_deg=0.0, **common)
    if speed >= TRAVEL_SPEED:
        return Skill(kind="run" if flight_s > 0 else "walk", rotation_deg=0.0, **common)
    return Skill(kind="balance", rotation_deg=0.0, **common)


def _kicks(pos: np.ndarray, touching: np.ndarray, names: list[str], root_height: float) -> bool:
    """A foot above the standing root height while the other foot touches the floor."""
    right, left = names.index(FEET[0]), names.index(FEET[1])
    height = pos[:, [right, left], 1]
    high = ((height[:, 0] > KICK_HEIGHT * root_height) & touching[:, left]) | (
        (height[:, 1] > KICK_HEIGHT * root_height) & touching[:, right])
    return bool(high.any())


def skill_of_clip(clip: MotionClip) -> Skill:
    """The skill of a reference clip (read at 30 frames per second, whatever its rate). A last pose held
    at the end (the trainer's `with_hold`) is not part of the motion: it would slow a walk down."""
    frames = clip.resample(30.0).frames
    still = np.all(np.abs(frames[:, 1:] - frames[-1, 1:]) < 1e-9, axis=1)
    held = len(frames) if still.all() else int(np.argmin(still[::-1]))  # trailing frames equal to the last
    frames = frames[: max(len(frames) - held + 1, 2)]
    repeats = clip.loop == "wrap" and held <= 1
    return skill_of(frames, 30.0, 0.0 if repeats else (len(frames) - 1) / 30.0)
