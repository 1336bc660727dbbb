"""Follow camera: damped, aimed at the character, seeded hand-held wobble, keyed and re-keyable."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backflip_addon.core import rotations as rot


def test_spring_follows_without_overshoot() -> None:
    from backflip_addon.blender.follow_camera import smooth_follow

    targets = np.zeros((90, 3))
    targets[10:, 0] = 1.0  # a 1 m step at frame 10
    fast = smooth_follow(targets, 1 / 30, damping=0.2)
    slow = smooth_follow(targets, 1 / 30, damping=0.8)
    assert np.all(np.diff(fast[:, 0]) >= -1e-12) and fast[:, 0].max() <= 1.0 + 1e-9  # critically damped
    assert slow[20, 0] < fast[20, 0]  # more damping, more lag
    assert fast[-1, 0] == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_array_equal(smooth_follow(targets, 1 / 30, damping=0.0), targets)


def test_hand_held_wobble_is_seeded_smooth_and_bounded() -> None:
    from backflip_addon.blender.follow_camera import hand_held

    a, b, c = hand_held(300, 30, 2.0, seed=1), hand_held(300, 30, 2.0, seed=1), hand_held(300, 30, 2.0, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert np.abs(a).max() <= np.radians(2.0) + 1e-12 and np.abs(a).max() > np.radians(0.5)
    assert np.abs(np.diff(a, axis=0)).max() < np.radians(0.5)  # no jumps between frames
    assert not hand_held(10, 30, 0.0, seed=1).any()


def test_look_at_points_minus_z_at_target() -> None:
    from backflip_addon.blender.follow_camera import look_at

    eye = np.array([[0.0, -6.0, 1.0], [3.0, 2.0, 0.5]])
    target = np.array([[0.5, 0.0, 1.2], [0.0, 0.0, 0.0]])
    q = look_at(eye, target)
    forward = rot.rotate(q, np.array([0.0, 0.0, -1.0]))
    expected = (target - eye) / np.linalg.norm(target - eye, axis=1, keepdims=True)
    np.testing.assert_allclose(forward, expected, atol=1e-9)
    right = rot.rotate(q, np.array([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(right[:, 2], 0.0, atol=1e-9)  # no roll: the horizon stays level


def test_follow_camera_keeps_the_keyed_character_in_frame(empty_scene, backflip_clip_path: Path) -> None:
    import bpy
    from bpy_extras.object_utils import world_to_camera_view

    from backflip_addon.blender import follow_camera, rig
    from backflip_addon.blender.retarget import key_clip
    from backflip_addon.core.clip import load_clip

    context = bpy.context
    scene = empty_scene
    armature, _body = rig.build_humanoid(context)
    clip = load_clip(backflip_clip_path)
    key_clip(armature, clip, fps=30, start_frame=1)
    scene.frame_start, scene.frame_end = 1, clip.resample(30).num_frames
    camera = follow_camera.add_follow_camera(context, armature, offset=(0.0, -5.0, 0.5), damping=0.3, shake=1.5, seed=7)
    assert scene.camera == camera
    channelbag = camera.animation_data.action.layers[0].strips[0].channelbag(camera.animation_data.action_slot)
    curves = {(c.data_path, c.array_index): c for c in channelbag.fcurves}
    assert set(curves) == {("location", i) for i in range(3)} | {("rotation_quaternion", i) for i in range(4)}
    assert len(curves[("location", 0)].keyframe_points) == scene.frame_end - scene.frame_start + 1

    root = "pelvis"
    frames = range(scene.frame_start, scene.frame_end + 1)
    for frame in frames:
        scene.frame_set(frame)
        head = armature.matrix_world @ armature.pose.bones[root].head
        u, v, depth = world_to_camera_view(scene, camera, head)
        assert 0.15 < u < 0.85 and 0.15 < v < 0.85 and depth > 1.0, f"root leaves the frame at {frame}: {u, v}"

    # Re-keying after a settings change rewrites the same action in place.
    action = camera.animation_data.action
    scene.frame_set(1)
    before = np.array(camera.matrix_world.translation)
    camera.backflip.follow.offset = (0.0, -8.0, 0.5)
    assert bpy.ops.backflip.rekey_follow_camera.poll() is False  # the camera is not the active object
    context.view_layer.objects.active = camera
    assert bpy.ops.backflip.rekey_follow_camera() == {"FINISHED"}
    assert camera.animation_data.action == action and len(bpy.data.actions) == 2  # character + camera
    scene.frame_set(1)
    after = np.array(camera.matrix_world.translation)
    assert after[1] == pytest.approx(before[1] - 3.0, abs=1e-3)
