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


# Layout of a DeepMimic clip row: which columns hold which joint's rotation.
# (name, first column, width); width 4 = quaternion (w, x, y, z), 1 = revolute angle (radians).
CLIP_COLUMNS: tuple[tuple[str, int, int], ...] = (
    ("chest", 8, 4),
    ("neck", 12, 4),
    ("right_hip", 16, 4),
    ("right_knee", 20, 1),
    ("right_ankle", 21, 4),
    ("right_shoulder", 25, 4),
    ("right_elbow", 29, 1),
    ("left_hip", 30, 4),
    ("left_knee", 34, 1),
    ("left_ankle", 35, 4),
    ("left_shoulder", 39, 4),
    ("left_elbow", 43, 1),
)
FRAME_WIDTH = 44
# First column of every quaternion in a row: the root's, then each spherical joint's.
QUAT_COLUMNS = [4] + [start for _, start, width in CLIP_COLUMNS if width == 4]
ROOT_POS = slice(1, 4)
ROOT_ROT = slice(4, 8)
END_EFFECTORS = ("right_ankle", "right_wrist", "left_ankle", "left_wrist")
FEET = ("right_ankle", "left_ankle")
