"""Retarget humanoid3d motion onto another armature, without bpy.

Every space here is the target armature's (Z up). A mapped target bone takes its humanoid body's
world rotation since rest, Δ, applied on top of a rest offset O that turns the target's rest bone
onto the humanoid's rest bone: posed = Δ · O · R (R: the bone's rest orientation). O first turns
the whole target so its hips and spine face as the humanoid's do, then swings each bone onto the
humanoid's bone direction (to its mapped child), so T-pose, A-pose and arms-down rests all work.
Unmapped bones follow their parent. The root translation is the humanoid's, scaled by the ratio of
leg lengths.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import axes
from . import rotations as rot
from .errors import InvalidInputError
from .foot_lock import lock_offsets
from .runs import true_runs
from .kinematics import forward_kinematics
from .posing import rest_heads_blender
from .skeleton import FEET, Skeleton, humanoid3d

ROOT = "root"
LEG = ("right_hip", "right_knee", "right_ankle")
_REQUIRED = (ROOT, "chest", "left_hip", "right_hip", "right_knee", "right_ankle")


@dataclass(frozen=True)
class TargetRest:
    """A target armature's rest pose, bones ordered parents first."""

    names: tuple[str, ...]
    parents: np.ndarray
    """(N,) index of each bone's parent, -1 for none"""
    heads: np.ndarray
    """(N, 3) rest head positions"""
    rest: np.ndarray
    """(N, 4) rest orientations (Blender's bone.matrix_local)"""

    def index(self, name: str) -> int:
        return self.names.index(name)


@dataclass(frozen=True)
class Retargeted:
    rotations: np.ndarray
    """(F, N, 4) pose-bone quaternions (matrix_basis rotations)"""
    root_location: np.ndarray
    """(F, 3) pose location of the bone mapped to the humanoid's root"""
    positions: np.ndarray
    """(F, N, 3) every target bone's posed head"""
    scale: float
    """target leg length / humanoid leg length"""
    travel: np.ndarray
    """(F, 3) the root's travel along the ground since the first frame (z = 0): what root motion moves"""
    ground_location: np.ndarray | None = None
    """(F, 3) pose location of the ground root bone (root motion on a bone)"""


ROOT_MOTIONS = ("PELVIS", "BONE", "OBJECT")


def _frame(up: np.ndarray, lateral: np.ndarray) -> np.ndarray:
    x = lateral / np.linalg.norm(lateral)
    z = up - np.dot(up, x) * x
    z /= np.linalg.norm(z)
    return np.stack([x, np.cross(z, x), z], axis=1)


def leg_length(heads: dict[str, np.ndarray]) -> float:
    hip, knee, ankle = (heads[n] for n in LEG)
    return float(np.linalg.norm(knee - hip) + np.linalg.norm(ankle - knee))


def _check_map(bone_map: dict[str, str], target: TargetRest, skeleton: Skeleton) -> None:
    missing = [n for n in _REQUIRED if n not in bone_map]
    if missing:
        raise InvalidInputError(f"the bone map has no target bone for {', '.join(missing)}",
                                "map at least the root, chest, both hips, the right knee and ankle (Auto-Map, or a preset)")
    for source, bone in bone_map.items():
        if source not in skeleton.names:
            raise InvalidInputError(f"the bone map names {source!r}, not a humanoid joint", f"use one of {skeleton.names}")
        if bone not in target.names:
            raise InvalidInputError(f"the bone map's target {bone!r} (for {source}) is not a bone of the target rig",
                                    "fix the map, or run Auto-Map again")


def rest_offsets(bone_map: dict[str, str], target: TargetRest, skeleton: Skeleton | None = None) -> dict[str, np.ndarray]:
    """O per mapped humanoid joint: turns the target's rest bone onto the humanoid's rest bone."""
    skeleton = skeleton or humanoid3d()
    _check_map(bone_map, target, skeleton)
    src = dict(zip(skeleton.names, rest_heads_blender(skeleton)))
    tgt = {s: target.heads[target.index(t)] for s, t in bone_map.items()}
    # The whole body: spine up and hips' right-to-left line of the target onto the humanoid's.
    facing = rot.from_matrix(
        _frame(src["chest"] - src[ROOT], src["left_hip"] - src["right_hip"])
        @ _frame(tgt["chest"] - tgt[ROOT], tgt["left_hip"] - tgt["right_hip"]).T
    )
    offsets = {ROOT: facing}
    for i, body in enumerate(skeleton.bodies):
        if body.name == ROOT or body.name not in bone_map:
            continue
        child = next((c.name for c in skeleton.bodies if c.parent == i and c.name in bone_map), None)
        if child is None:
            # A leaf (hand, foot, head) keeps its rest relation to its parent on the target.
            parent = skeleton.bodies[body.parent].name
            offsets[body.name] = offsets.get(parent, facing)
            continue
        swing = rot.between(rot.rotate(facing, tgt[child] - tgt[body.name]), src[child] - src[body.name])
        offsets[body.name] = rot.multiply(swing, facing)
    return offsets


def retarget(
    frames: np.ndarray, bone_map: dict[str, str], target: TargetRest, to_target: np.ndarray | None = None,
    skeleton: Skeleton | None = None, contacts: np.ndarray | None = None, root_motion: str = "PELVIS",
    ground_bone: str = "", in_place: bool = False,
) -> Retargeted:
    """Pose `target` with DeepMimic rows `frames` (F, 44) through `bone_map` (humanoid joint → target bone).

    `to_target` (4,): the rotation from Blender world into the target armature's space (the inverse
    of the armature object's rotation); world positions are taken relative to the object's origin.
    `contacts` (F, 2) bool, per frame for FEET (right, left): those feet are locked (see foot_lock.py).
    Root motion (the root's travel along the ground) stays on the pelvis ("PELVIS"), moves to
    `ground_bone`, an unmapped ancestor of the pelvis ("BONE"), or is left for the caller to key on
    the object ("OBJECT", Retargeted.travel); `in_place` drops it altogether.
    """
    skeleton = skeleton or humanoid3d()
    offsets = rest_offsets(bone_map, target, skeleton)
    to_target = rot.IDENTITY if to_target is None else rot.normalize(to_target)
    pos, world = forward_kinematics(frames, skeleton)
    world_to_target = rot.conjugate(to_target)
    # Δ in target space: T·Δ_world·T⁻¹.
    delta = rot.multiply(rot.multiply(to_target, axes.to_blender_rotations(world)), world_to_target)
    count = len(frames)
    src_legs = leg_length(dict(zip(skeleton.names, rest_heads_blender(skeleton))))
    scale = leg_length({s: target.heads[target.index(t)] for s, t in bone_map.items() if s in LEG}) / src_legs
    root_world = axes.to_blender_positions(pos[:, 0])
    root_goal = scale * rot.rotate(np.broadcast_to(to_target, (count, 4)), root_world)
    source_index = {name: i for i, name in enumerate(skeleton.names)}
    goals = {target.index(t): rot.multiply(rot.multiply(delta[:, source_index[s]], offsets[s]), target.rest[target.index(t)])
             for s, t in bone_map.items()}
    root = target.index(bone_map[ROOT])
    ground = _ground_index(target, root, root_motion, ground_bone)
    local, heads, base = _pose(target, goals, root, root_goal)
    if contacts is not None:
        feet = [f for f in FEET if f in bone_map]
        planted = np.asarray(contacts, dtype=bool)[:, [FEET.index(f) for f in feet]]
        foot_heads = np.stack([heads[:, target.index(bone_map[f])] for f in feet], axis=1)
        root_goal = root_goal + lock_offsets(foot_heads, planted)
        local, heads, base = _pose(target, goals, root, root_goal)
        # What the shared root offset cannot fix (the feet sliding apart) each leg reaches by IK.
        for k, foot in enumerate(feet):
            side = foot.split("_")[0]
            leg = [target.index(bone_map[f"{side}_{j}"]) if f"{side}_{j}" in bone_map else -1 for j in ("hip", "knee", "ankle")]
            _pin_leg(target, goals, heads, leg, planted[:, k])
        local, heads, base = _pose(target, goals, root, root_goal)
    travel = root_goal - root_goal[0]
    travel[:, 2] = 0.0
    ground_location = None
    if in_place or root_motion == "OBJECT":
        # The pelvis keeps only its height and sway; the object (or nothing) travels.
        root_goal = root_goal - travel
        local, heads, base = _pose(target, goals, root, root_goal)
    elif root_motion == "BONE":
        ground_rot = _orientation(target, local, ground)
        ground_location = rot.rotate(rot.conjugate(ground_rot), travel)
        local, heads, base = _pose(target, goals, root, root_goal, moved=(ground, travel))
    root_location = rot.rotate(rot.conjugate(base[0]), root_goal - base[1])
    return Retargeted(local, root_location, heads, scale, np.zeros_like(travel) if in_place else travel, ground_location)


def _ground_index(target: TargetRest, root: int, root_motion: str, ground_bone: str) -> int:
    if root_motion not in ROOT_MOTIONS:
        raise InvalidInputError(f"root motion {root_motion!r} is not one of {ROOT_MOTIONS}", "pick Pelvis, Ground Bone or Object")
    if root_motion != "BONE":
        return -1
    if ground_bone not in target.names:
        raise InvalidInputError(f"root motion on a bone, but the rig has no bone {ground_bone!r}",
                                "pick the rig's ground root bone (the parent of the hips), or put root motion on the pelvis")
    ground, k = target.index(ground_bone), root
    while k >= 0 and k != ground:
        k = int(target.parents[k])
    if k != ground:
        raise InvalidInputError(f"{ground_bone} is not above the hips ({target.names[root]}) in the rig",
                                "pick the bone the hips hang from, or put root motion on the pelvis")
    return ground


def _pose(
    target: TargetRest, goals: dict[int, np.ndarray], root: int, root_goal: np.ndarray,
    moved: tuple[int, np.ndarray] = (-1, np.zeros(3)),
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Pose-bone rotations (F, N, 4) and heads (F, N, 3) giving bones k their armature-space
    orientation goals[k] and the root bone its head `root_goal`; also the root's frame before its
    own channels (rotation, position), from which its pose location follows. `moved`: one unmapped
    bone carried by a translation (F, 3)."""
    count, n = len(root_goal), len(target.names)
    posed = np.zeros((count, n, 4))
    heads = np.zeros((count, n, 3))
    local = np.tile(rot.IDENTITY, (count, n, 1))
    base = (np.broadcast_to(rot.IDENTITY, (count, 4)), np.zeros((count, 3)))
    for k in range(n):
        p = int(target.parents[k])
        # The bone's frame before its own pose channels: the posed parent carrying the rest relation.
        if p < 0:
            base_rot = np.broadcast_to(target.rest[k], (count, 4))
            base_pos = np.broadcast_to(target.heads[k], (count, 3))
        else:
            carry = rot.multiply(posed[:, p], rot.conjugate(target.rest[p]))
            base_rot = rot.multiply(carry, target.rest[k])
            base_pos = heads[:, p] + rot.rotate(carry, target.heads[k] - target.heads[p])
        goal = goals.get(k)
        if goal is None:
            posed[:, k], heads[:, k] = base_rot, base_pos + (moved[1] if k == moved[0] else 0.0)
            continue
        local[:, k] = rot.make_continuous(rot.multiply(rot.conjugate(base_rot), goal), axis=0)
        posed[:, k] = goal
        heads[:, k] = base_pos
        if k == root:
            base = (base_rot, base_pos)
            heads[:, k] = root_goal
    return local, heads, base


def _pin_leg(target: TargetRest, goals: dict[int, np.ndarray], heads: np.ndarray, leg: list[int], planted: np.ndarray) -> None:
    """Two-bone IK: turn thigh and shin (goals, in place) so the foot's head stays where each contact run
    began; the foot keeps its orientation. `leg`: bone indices of thigh, shin, foot (-1 if unmapped)."""
    thigh, shin, foot = leg
    if min(leg) < 0:
        return
    for start, end in true_runs(planted):
        frames = np.arange(start, end)
        hip, knee, ankle = heads[frames, thigh], heads[frames, shin], heads[frames, foot]
        want = np.broadcast_to(heads[start, foot], ankle.shape)
        upper = np.linalg.norm(knee - hip, axis=-1, keepdims=True)
        lower = np.linalg.norm(ankle - knee, axis=-1, keepdims=True)
        reach = want - hip
        dist = np.clip(np.linalg.norm(reach, axis=-1, keepdims=True), np.abs(upper - lower) + 1e-6, upper + lower - 1e-6)
        along = reach / np.linalg.norm(reach, axis=-1, keepdims=True)
        # Keep the knee in its current bend plane: its direction off the hip→goal line.
        bend = (knee - hip) - np.sum((knee - hip) * along, axis=-1, keepdims=True) * along
        bend /= np.maximum(np.linalg.norm(bend, axis=-1, keepdims=True), 1e-9)
        cos_hip = (upper**2 + dist**2 - lower**2) / (2 * upper * dist)
        new_knee = hip + upper * (cos_hip * along + np.sqrt(np.clip(1 - cos_hip**2, 0, 1)) * bend)
        new_ankle = hip + dist * along
        turn_thigh = rot.between(knee - hip, new_knee - hip)
        turn_shin = rot.between(rot.rotate(turn_thigh, ankle - knee), new_ankle - new_knee)
        goals[thigh] = goals[thigh].copy()
        goals[shin] = goals[shin].copy()
        goals[thigh][frames] = rot.multiply(turn_thigh, goals[thigh][frames])
        goals[shin][frames] = rot.multiply(turn_shin, rot.multiply(turn_thigh, goals[shin][frames]))


def _orientation(target: TargetRest, local: np.ndarray, k: int) -> np.ndarray:
    """Bone k's posed orientation (F, 4) from the pose rotations `local` of it and its ancestors."""
    chain = []
    while k >= 0:
        chain.append(k)
        k = int(target.parents[k])
    posed, parent_rest = np.broadcast_to(rot.IDENTITY, local[:, 0].shape), rot.IDENTITY
    for k in reversed(chain):
        posed = rot.multiply(rot.multiply(posed, rot.multiply(rot.conjugate(parent_rest), target.rest[k])), local[:, k])
        parent_rest = target.rest[k]
    return posed
