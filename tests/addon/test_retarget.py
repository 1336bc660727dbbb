"""Retargeting onto a user's rig: a Mixamo-named T-pose armature of another size follows the humanoid."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from backflip_addon.core import axes
from backflip_addon.core import rotations as rot
from backflip_addon.core.bone_maps import auto_map, load_preset, preset_names
from backflip_addon.core.clip import load_clip
from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.kinematics import forward_kinematics
from backflip_addon.core.posing import rest_heads_blender
from backflip_addon.core.retarget import leg_length
from backflip_addon.core.skeleton import humanoid3d
from bench.support.rigs import build_rig, mixamo_bones, rigify_bones

EFFECTORS = {"right_ankle": "RightFoot", "left_ankle": "LeftFoot", "right_wrist": "RightHand", "left_wrist": "LeftHand"}


def world_heads(armature, names: list[str]) -> np.ndarray:
    return np.array([list(armature.matrix_world @ armature.pose.bones[n].head) for n in names])


def test_presets_and_auto_map() -> None:
    assert preset_names() == ["auto_rig_pro", "mixamo", "rigify"]
    assert load_preset("rigify").bones["left_knee"] == "DEF-shin.L"
    mixamo = auto_map([n for n, _, _ in mixamo_bones()])
    assert mixamo.preset == "Mixamo" and mixamo.unmapped == ()
    assert mixamo.bones["right_shoulder"] == "mixamorig:RightArm" and mixamo.bones["chest"] == "mixamorig:Spine2"
    rigify = auto_map([n for n, _, _ in rigify_bones()])
    assert rigify.preset == "Rigify (deform bones)" and rigify.unmapped == ()
    # Common names without a preset (a CMU-style skeleton, no namespace), with the head missing.
    cmu = auto_map(["Hips", "Spine", "Spine1", "LeftUpLeg", "LeftLeg", "LeftFoot", "RightUpLeg", "RightLeg", "RightFoot",
                    "LeftArm", "LeftForeArm", "LeftHand", "RightArm", "RightForeArm", "RightHand"])
    assert cmu.bones["chest"] == "Spine1" and cmu.bones["left_knee"] == "LeftLeg"
    assert cmu.unmapped == ("neck",)
    smpl = auto_map(["Pelvis", "L_Hip", "L_Knee", "L_Ankle", "R_Hip", "R_Knee", "R_Ankle", "Spine3", "Neck",
                     "L_Shoulder", "L_Elbow", "L_Wrist", "R_Shoulder", "R_Elbow", "R_Wrist"])
    assert smpl.unmapped == () and smpl.bones["root"] == "Pelvis" and smpl.bones["right_wrist"] == "R_Wrist"


def test_retargeted_mixamo_rig_follows_the_humanoid(empty_scene, backflip_clip_path: Path, record_property) -> None:
    import bpy

    from backflip_addon.blender.retarget import retarget_clip

    target = build_rig(bpy.context, "Mixamo", mixamo_bones(scale=1.25))
    target.location = (2.0, 0.0, 0.0)  # the flip happens where the character stands
    bone_map = auto_map([b.name for b in target.data.bones]).bones
    clip = load_clip(backflip_clip_path)
    action, solved = retarget_clip(target, clip, bone_map, fps=30)
    sampled = clip.resample(30)
    pos, world = forward_kinematics(sampled.frames)
    names = [f"mixamorig:{n}" for n in EFFECTORS.values()]
    rest = {s: np.array(target.data.bones[t].head_local) for s, t in bone_map.items()}
    target_legs = leg_length(rest) * target.matrix_world.to_scale()[0]
    humanoid_legs = leg_length(dict(zip(humanoid3d().names, rest_heads_blender())))
    assert solved.scale == pytest.approx(1.25, rel=1e-6) and target_legs / humanoid_legs == pytest.approx(1.25, rel=1e-6)
    source_idx = [humanoid3d().index(k) for k in EFFECTORS]
    worst = 0.0
    hips = []
    for frame in range(sampled.num_frames):
        bpy.context.scene.frame_set(frame + 1)
        got = (world_heads(target, names) - np.array(target.location)) / target_legs
        want = axes.to_blender_positions(pos[frame, source_idx]) / humanoid_legs
        worst = max(worst, float(np.max(np.linalg.norm(got - want, axis=-1))) * humanoid_legs)
        hips.append(list((target.matrix_world @ target.pose.bones["mixamorig:Hips"].matrix).to_quaternion()))
    record_property("end_effector_error_cm", round(worst * 100, 3))
    assert worst < 0.03, f"end effectors off by {worst * 100:.1f} cm"
    # The root's full turn survives: the hips turn with the humanoid's root, frame by frame.
    hips = np.array(hips)
    root = axes.to_blender_rotations(world[:, 0])
    relative_target = rot.multiply(hips, rot.conjugate(hips[0]))
    relative_source = rot.multiply(root, rot.conjugate(root[0]))
    assert np.max(rot.angle_between(relative_target, relative_source)) < 1e-3
    turn = np.sum(rot.angle_between(hips[1:], hips[:-1]))
    assert math.degrees(turn) > 330
    assert action.name == "Mixamo_humanoid3d_backflip"


def test_retarget_refuses_an_incomplete_map(empty_scene, backflip_clip_path: Path) -> None:
    import bpy

    from backflip_addon.blender.retarget import retarget_clip

    target = build_rig(bpy.context, "Mixamo", mixamo_bones())
    with pytest.raises(InvalidInputError, match="no target bone for root"):
        retarget_clip(target, load_clip(backflip_clip_path), {"chest": "mixamorig:Spine2"}, fps=30)
    with pytest.raises(InvalidInputError, match="not a bone of the target rig"):
        retarget_clip(target, load_clip(backflip_clip_path), dict(auto_map([b.name for b in target.data.bones]).bones, chest="Nope"), fps=30)


def test_operators_map_and_retarget_and_the_bake_uses_the_target_rig(empty_scene, backflip_clip_path: Path, tmp_path: Path) -> None:
    import bpy

    from backflip_addon.blender.stage_bake import bake_rollout
    from backflip_addon.blender.takes import takes
    from tests.addon.rollout_fixture import write_rollout

    bake = empty_scene.backflip.bake
    with pytest.raises(RuntimeError, match="no Target Rig is set"):
        bpy.ops.backflip.auto_map()
    target = build_rig(bpy.context, "Hero", [(n.split(":")[1], p and p.split(":")[1], h) for n, p, h in mixamo_bones()])
    bake.target_rig = target
    assert bpy.ops.backflip.auto_map() == {"FINISHED"}
    rows = {row.source: row.target for row in bake.bone_map}
    assert len(rows) == 15 and rows["left_elbow"] == "LeftForeArm"
    bake.rotation_mode = "XYZ"
    assert bpy.ops.backflip.retarget(filepath=str(backflip_clip_path)) == {"FINISHED"}
    assert target.pose.bones["LeftArm"].rotation_mode == "XYZ" and len(takes(target)) == 1
    assert empty_scene.frame_end >= 53
    # A broken map stops a rollout bake before anything is added.
    next(row for row in bake.bone_map if row.source == "root").target = ""
    before = set(bpy.data.objects.keys())
    with pytest.raises(InvalidInputError, match="no target bone for root"):
        bake_rollout(bpy.context, write_rollout(tmp_path), start_frame=1)
    assert set(bpy.data.objects.keys()) == before
    assert bpy.ops.backflip.bone_map_preset(preset="mixamo") == {"FINISHED"}
    assert bpy.ops.backflip.auto_map() == {"FINISHED"}
    baked = bake_rollout(bpy.context, write_rollout(tmp_path), start_frame=1)
    assert [b.armature for b in baked] == [target, target] and set(bpy.data.objects.keys()) == before
    assert takes(target)[-2:] == [b.action for b in baked] and baked[1].action["backflip_attempt"] == 2


def _ground_contacts(clip) -> list[list[str]]:
    """Per clip frame, the feet within 2 cm of their lowest height: the mocap's stance frames."""
    pos, _ = forward_kinematics(clip.frames)
    names = ("right_ankle", "left_ankle")
    heights = {n: pos[:, humanoid3d().index(n), 1] for n in names}
    return [[n for n in names if heights[n][i] < heights[n].min() + 0.02] for i in range(clip.num_frames)]


def _slide_mm(armature, bone: str, runs: list[tuple[int, int]]) -> float:
    import bpy

    worst = 0.0
    for start, end in runs:
        bpy.context.scene.frame_set(start + 1)
        anchor = np.array(armature.matrix_world @ armature.pose.bones[bone].head)
        for frame in range(start + 1, end):
            bpy.context.scene.frame_set(frame + 1)
            worst = max(worst, float(np.linalg.norm(np.array(armature.matrix_world @ armature.pose.bones[bone].head) - anchor)))
    return worst * 1000


def _character(kind: str, name: str, ground_bone: bool = False):
    """(armature, key) for the two kinds of character the bake drives: a user's Mixamo rig (through its
    auto-map) or the add-on's default character; key(clip, **options) keys a take onto it."""
    import bpy

    from backflip_addon.blender import rig
    from backflip_addon.blender.retarget import key_clip, retarget_clip

    if kind == "default":
        armature, _ = rig.build_humanoid(bpy.context, name=name)
        return armature, lambda clip, **kw: key_clip(armature, clip, fps=30, **kw)
    bones = mixamo_bones(scale=1.1)
    if ground_bone:
        bones = [("Root", None, np.zeros(3))] + [(n, p or "Root", h) for n, p, h in bones]
    armature = build_rig(bpy.context, name, bones)
    bone_map = auto_map([b.name for b in armature.data.bones]).bones

    def key(clip, **options):
        if options.get("root_motion") == "BONE":
            options["ground_bone"] = "Root"  # the user's rig names its ground bone on the Bake panel
        return retarget_clip(armature, clip, bone_map, fps=30, **options)[0]

    return armature, key


_BONES = {  # hips, left foot, right foot, right hand, ground bone
    "mixamo": ("mixamorig:Hips", "mixamorig:LeftFoot", "mixamorig:RightFoot", "mixamorig:RightHand", "Root"),
    "default": ("pelvis", "foot.L", "foot.R", "hand.R", "root"),
}


@pytest.mark.parametrize("kind", ["mixamo", "default"])
def test_foot_lock_plants_feet_during_contact_and_frees_them_in_flight(empty_scene, backflip_clip_path: Path, kind: str,
                                                                       record_property) -> None:
    import bpy

    from backflip_addon.blender.retarget import feet_in_contact
    from backflip_addon.core.runs import true_runs

    clip = load_clip(backflip_clip_path).resample(30)
    contacts = _ground_contacts(clip)
    planted = feet_in_contact(contacts, 30, 30, clip.num_frames)
    assert planted.any() and not planted.all(axis=1).all()
    _, left, right, _, _ = _BONES[kind]
    slides = {}
    for lock in (False, True):
        target, key = _character(kind, f"{kind} lock={lock}")
        key(clip, contacts=contacts if lock else None)
        slides[lock] = max(_slide_mm(target, foot, true_runs(planted[:, k])) for k, foot in enumerate((right, left)))
        if lock:
            # In flight the feet still leave the ground with the flip.
            bpy.context.scene.frame_set(30)
            assert (target.matrix_world @ target.pose.bones[left].head).z > 0.3
    record_property("foot_slide_mm", {str(k): round(v, 2) for k, v in slides.items()})
    assert slides[True] < 5.0, slides
    assert slides[False] > slides[True]


@pytest.mark.parametrize("kind", ["mixamo", "default"])
@pytest.mark.parametrize("mode", ["BONE", "OBJECT", "IN_PLACE"])
def test_root_motion_options(empty_scene, backflip_clip_path: Path, mode: str, kind: str) -> None:
    import bpy

    clip = load_clip(backflip_clip_path)
    rigs = {}
    for name, kwargs in (("pelvis", {}), (mode, {"root_motion": "BONE"} if mode == "BONE"
                                                else {"root_motion": "OBJECT"} if mode == "OBJECT" else {"in_place": True})):
        rig, key = _character(kind, name, ground_bone=True)
        rig.location = (0.0, 3.0, 0.0)
        key(clip, **kwargs)
        rigs[name] = rig
    hips, left, _, hand, ground = _BONES[kind]
    names = [hips, left, hand, ground]
    travels, carried, turns = [], [], []
    for frame in range(1, 54, 4):
        bpy.context.scene.frame_set(frame)
        pelvis, moved = (world_heads(rigs[n], names) for n in ("pelvis", mode))
        travels.append(pelvis[0, :2] - pelvis[-1, :2])
        # Root motion moves the body, never turns it: the hips keep the pelvis bake's orientation.
        turns.append([list((rigs[n].matrix_world @ rigs[n].pose.bones[hips].matrix).to_quaternion()) for n in ("pelvis", mode)])
        if mode == "IN_PLACE":
            # The same pose, without the travel along the ground.
            np.testing.assert_allclose(moved[:3] - moved[0], pelvis[:3] - pelvis[0], atol=1e-4)
            travel = pelvis[0] - moved[0]
            np.testing.assert_allclose(travel[2], 0.0, atol=1e-4)
            if frame == 1:
                first = travel
            np.testing.assert_allclose(moved[0, :2], (pelvis[0] - (travel - first))[:2], atol=1e-4)
        else:
            np.testing.assert_allclose(moved[:3], pelvis[:3], atol=1e-4)  # the body ends up in the same place
            carrier = moved[3] if mode == "BONE" else np.array(rigs[mode].matrix_world.translation)
            assert carrier[2] == pytest.approx(0.0, abs=1e-4)
            carried.append((moved[0] - carrier)[:2])
    assert np.ptp(np.array(travels), axis=0).max() > 0.05  # the flip does travel along the ground
    turns = np.array(turns)
    assert np.max(rot.angle_between(turns[:, 0], turns[:, 1])) < 1e-3
    assert math.degrees(np.sum(rot.angle_between(turns[1:, 1], turns[:-1, 1]))) > 300  # the flip's full turn, kept
    if carried:
        # The hips keep their place over the carrier: all the travel is the carrier's.
        assert np.ptp(np.array(carried), axis=0).max() < 1e-4
