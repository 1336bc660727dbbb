"""Key options: Euler XYZ with no 2π jumps, key reduction within its tolerance, linear or Bezier keys."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from backflip_addon.core import rotations as rot
from backflip_addon.core.bone_maps import DEFAULT_RIG
from backflip_addon.core.clip import load_clip
from backflip_addon.core.curves import KeyOptions
from backflip_addon.core.skeleton import humanoid3d


def _curves(action):
    return list(action.layers[0].strips[0].channelbags[0].fcurves)


def _basis(armature, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """Every bone's pose rotation (B, 4) and location (B, 3) as Blender evaluates them at `frame`."""
    import bpy

    bpy.context.scene.frame_set(frame)
    bones = [armature.pose.bones[DEFAULT_RIG[b.name]] for b in humanoid3d().bodies]
    return (np.array([list(b.matrix_basis.to_quaternion()) for b in bones]),
            np.array([list(b.matrix_basis.translation) for b in bones]))


def _played(armature, frames: int) -> tuple[np.ndarray, np.ndarray]:
    got = [_basis(armature, f) for f in range(1, frames + 1)]
    return np.array([g[0] for g in got]), np.array([g[1] for g in got])


def test_euler_keys_have_no_2pi_jumps_and_keep_the_full_turn(empty_scene, backflip_clip_path: Path) -> None:
    import bpy

    from backflip_addon.blender import keys, rig
    from backflip_addon.blender.retarget import key_clip

    armature, _ = rig.build_humanoid(bpy.context)
    reference, _ = rig.build_humanoid(bpy.context, name="Reference")
    clip = load_clip(backflip_clip_path)
    frames = clip.resample(30).num_frames
    action = key_clip(armature, clip, fps=30, options=KeyOptions(rotation_mode="XYZ"))
    key_clip(reference, clip, fps=30)
    curves = _curves(action)
    assert all(c.data_path.endswith(("rotation_euler", "location")) for c in curves)
    assert armature.pose.bones["pelvis"].rotation_mode == "XYZ"
    for curve in curves:
        values = np.array([k.co[1] for k in curve.keyframe_points])
        # A 2π wrap shows as a step near 6.28; the shoulders pass near gimbal lock (Y ≈ -90°), where
        # X and Z legitimately swing ~1.7 rad in a frame.
        assert np.max(np.abs(np.diff(values))) < math.pi, curve.data_path
    # The root's Euler curves add up to the flip's full turn instead of wrapping back.
    root = [c for c in curves if c.data_path == 'pose.bones["pelvis"].rotation_euler']
    travel = max(abs(c.keyframe_points[-1].co[1] - c.keyframe_points[0].co[1]) for c in root)
    assert travel == pytest.approx(2 * math.pi, abs=0.35)
    # Same pose as the quaternion bake at every frame.
    euler_rot, _ = _played(armature, frames)
    quat_rot, _ = _played(reference, frames)
    assert np.max(rot.angle_between(euler_rot, quat_rot)) < 1e-3


@pytest.mark.parametrize("mode", ["QUATERNION", "XYZ"])
@pytest.mark.parametrize("interpolation", ["LINEAR", "BEZIER"])
def test_reduced_keys_stay_within_tolerance(empty_scene, backflip_clip_path: Path, mode: str, interpolation: str,
                                            record_property) -> None:
    import bpy

    from backflip_addon.blender import keys, rig
    from backflip_addon.blender.retarget import key_clip

    clip = load_clip(backflip_clip_path)
    frames = clip.resample(30).num_frames
    full_rig, _ = rig.build_humanoid(bpy.context, name="Full")
    full = key_clip(full_rig, clip, fps=30, options=KeyOptions(rotation_mode=mode, interpolation=interpolation))
    reduced_rig, _ = rig.build_humanoid(bpy.context, name="Reduced")
    options = KeyOptions(rotation_mode=mode, interpolation=interpolation, rotation_tolerance_deg=1.0, location_tolerance_mm=2.0)
    reduced = key_clip(reduced_rig, clip, fps=30, options=options)
    assert all(k.interpolation == interpolation for c in _curves(reduced) for k in c.keyframe_points)
    want_rot, want_loc = _played(full_rig, frames)
    got_rot, got_loc = _played(reduced_rig, frames)
    worst_deg = math.degrees(np.max(rot.angle_between(got_rot, want_rot)))
    worst_mm = 1000 * np.max(np.linalg.norm(got_loc - want_loc, axis=-1))
    full_count, reduced_count = keys.key_count(full), keys.key_count(reduced)
    record_property("keys", f"{mode} {interpolation}: {full_count} -> {reduced_count}, worst {worst_deg:.2f} deg {worst_mm:.2f} mm")
    assert worst_deg <= 1.0 and worst_mm <= 2.0
    assert reduced_count < 0.6 * full_count


def test_unreduced_keys_are_linear_by_default(empty_scene, backflip_clip_path: Path) -> None:
    import bpy

    from backflip_addon.blender import keys, rig
    from backflip_addon.blender.retarget import key_clip

    armature, _ = rig.build_humanoid(bpy.context)
    action = key_clip(armature, load_clip(backflip_clip_path), fps=30)
    assert {k.interpolation for c in _curves(action) for k in c.keyframe_points} == {"LINEAR"}
    assert keys.key_count(action) == 53 * (15 * 4 + 3)


def test_bake_panel_options_reach_the_import(empty_scene, backflip_clip_path: Path) -> None:
    import bpy

    bake = empty_scene.backflip.bake
    bake.rotation_mode, bake.interpolation, bake.reduce_keys = "XYZ", "BEZIER", True
    assert bpy.ops.backflip.import_clip(filepath=str(backflip_clip_path)) == {"FINISHED"}
    armature = empty_scene.backflip.reference.armature
    action = armature.animation_data.nla_tracks[-1].strips[0].action
    curves = _curves(action)
    assert any(c.data_path.endswith("rotation_euler") for c in curves)
    assert {k.interpolation for c in curves for k in c.keyframe_points} == {"BEZIER"}
    from backflip_addon.blender.keys import key_count

    assert key_count(action) < 53 * (15 * 3 + 3)
