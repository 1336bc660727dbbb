"""The humanoid armature keyed with a clip reproduces the clip's FK in Blender."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backflip_addon.core import axes
from backflip_addon.core import rotations as rot
from backflip_addon.core.bone_maps import DEFAULT_RIG
from backflip_addon.core.character import FACING
from backflip_addon.core.clip import load_clip
from backflip_addon.core.kinematics import forward_kinematics
from backflip_addon.core.skeleton import humanoid3d


def evaluated_bones(armature, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """World head positions (B, 3) and orientations (B, 4) of the bone of every humanoid body, in skeleton order."""
    import bpy

    bpy.context.scene.frame_set(frame)
    heads, rotations = [], []
    for body in humanoid3d().bodies:
        matrix = armature.matrix_world @ armature.pose.bones[DEFAULT_RIG[body.name]].matrix
        heads.append(list(matrix.translation))
        rotations.append(list(matrix.to_quaternion()))
    return np.array(heads), np.array(rotations)


def test_keyed_armature_matches_fk(empty_scene, backflip_clip_path: Path) -> None:
    import bpy

    from backflip_addon.blender import rig
    from backflip_addon.blender.retarget import key_clip

    armature, body = rig.build_humanoid(bpy.context)
    clip = load_clip(backflip_clip_path)
    action = key_clip(armature, clip, fps=30, start_frame=1)
    sampled = clip.resample(30)
    pos, world = forward_kinematics(sampled.frames)
    rest = np.array([list(armature.data.bones[DEFAULT_RIG[b.name]].matrix_local.to_quaternion()) for b in humanoid3d().bodies])
    # The rig faces −Y at rest; the humanoid's rest faces +X: its bones first turn back onto the humanoid's.
    onto_humanoid = rot.conjugate(rot.from_matrix(FACING))
    assert armature.animation_data.nla_tracks[-1].strips[0].action == action
    for frame in range(0, sampled.num_frames, 4):
        heads, bone_rots = evaluated_bones(armature, frame + 1)
        np.testing.assert_allclose(heads, axes.to_blender_positions(pos[frame]), atol=1e-4)
        # A bone's pose orientation is its body's world rotation applied to its rest orientation.
        expected = rot.multiply(axes.to_blender_rotations(world[frame]), rot.multiply(onto_humanoid, rest))
        assert np.max(rot.angle_between(bone_rots, expected)) < 1e-3
    assert len(body.vertex_groups) == 16 and body.modifiers["Armature"].object == armature


def test_root_height_follows_the_flip(empty_scene, backflip_clip_path: Path) -> None:
    import bpy

    from backflip_addon.operators.reference import import_clip

    armature = import_clip(bpy.context, str(backflip_clip_path))
    scene = bpy.context.scene
    assert (scene.frame_start, scene.frame_end) == (1, 53)
    heights = []
    for frame in range(1, 54):
        scene.frame_set(frame)
        heights.append((armature.matrix_world @ armature.pose.bones["pelvis"].head).z)
    heights = np.array(heights)
    # Crouch, take-off, inverted in the air, landing crouch: the mocap's root goes ~0.63 → ~1.17 m.
    assert heights.min() == pytest.approx(0.63, abs=0.02)
    assert heights.max() == pytest.approx(1.17, abs=0.02)
    assert 0.8 < heights[0] < 0.95 and 0.8 < heights[-1] < 0.95
    chest = armature.pose.bones["chest"]
    scene.frame_set(30)  # mid-air: the chest is upside down relative to the root's start
    assert (armature.matrix_world @ chest.head).z < (armature.matrix_world @ armature.pose.bones["pelvis"].head).z + 0.05


def test_import_operator_reports_bad_clip_and_leaves_scene_alone(empty_scene, tmp_path: Path) -> None:
    import bpy

    bad = tmp_path / "bad.txt"
    bad.write_text('{"Loop": "wrap", "Frames": [[0.1, 0.2]]}')
    before = set(bpy.data.objects.keys())
    # An operator that reports an error raises it to Python callers; in the UI it shows the report.
    with pytest.raises(RuntimeError, match=r"bad.txt:1: a clip needs at least 2 frames"):
        bpy.ops.backflip.import_clip(filepath=str(bad))
    assert set(bpy.data.objects.keys()) == before


def test_import_operator_keys_scene_character(empty_scene, backflip_clip_path: Path, motions_dir: Path) -> None:
    import bpy

    from backflip_addon.blender.takes import takes

    assert bpy.ops.backflip.import_clip(filepath=str(backflip_clip_path)) == {"FINISHED"}
    armature = bpy.context.scene.backflip.reference.armature
    assert armature is not None and armature.type == "ARMATURE"
    count = len(bpy.data.objects)
    # A second import keys the same character (as a new take) instead of building another one.
    assert bpy.ops.backflip.import_clip(filepath=str(motions_dir / "humanoid3d_walk.txt")) == {"FINISHED"}
    assert len(bpy.data.objects) == count
    assert takes(armature)[-1].name.endswith("humanoid3d_walk") and len(takes(armature)) == 2
