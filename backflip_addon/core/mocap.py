"""Mocap skeleton → humanoid3d clip, without bpy: retargeting (core/retarget.py) run backwards.

A mocap bone mapped to humanoid joint j turned by D since its rest (world space); retargeting
would have posed it as Δ_j · O_j · R, so the humanoid body's world rotation is Δ_j = D · O_j⁻¹.
Local joint rotations follow from the parents', hinges (knees, elbows) keep the part of their
rotation about their axis, and the root position is the mocap hips' divided by the leg ratio.
"""
from __future__ import annotations

import numpy as np

from . import axes
from . import rotations as rot
from .clip import MotionClip
from .posing import identity_row, rest_heads_blender
from .retarget import LEG, TargetRest, leg_length, rest_offsets
from .skeleton import JOINTS, ROOT_POS, ROOT_ROT, humanoid3d


def clip_from_pose(
    posed: np.ndarray, hips: np.ndarray, rest: TargetRest, bone_map: dict[str, str], fps: float, name: str = ""
) -> MotionClip:
    """A humanoid3d clip from a mocap skeleton's posed world rotations (F, N, 4) (bones as in `rest`,
    world space, Z up) and its mapped root bone's world head (F, 3)."""
    skeleton = humanoid3d()
    offsets = rest_offsets(bone_map, rest, skeleton)
    count = len(posed)
    world = np.tile(rot.IDENTITY, (count, len(skeleton.bodies), 1))
    for i, body in enumerate(skeleton.bodies):
        bone = bone_map.get(body.name)
        if bone is None:
            world[:, i] = world[:, body.parent] if body.parent >= 0 else rot.IDENTITY
            continue
        k = rest.index(bone)
        turned = rot.multiply(posed[:, k], rot.conjugate(rest.rest[k]))
        world[:, i] = rot.multiply(turned, rot.conjugate(offsets[body.name]))
    world = axes.from_blender_rotations(world)
    scale = leg_length({s: rest.heads[rest.index(t)] for s, t in bone_map.items() if s in LEG}) / leg_length(
        dict(zip(skeleton.names, rest_heads_blender(skeleton)))
    )
    frames = np.tile(identity_row(), (count, 1))
    frames[:, 0] = 1.0 / fps
    frames[:, ROOT_POS] = axes.from_blender_positions(hips / scale)
    frames[:, ROOT_ROT] = rot.make_continuous(world[:, 0], axis=0)
    for joint in JOINTS:
        i = skeleton.index(joint.name)
        local = rot.multiply(rot.conjugate(world[:, skeleton.bodies[i].parent]), world[:, i])
        if joint.ball:
            frames[:, joint.column : joint.column + 4] = rot.make_continuous(local, axis=0)
        else:
            axis = np.array(skeleton.bodies[i].axis) / np.linalg.norm(skeleton.bodies[i].axis)
            # Swing-twist: the twist about the hinge axis is what a hinge can do.
            frames[:, joint.column] = 2.0 * np.arctan2(local[:, 1:] @ axis, local[:, 0])
            frames[:, joint.column] = np.arctan2(np.sin(frames[:, joint.column]), np.cos(frames[:, joint.column]))
    return MotionClip(frames, loop="none", name=name)
