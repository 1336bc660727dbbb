"""The default character in Blender: bone collections, a ground root bone, one skinned body mesh that
follows the bones through the flip; older humanoid3d-named characters keep working."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backflip_addon.core.clip import load_clip
from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.kinematics import forward_kinematics
from backflip_addon.core.posing import rest_heads_blender
from backflip_addon.core.skeleton import humanoid3d
from bench.support.rigs import build_rig, mixamo_bones


def test_armature_has_collections_a_ground_root_and_one_skinned_body(empty_scene) -> None:
    import bpy

    from backflip_addon.blender import rig

    armature, body = rig.build_humanoid(bpy.context)
    bones = armature.data.bones
    assert {c.name for c in armature.data.collections} == {"Body", "Arms", "Legs", "Root"}
    assert [b.name for b in armature.data.collections["Root"].bones] == ["root"]
    assert {b.name for b in armature.data.collections["Arms"].bones} == {f"{p}.{s}" for p in ("upper_arm", "forearm", "hand") for s in "LR"}
    assert bones["pelvis"].parent.name == "root" and not bones["root"].use_deform and bones["root"].head_local.z == 0.0
    assert bones["shin.L"].use_connect and bones["shin.L"].parent.name == "thigh.L"
    # Knees and elbows bend about the bone's X axis, which points across the body.
    for name in ("shin.L", "shin.R", "forearm.L"):
        assert abs(bones[name].matrix_local.col[0].x) > 0.99, name
    assert [o for o in bpy.data.objects if o.type == "MESH"] == [body] and body.parent == armature
    assert body.modifiers["Armature"].object == armature
    assert {g.name for g in body.vertex_groups} == {b.name for b in bones if b.use_deform}
    blended = sum(1 for v in body.data.vertices if len([g for g in v.groups if g.weight > 0.05]) > 1)
    assert blended > 0.2 * len(body.data.vertices)


def test_the_body_follows_the_bones_through_the_flip(empty_scene, backflip_clip_path: Path, record_property) -> None:
    import bpy

    from backflip_addon.blender import rig
    from backflip_addon.blender.retarget import key_clip

    armature, body = rig.build_humanoid(bpy.context)
    key_clip(armature, load_clip(backflip_clip_path), fps=30)
    groups = {g.index: g.name for g in body.vertex_groups}
    main = [groups[max(v.groups, key=lambda g: g.weight).group] for v in body.data.vertices]
    rest = np.array([list(v.co) for v in body.data.vertices])
    for frame in (8, 30, 48):  # crouch, inverted, landing
        bpy.context.scene.frame_set(frame)
        evaluated = body.evaluated_get(bpy.context.evaluated_depsgraph_get())
        posed = np.array([list(evaluated.matrix_world @ v.co) for v in evaluated.data.vertices])
        assert np.linalg.norm(posed - rest, axis=1).max() > 0.3  # it moved
        # Each vertex stays as far from its main bone as it was at rest, to within what blending does
        # at a deep bend (the tucked hips, ~3 cm).
        worst = 0.0
        for name in set(main):
            pose = armature.pose.bones[name]
            picked = np.array([m == name for m in main])
            before = _distance(rest[picked], np.array(pose.bone.head_local), np.array(pose.bone.tail_local))
            after = _distance(posed[picked], np.array(armature.matrix_world @ pose.head), np.array(armature.matrix_world @ pose.tail))
            worst = max(worst, float(np.max(np.abs(after - before))))
            assert worst < 0.04, (frame, name, worst)
        record_property(f"skin_off_bone_cm_frame_{frame}", round(100 * worst, 2))


def _distance(points: np.ndarray, head: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """Distance of `points` (N, 3) from the segment head–tail."""
    along = tail - head
    t = np.clip((points - head) @ along / (along @ along), 0.0, 1.0)
    return np.linalg.norm(points - (head + t[:, None] * along), axis=1)


def test_bake_panel_root_motion_on_the_default_characters_ground_bone(empty_scene, tmp_path: Path) -> None:
    import bpy

    from backflip_addon.blender.stage_bake import bake_rollout
    from tests.addon.rollout_fixture import write_rollout

    bake = empty_scene.backflip.bake
    bake.root_motion = "BONE"
    (baked,) = bake_rollout(bpy.context, write_rollout(tmp_path, attempts=1), start_frame=1)
    armature = baked.armature
    ground = []
    for frame in (1, 40):
        bpy.context.scene.frame_set(frame)
        ground.append(np.array(armature.matrix_world @ armature.pose.bones["root"].head))
    assert ground[0][2] == pytest.approx(0.0, abs=1e-4) and ground[1][2] == pytest.approx(0.0, abs=1e-4)
    assert np.linalg.norm(ground[1] - ground[0]) > 0.05  # the ground bone carries the travel


def _legacy_rig(context):
    """A character as Backflip built it before bones had Blender names: one bone per humanoid body, facing +X."""
    skeleton = humanoid3d()
    heads = rest_heads_blender()
    return build_rig(context, "Old Backflip", [(b.name, skeleton.bodies[b.parent].name if b.parent >= 0 else None, heads[i])
                                              for i, b in enumerate(skeleton.bodies)])


def test_an_older_scenes_character_keeps_working(empty_scene, backflip_clip_path: Path) -> None:
    import bpy

    from backflip_addon.blender.follow_camera import sample_root
    from backflip_addon.blender.retarget import key_clip
    from backflip_addon.operators.reference import import_clip

    old = _legacy_rig(bpy.context)
    assert import_clip(bpy.context, str(backflip_clip_path), old) == old
    sampled = load_clip(backflip_clip_path).resample(30)
    pos, _ = forward_kinematics(sampled.frames)
    bpy.context.scene.frame_set(30)
    np.testing.assert_allclose(np.array(old.matrix_world @ old.pose.bones["left_ankle"].head),
                               pos[29, humanoid3d().index("left_ankle")][[0, 2, 1]] * [1, -1, 1], atol=1e-4)
    np.testing.assert_allclose(sample_root(bpy.context.scene, old, range(30, 31))[0], np.array(old.pose.bones["root"].head), atol=1e-6)
    with pytest.raises(InvalidInputError, match="older Backflip and has no ground root bone") as info:
        key_clip(old, load_clip(backflip_clip_path), fps=30, root_motion="BONE")
    assert info.value.hint


def test_a_foreign_armature_is_refused_with_a_hint(empty_scene, backflip_clip_path: Path) -> None:
    import bpy

    from backflip_addon.operators.reference import import_clip

    other = build_rig(bpy.context, "Hero", mixamo_bones())
    before = set(bpy.data.objects.keys())
    with pytest.raises(InvalidInputError, match=r"Hero is not a Backflip character \(no bone 'pelvis'\)") as info:
        import_clip(bpy.context, str(backflip_clip_path), other)
    assert "Target Rig" in info.value.hint and set(bpy.data.objects.keys()) == before
