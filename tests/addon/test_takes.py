"""Takes are never lost: each import is a new action on its own NLA track, kept through save/reopen."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def test_two_imports_survive_save_and_reopen(empty_scene, backflip_clip_path: Path, motions_dir: Path, tmp_path: Path) -> None:
    import bpy

    from backflip_addon.blender.takes import takes

    assert bpy.ops.backflip.import_clip(filepath=str(backflip_clip_path)) == {"FINISHED"}
    assert bpy.ops.backflip.import_clip(filepath=str(motions_dir / "humanoid3d_walk.txt")) == {"FINISHED"}
    armature = bpy.context.scene.backflip.reference.armature
    first, second = takes(armature)
    assert first.name.endswith("humanoid3d_backflip") and second.name.endswith("humanoid3d_walk")
    tracks = armature.animation_data.nla_tracks
    assert [t.mute for t in tracks] == [True, False]  # the newest take plays
    assert armature.animation_data.action is None

    # The walk plays: the root moves forward over its clip (the backflip stays in place).
    scene = bpy.context.scene
    scene.frame_set(1)
    start = np.array((armature.matrix_world @ armature.pose.bones["pelvis"].head))
    scene.frame_set(30)
    end = np.array((armature.matrix_world @ armature.pose.bones["pelvis"].head))
    assert abs(end[0] - start[0]) > 0.3

    name = armature.name
    path = tmp_path / "takes.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    assert not bpy.data.actions
    bpy.ops.wm.open_mainfile(filepath=str(path))
    armature = bpy.data.objects[name]
    reopened = takes(armature)
    assert len(reopened) == 2 and reopened[0].name.endswith("backflip") and reopened[1].name.endswith("walk")
    assert all(a.use_fake_user for a in reopened)
    assert len(armature.animation_data.nla_tracks) == 2
    assert {a.name for a in bpy.data.actions} >= {a.name for a in reopened}
    for track in armature.animation_data.nla_tracks:
        assert len(track.strips) == 1
