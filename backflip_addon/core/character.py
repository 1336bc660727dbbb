"""The add-on's default character, without bpy: humanoid3d's rest skeleton laid out to Blender's
conventions (facing −Y, `.L/.R` names, bone collections, a ground `root` bone under the pelvis).

The motion data stays humanoid3d (core/skeleton.JOINTS); `bone_maps.DEFAULT_RIG` names each
humanoid joint's bone here, so keying the default character is retargeting onto one more rig.
Rest pose: humanoid3d's own (every joint at identity): standing, arms hanging straight down.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bone_maps import DEFAULT_GROUND_BONE, DEFAULT_RIG
from .posing import rest_heads_blender
from .skeleton import humanoid3d

FACING = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
"""Turns humanoid3d's front (+X) to Blender's front view (−Y); its left (+Y) goes to +X."""
FORWARD = np.array([0.0, -1.0, 0.0])
UP = np.array([0.0, 0.0, 1.0])

# Where the leaf bones end, measured from humanoid3d's collision shapes (m): the head sphere's top
# above the neck joint and its bottom (the neck's length), the foot box's front and sole.
_NECK_LENGTH = 0.0725
_SKULL_TOP = 0.2775
_TOE_FORWARD = 0.13
_TOE_DOWN = 0.03
_HAND_LENGTH = 0.09
_GROUND_BONE_LENGTH = 0.4


@dataclass(frozen=True)
class Flesh:
    """The body mesh's capsule round a deform bone (see body_mesh.py), in metres."""

    radius_head: float
    radius_tail: float
    depth: float = 1.0
    """the section's depth (along the bone's Z axis) as a fraction of its width"""
    inset: bool = False
    """the capsule ends inside the bone (head, hands, feet) instead of rounding over its tail"""


@dataclass(frozen=True)
class RigBone:
    name: str
    parent: str | None
    head: np.ndarray
    tail: np.ndarray
    z_axis: np.ndarray
    """the direction the bone's Z axis is rolled toward (its bend axis is X)"""
    collection: str
    flesh: Flesh | None
    """None: a bone that deforms nothing (the ground root)"""


_FLESH = {
    "pelvis": Flesh(0.12, 0.12, depth=0.8), "chest": Flesh(0.13, 0.12, depth=0.75), "neck": Flesh(0.045, 0.045),
    "head": Flesh(0.1, 0.1, inset=True),
    "thigh": Flesh(0.075, 0.055), "shin": Flesh(0.052, 0.04), "foot": Flesh(0.04, 0.035, depth=0.75, inset=True),
    "upper_arm": Flesh(0.045, 0.038), "forearm": Flesh(0.037, 0.03), "hand": Flesh(0.03, 0.025, depth=0.6, inset=True),
}
_COLLECTIONS = {"pelvis": "Body", "chest": "Body", "neck": "Body", "head": "Body", "thigh": "Legs", "shin": "Legs",
                "foot": "Legs", "upper_arm": "Arms", "forearm": "Arms", "hand": "Arms"}


def _part(bone: str) -> str:
    return bone.split(".")[0]


def rest_joints() -> dict[str, np.ndarray]:
    """humanoid3d's rest joint positions (Z up) turned to face −Y, by humanoid joint name."""
    return {name: FACING @ head for name, head in zip(humanoid3d().names, rest_heads_blender())}


def default_rig() -> tuple[RigBone, ...]:
    """The default character's bones, parents first."""
    joints = rest_joints()
    skeleton = humanoid3d()
    bone_of = DEFAULT_RIG
    bones: list[RigBone] = []
    pelvis = joints["root"]
    bones.append(RigBone(DEFAULT_GROUND_BONE, None, np.array([pelvis[0], pelvis[1], 0.0]),
                         np.array([pelvis[0], pelvis[1] + _GROUND_BONE_LENGTH, 0.0]), UP, "Root", None))
    for body in skeleton.bodies:
        name = bone_of[body.name]
        head = joints[body.name]
        parent = DEFAULT_GROUND_BONE if body.parent < 0 else bone_of[skeleton.bodies[body.parent].name]
        # A bone points at its body's first child: the pelvis at the chest, the chest at the neck.
        children = [c.name for c in skeleton.bodies if c.parent == skeleton.index(body.name)]
        z_axis = FORWARD
        if body.name == "neck":
            tail = head + _NECK_LENGTH * UP
        elif body.name.endswith("ankle"):
            tail = head + _TOE_FORWARD * FORWARD - _TOE_DOWN * UP
            z_axis = UP
        elif body.name.endswith("wrist"):
            elbow = joints[skeleton.bodies[body.parent].name]
            tail = head + _HAND_LENGTH * (head - elbow) / np.linalg.norm(head - elbow)
        else:
            tail = joints[children[0]]
        bones.append(RigBone(name, parent, head, tail, z_axis, _COLLECTIONS[_part(name)], _FLESH[_part(name)]))
        if body.name == "neck":
            bones.append(RigBone("head", name, tail, head + _SKULL_TOP * UP, FORWARD, "Body", _FLESH["head"]))
    return tuple(bones)
