"""The DeepMimic humanoid ("humanoid3d"): bodies, joints, offsets and collision shapes.

The data is generated from pybullet_data's `humanoid/humanoid.urdf` (loaded by DeepMimic with
globalScaling 0.25) into `humanoid3d.json`, so Blender can use it without pybullet installed.
`skeleton_from_urdf` regenerates it; a test checks the shipped file against the URDF.

Body i of the skeleton is pybullet link i of the URDF loaded with URDF_MAINTAIN_LINK_ORDER; the
pybullet base link ("base") coincides with body 0 ("root") through a fixed joint at the origin.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import BackflipError

DATA_FILE = Path(__file__).with_name("humanoid3d.json")
URDF_SCALE = 0.25


@dataclass(frozen=True)
class Shape:
    """A collision / display primitive in its body's frame (metres)."""

    kind: str  # "sphere" | "capsule" | "box"
    origin: tuple[float, float, float]
    rpy: tuple[float, float, float]
    radius: float = 0.0
    length: float = 0.0  # capsule cylinder length, along the shape's local z
    size: tuple[float, float, float] = (0.0, 0.0, 0.0)  # box full extents


@dataclass(frozen=True)
class Body:
    name: str
    parent: int  # -1 for the root
    joint_type: str  # "free" | "spherical" | "revolute" | "fixed"
    offset: tuple[float, float, float]  # joint origin in the parent's frame (metres)
    axis: tuple[float, float, float]  # revolute axis in the joint frame
    limits: tuple[float, float]  # revolute limits (radians)
    mass: float
    shape: Shape


@dataclass(frozen=True)
class Skeleton:
    bodies: tuple[Body, ...]

    @property
    def names(self) -> list[str]:
        return [b.name for b in self.bodies]

    @property
    def parents(self) -> np.ndarray:
        return np.array([b.parent for b in self.bodies], dtype=np.int64)

    @property
    def offsets(self) -> np.ndarray:
        return np.array([b.offset for b in self.bodies], dtype=np.float64)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise BackflipError(f"humanoid3d has no body named {name!r}", f"use one of {self.names}") from None

    def to_json(self) -> str:
        return json.dumps({"bodies": [asdict(b) for b in self.bodies]}, indent=1)


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split())


def _scaled(values: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(round(v * URDF_SCALE, 9) for v in values)


def skeleton_from_urdf(path: str | Path) -> Skeleton:
    """Read the humanoid URDF (the DeepMimic layout) into a Skeleton, scaled to metres."""
    text = Path(path).read_bytes().replace(b"\x00", b"").decode("utf-8")
    robot = ET.fromstring(text)
    links = {link.get("name"): link for link in robot.findall("link")}
    joints = robot.findall("joint")
    names = [j.find("child").get("link") for j in joints]  # URDF_MAINTAIN_LINK_ORDER: joint order
    bodies = []
    for joint, name in zip(joints, names):
        parent_name = joint.find("parent").get("link")
        link = links[name]
        collision = link.find("collision")
        geom = collision.find("geometry")[0]  # pyright: ignore[reportOptionalSubscript]  # every shipped link has one
        origin = collision.find("origin")
        shape = Shape(
            kind=geom.tag,
            origin=_scaled(_floats(origin.get("xyz"))),
            rpy=_floats(origin.get("rpy")),
            radius=round(float(geom.get("radius", 0.0)) * URDF_SCALE, 9),
            length=round(float(geom.get("length", 0.0)) * URDF_SCALE, 9),
            size=_scaled(_floats(geom.get("size", "0 0 0"))),
        )
        jtype = joint.get("type")
        is_root = parent_name not in names
        limit = joint.find("limit")
        axis = joint.find("axis")
        bodies.append(
            Body(
                name=name,
                parent=-1 if is_root else names.index(parent_name),
                joint_type="free" if is_root else ("revolute" if jtype == "revolute" else jtype),
                offset=_scaled(_floats(joint.find("origin").get("xyz"))),
                axis=_floats(axis.get("xyz")) if axis is not None else (0.0, 0.0, 0.0),
                limits=(float(limit.get("lower")), float(limit.get("upper"))) if limit is not None else (0.0, 0.0),
                mass=float(link.find("inertial").find("mass").get("value")),
                shape=shape,
            )
        )
    return Skeleton(tuple(bodies))


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


@lru_cache(maxsize=1)
def humanoid3d() -> Skeleton:
    """The shipped humanoid3d skeleton."""
    data = json.loads(DATA_FILE.read_text())
    bodies = []
    for b in data["bodies"]:
        shape = Shape(**{k: _tuples(v) for k, v in b.pop("shape").items()})
        bodies.append(Body(shape=shape, **{k: _tuples(v) for k, v in b.items()}))
    return Skeleton(tuple(bodies))


# --- the joint layout: the one place that says which joint is a ball (4 numbers) or a hinge (1) ---
@dataclass(frozen=True)
class Joint:
    """One controlled joint of humanoid3d, in clip order."""

    name: str
    """its body's name; the body index is also its pybullet link index"""
    column: int
    """first column of the joint in a DeepMimic clip row"""
    width: int
    """4: ball joint, a quaternion (w, x, y, z); 1: hinge, an angle (radians) about the body's axis"""

    @property
    def ball(self) -> bool:
        return self.width == 4

    @property
    def link(self) -> int:
        return humanoid3d().index(self.name)

    @property
    def action_size(self) -> int:
        """numbers of the joint in a policy action: an exponential map (3) or an angle (1)"""
        return 3 if self.ball else 1


def _layout(widths: tuple[tuple[str, int], ...], first_column: int) -> tuple[Joint, ...]:
    joints, column = [], first_column
    for name, width in widths:
        joints.append(Joint(name, column, width))
        column += width
    return tuple(joints)


ROOT_POS = slice(1, 4)
ROOT_ROT = slice(4, 8)
JOINTS: tuple[Joint, ...] = _layout((
    ("chest", 4), ("neck", 4),
    ("right_hip", 4), ("right_knee", 1), ("right_ankle", 4), ("right_shoulder", 4), ("right_elbow", 1),
    ("left_hip", 4), ("left_knee", 1), ("left_ankle", 4), ("left_shoulder", 4), ("left_elbow", 1),
), first_column=ROOT_ROT.stop)
FRAME_WIDTH = JOINTS[-1].column + JOINTS[-1].width
JOINT_NAMES = tuple(j.name for j in JOINTS)
JOINT_LINKS = tuple(j.link for j in JOINTS)
BALL_JOINTS = tuple(j for j in JOINTS if j.ball)
HINGE_JOINTS = tuple(j for j in JOINTS if not j.ball)
IS_BALL = np.array([j.ball for j in JOINTS])
"""per joint in clip order: True for a ball joint"""
BALL_COLUMNS = np.array([j.column for j in BALL_JOINTS])
HINGE_COLUMNS = np.array([j.column for j in HINGE_JOINTS])
# (name, first column, width) per joint: the tuple form of JOINTS.
CLIP_COLUMNS: tuple[tuple[str, int, int], ...] = tuple((j.name, j.column, j.width) for j in JOINTS)
# First column of every quaternion in a row: the root's, then each ball joint's.
QUAT_COLUMNS = [ROOT_ROT.start] + BALL_COLUMNS.tolist()
ACTION_SIZE = sum(j.action_size for j in JOINTS)
# Where each ball joint's exponential map and each hinge's angle sit in a policy action vector.
_action_starts = np.cumsum([0] + [j.action_size for j in JOINTS])[:-1]
ACTION_BALL_INDEX = np.concatenate([np.arange(s, s + 3) for s, j in zip(_action_starts, JOINTS) if j.ball])
ACTION_HINGE_INDEX = np.array([s for s, j in zip(_action_starts, JOINTS) if not j.ball])
END_EFFECTORS = ("right_ankle", "right_wrist", "left_ankle", "left_wrist")
FEET = ("right_ankle", "left_ankle")


def joint(name: str) -> Joint:
    """The controlled joint called `name`."""
    for j in JOINTS:
        if j.name == name:
            return j
    raise BackflipError(f"humanoid3d has no controlled joint named {name!r}", f"use one of {list(JOINT_NAMES)}")


def split_joints(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ball-joint quaternions (..., 8, 4) and hinge angles (..., 4) of DeepMimic rows (..., 44)."""
    ball = np.stack([frames[..., c : c + 4] for c in BALL_COLUMNS], axis=-2)
    return ball, frames[..., HINGE_COLUMNS]


def set_joints(frames: np.ndarray, ball: np.ndarray, hinge: np.ndarray) -> None:
    """Write ball-joint quaternions (..., 8, 4) and hinge angles (..., 4) into DeepMimic rows (..., 44)."""
    for k, c in enumerate(BALL_COLUMNS):
        frames[..., c : c + 4] = ball[..., k, :]
    frames[..., HINGE_COLUMNS] = hinge
