"""Mocap in and out: a humanoid3d clip through Blender's BVH exporter and importer comes back within 1°;
takes export as FBX (one take per attempt) and BVH."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backflip_addon.core import rotations as rot
from backflip_addon.core.clip import load_clip
from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.kinematics import local_rotations
from backflip_addon.core.skeleton import humanoid3d


def test_clip_survives_bvh_round_trip(empty_scene, backflip_clip_path: Path, tmp_path: Path, record_property) -> None:
    import bpy

    from backflip_addon.blender import rig
    from backflip_addon.blender.retarget import key_clip
    from backflip_addon.blender.mocap import export_takes, import_bvh

    armature, _ = rig.build_humanoid(bpy.context)
    key_clip(armature, load_clip(backflip_clip_path), fps=30)
    clip = load_clip(backflip_clip_path).resample(30)
    files = export_takes(bpy.context, armature, tmp_path)
    bvh = next(p for p in files if p.suffix == ".bvh")
    _, back, unmapped = import_bvh(bpy.context, bvh, axis_up="Z", axis_forward="Y")  # the exporter writes Z up
    assert unmapped == ()
    assert back.num_frames == clip.num_frames and back.fps == pytest.approx(30)
    want, got = local_rotations(clip.frames), local_rotations(back.frames)
    worst = np.degrees(np.max(rot.angle_between(got, want), axis=0))
    record_property("bvh_round_trip_worst_deg", {n: round(float(w), 3) for n, w in zip(humanoid3d().names, worst)})
    assert worst.max() < 1.0, dict(zip(humanoid3d().names, worst))
    np.testing.assert_allclose(back.frames[:, 1:4], clip.frames[:, 1:4], atol=1e-3)


def test_takes_export_as_fbx_and_bvh(empty_scene, backflip_clip_path: Path, motions_dir: Path, tmp_path: Path) -> None:
    import bpy

    from backflip_addon.blender import rig
    from backflip_addon.blender.retarget import key_clip
    from backflip_addon.blender.mocap import export_collection

    collection = bpy.data.collections.new("Stage 15")
    bpy.context.scene.collection.children.link(collection)
    for name in ("attempt 1", "attempt 2"):
        armature, body = rig.build_humanoid(bpy.context, name=name)
        for obj in (armature, body):
            bpy.context.collection.objects.unlink(obj)
            collection.objects.link(obj)
        key_clip(armature, load_clip(backflip_clip_path), fps=30, action_name=f"{name} flip")
        key_clip(armature, load_clip(motions_dir / "humanoid3d_walk.txt"), fps=30, action_name=f"{name} walk")
    files = export_collection(bpy.context, collection, tmp_path / "out")
    assert sorted(p.name for p in files) == sorted([
        "attempt 1.fbx", "attempt 1 - attempt 1 flip.bvh", "attempt 1 - attempt 1 walk.bvh",
        "attempt 2.fbx", "attempt 2 - attempt 2 flip.bvh", "attempt 2 - attempt 2 walk.bvh"])
    # The FBX holds one take per NLA strip: read it back with Blender's importer.
    before = set(bpy.data.actions)
    bpy.ops.import_scene.fbx(filepath=str(tmp_path / "out" / "attempt 1.fbx"))
    imported = [a.name for a in bpy.data.actions if a not in before]
    assert any("flip" in n for n in imported) and any("walk" in n for n in imported), imported
    assert "Frames: 53\n" in (tmp_path / "out" / "attempt 1 - attempt 1 flip.bvh").read_text().splitlines(keepends=True)
    empty = bpy.data.collections.new("Empty")
    with pytest.raises(InvalidInputError, match="no character with takes"):
        export_collection(bpy.context, empty, tmp_path)


def test_bvh_operator_writes_a_clip_the_trainer_reads(empty_scene, backflip_clip_path: Path, tmp_path: Path) -> None:
    import bpy

    from backflip_addon.blender import rig
    from backflip_addon.blender.retarget import key_clip
    from backflip_addon.blender.mocap import export_takes

    armature, _ = rig.build_humanoid(bpy.context)
    key_clip(armature, load_clip(backflip_clip_path), fps=30)
    bvh = next(p for p in export_takes(bpy.context, armature, tmp_path) if p.suffix == ".bvh")
    # Default axes (Y-up mocap) on a Z-up file: the clip is turned, but still a valid clip.
    assert bpy.ops.backflip.import_bvh(filepath=str(bvh)) == {"FINISHED"}
    clip = load_clip(empty_scene.backflip.reference.clip_path)
    assert clip.num_frames == 53 and clip.loop == "none"
    with pytest.raises(RuntimeError, match="no such BVH file"):
        bpy.ops.backflip.import_bvh(filepath=str(tmp_path / "missing.bvh"))
