"""Bake a rollout into the scene: characters per attempt, named takes, event markers, verdicts, exact FK."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from backflip_addon.core import axes
from backflip_addon.core.bone_maps import DEFAULT_RIG
from backflip_addon.core.clip import load_clip
from backflip_addon.core.errors import InvalidInputError, NotFoundError
from backflip_addon.core.kinematics import forward_kinematics
from backflip_addon.core.rollout_events import read_events
from backflip_addon.core.skeleton import humanoid3d
from tests.addon.rollout_fixture import write_rollout


def bone_heads(armature) -> np.ndarray:
    return np.array([list(armature.matrix_world @ armature.pose.bones[DEFAULT_RIG[b.name]].head) for b in humanoid3d().bodies])


def test_bake_two_attempts(empty_scene, tmp_path: Path) -> None:
    import bpy

    from backflip_addon.blender.stage_bake import bake_rollout
    from backflip_addon.blender.takes import takes

    scene = empty_scene
    scene.render.fps = 24  # the rollout is 30 fps: the bake resamples
    events_path = write_rollout(tmp_path)
    baked = bake_rollout(bpy.context, events_path, start_frame=10)

    collection = bpy.data.collections["Stage 15 – lands and holds"]
    assert collection.name in scene.collection.children
    assert len(baked) == 2 and all(b.armature.name in collection.objects for b in baked)
    assert len(collection.objects) == 4  # armature + body per attempt
    assert [b.action.name for b in baked] == ["Stage 15 · attempt 1 · seed 3", "Stage 15 · attempt 2 · seed 4"]
    for b in baked:
        assert takes(b.armature) == [b.action] and b.action.use_fake_user
    first, second = (b.armature for b in baked)
    assert (first["backflip_label"], bool(first["backflip_landed"]), first["backflip_rotation_deg"]) == ("lands and holds", True, 361.5)
    assert (second["backflip_label"], bool(second["backflip_landed"])) == ("lands on knees", False)
    assert second["backflip_seed"] == 4 and second["backflip_stage"] == 15

    markers = {m.name: m.frame for m in scene.timeline_markers}
    assert markers == {
        "attempt 1 takeoff": 10 + round(0.43 * 24), "attempt 1 apex": 10 + round(0.71 * 24),
        "attempt 1 touchdown": 10 + round(1.12 * 24),
        "attempt 2 takeoff": 10 + round(0.43 * 24), "attempt 2 apex": 10 + round(0.71 * 24),
        "attempt 2 touchdown": 10 + round(1.12 * 24), "attempt 2 first fall": 10 + round(1.3 * 24),
    }

    # Every bone's evaluated head follows the clip's FK (Z up) within 1 mm, at every scene frame.
    for b, attempt in zip(baked, read_events(events_path).attempts):
        sampled = load_clip(attempt.clip).resample(24)
        pos, _ = forward_kinematics(sampled.frames)
        expected = axes.to_blender_positions(pos)
        assert scene.frame_end >= 10 + sampled.num_frames - 1
        for i in range(sampled.num_frames):
            scene.frame_set(10 + i)
            np.testing.assert_allclose(bone_heads(b.armature), expected[i], atol=1e-3)
    # The second attempt was moved 1 m along the clip's x: so is the baked character.
    scene.frame_set(10)
    assert bone_heads(second)[0, 0] - bone_heads(first)[0, 0] == pytest.approx(1.0, abs=1e-4)


def test_bake_again_keeps_the_first(empty_scene, tmp_path: Path) -> None:
    import bpy

    from backflip_addon.blender.stage_bake import bake_rollout

    events_path = write_rollout(tmp_path, attempts=1)
    bake_rollout(bpy.context, events_path, start_frame=1)
    bake_rollout(bpy.context, events_path, start_frame=1)
    collection = bpy.data.collections["Stage 15 – lands and holds"]
    assert len([o for o in collection.objects if o.type == "ARMATURE"]) == 2
    assert len([a for a in bpy.data.actions if a.name.startswith("Stage 15 · attempt 1 · seed 3")]) == 2


@pytest.mark.parametrize(
    "spoil, error, match",
    [
        (lambda e, d: (d / "OUT.a2.txt").unlink(), NotFoundError, r"attempts\[1\]: clip .*OUT.a2.txt does not exist"),
        (lambda e, d: e.update(fps="fast"), InvalidInputError, r"field 'fps' is missing or not int or float"),
        (lambda e, d: e["attempts"][0]["events"].update(apex=float("nan")), InvalidInputError, r"event 'apex' is nan"),
        (lambda e, d: e.update(attempts=[]), InvalidInputError, r"no attempts"),
        (lambda e, d: e["attempts"][1].update(seed=True), InvalidInputError, r"attempts\[1\]: field 'seed'"),
        (lambda e, d: e["attempts"][0].update(contacts=[["left_ankle", 3]]), InvalidInputError, r"field 'contacts'"),
    ],
)
def test_bad_rollout_leaves_scene_unchanged(empty_scene, tmp_path: Path, spoil, error, match) -> None:
    import bpy

    from backflip_addon.blender.stage_bake import bake_rollout

    events_path = write_rollout(tmp_path)
    events = json.loads(events_path.read_text())
    spoil(events, tmp_path)
    events_path.write_text(json.dumps(events))
    before = (set(bpy.data.objects.keys()), set(bpy.data.actions.keys()), set(bpy.data.collections.keys()))
    with pytest.raises(error, match=match) as info:
        bake_rollout(bpy.context, events_path, start_frame=1)
    assert info.value.hint
    assert (set(bpy.data.objects.keys()), set(bpy.data.actions.keys()), set(bpy.data.collections.keys())) == before
    assert not bpy.context.scene.timeline_markers


def test_contacts_are_read_per_frame(tmp_path: Path) -> None:
    events_path = write_rollout(tmp_path)
    events = json.loads(events_path.read_text())
    events["attempts"][0]["contacts"][:3] = [["right_ankle", "left_ankle"], ["left_ankle"], []]
    del events["attempts"][1]["contacts"]
    events_path.write_text(json.dumps(events))
    first, second = read_events(events_path).attempts
    assert first.contacts[:3] == [["right_ankle", "left_ankle"], ["left_ankle"], []]
    assert second.contacts == []
