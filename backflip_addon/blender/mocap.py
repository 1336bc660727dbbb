"""Mocap in and out through Blender's own BVH and FBX add-ons: a BVH becomes a humanoid3d clip the
trainer accepts; every take of a character goes out as one FBX (a take per attempt) and a BVH each."""
from __future__ import annotations

import re
from pathlib import Path

import bpy
import numpy as np
from mathutils import Vector

from ..core import rotations as rot
from ..core.bone_maps import auto_map
from ..core.clip import MotionClip
from ..core.errors import InvalidInputError
from ..core.mocap import clip_from_pose
from ..core.retarget import TargetRest
from .keys import scene_fps
from .retarget import target_rest
from .takes import takes


def _world_rest(armature: bpy.types.Object) -> TargetRest:
    """The armature's rest pose in world space (what a mocap file's world rotations compare to)."""
    rest = target_rest(armature)
    matrix = armature.matrix_world
    turn = np.array(list(matrix.to_quaternion()))
    return TargetRest(
        names=rest.names, parents=rest.parents,
        heads=np.array([list(matrix @ Vector(h)) for h in rest.heads]),
        rest=rot.multiply(np.broadcast_to(turn, rest.rest.shape), rest.rest),
    )


def import_bvh(
    context: bpy.types.Context, path: str | Path, *, axis_up: str = "Y", axis_forward: str = "-Z"
) -> tuple[bpy.types.Object, MotionClip, tuple[str, ...]]:
    """Import a BVH with Blender's importer and convert it to a humanoid3d clip at the scene's fps.

    Mocap files (CMU, SMPL exports, Mixamo) are Y up: the defaults. Blender's BVH exporter writes
    Blender's own Z-up axes, so its files come back with axis_up="Z", axis_forward="Y".

    Returns the imported armature, the clip, and the humanoid joints no bone was found for (those
    stay at rest in the clip)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such BVH file", "check the path")
    before = set(bpy.data.objects)
    result = bpy.ops.import_anim.bvh(filepath=str(path), update_scene_fps=False, update_scene_duration=False,
                                     axis_up=axis_up, axis_forward=axis_forward)
    armature = next((o for o in bpy.data.objects if o not in before and o.type == "ARMATURE"), None)
    if result != {"FINISHED"} or armature is None:
        raise InvalidInputError(f"{path.name}: Blender's BVH importer made no armature", "check that the file is a BVH")
    found = auto_map([b.name for b in armature.data.bones])
    rest = _world_rest(armature)
    action = armature.animation_data.action if armature.animation_data else None
    if action is None:
        raise InvalidInputError(f"{path.name}: the BVH has no motion", "export the mocap with its frames")
    first, last = (round(f) for f in action.frame_range)
    scene = context.scene
    order = {name: k for k, name in enumerate(rest.names)}
    posed = np.zeros((last - first + 1, len(rest.names), 4))
    hips = np.zeros((last - first + 1, 3))
    root_bone = found.bones.get("root")
    if root_bone is None:
        raise InvalidInputError(f"{path.name}: no hips/pelvis bone found", "rename the root bone Hips, or use a CMU/SMPL/Mixamo skeleton")
    for f in range(first, last + 1):
        scene.frame_set(f)
        for bone in armature.pose.bones:
            posed[f - first, order[bone.name]] = list((armature.matrix_world @ bone.matrix).to_quaternion())
        hips[f - first] = list(armature.matrix_world @ armature.pose.bones[root_bone].head)
    clip = clip_from_pose(posed, hips, rest, found.bones, scene_fps(scene), name=path.stem)
    return armature, clip, found.unmapped


def _file_name(text: str) -> str:
    return re.sub(r"[^\w\-. ]+", "_", text).strip() or "take"


def _solo(armature: bpy.types.Object, action: bpy.types.Action) -> None:
    for track in armature.animation_data.nla_tracks:
        track.mute = not any(s.action == action for s in track.strips)


def export_takes(context: bpy.types.Context, armature: bpy.types.Object, folder: str | Path) -> list[Path]:
    """`armature`'s takes as one FBX (one FBX take per NLA strip) plus one BVH per take; returns the files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    actions = takes(armature)
    if not actions:
        raise InvalidInputError(f"{armature.name} has no takes to export", "bake or import motion onto it first")
    written = []
    fbx = folder / f"{_file_name(armature.name)}.fbx"
    selected = [armature, *(c for c in armature.children if c.type == "MESH")]
    muted = {track.name: track.mute for track in armature.animation_data.nla_tracks}
    try:
        # The FBX exporter makes a take of every unmuted strip: unmute the older takes for it.
        for track in armature.animation_data.nla_tracks:
            track.mute = False
        with context.temp_override(selected_objects=selected, active_object=armature, object=armature):
            bpy.ops.export_scene.fbx(filepath=str(fbx), use_selection=True, object_types={"ARMATURE", "MESH"},
                                     bake_anim=True, bake_anim_use_nla_strips=True, bake_anim_use_all_actions=False)
    finally:
        for track in armature.animation_data.nla_tracks:
            track.mute = muted[track.name]
    written.append(fbx)
    try:
        for action in actions:
            _solo(armature, action)
            first, last = (round(f) for f in _strip_range(armature, action))
            bvh = folder / f"{_file_name(armature.name)} - {_file_name(action.name)}.bvh"
            with context.temp_override(selected_objects=[armature], active_object=armature, object=armature):
                bpy.ops.export_anim.bvh(filepath=str(bvh), frame_start=first, frame_end=last)
            written.append(bvh)
    finally:
        for track in armature.animation_data.nla_tracks:
            track.mute = muted[track.name]
    return written


def _strip_range(armature: bpy.types.Object, action: bpy.types.Action) -> tuple[float, float]:
    """Scene frames of the take's first and last key (a strip's frame_end lies one frame past its last key)."""
    strip = next(s for t in armature.animation_data.nla_tracks for s in t.strips if s.action == action)
    first, last = action.frame_range
    return strip.frame_start, strip.frame_start + (last - first)


def export_collection(context: bpy.types.Context, collection: bpy.types.Collection, folder: str | Path) -> list[Path]:
    """Every character with takes in `collection` (e.g. a baked stage's attempts), exported by export_takes."""
    armatures = [o for o in collection.all_objects if o.type == "ARMATURE" and takes(o)]
    if not armatures:
        raise InvalidInputError(f"{collection.name} holds no character with takes", "pick a baked stage's collection")
    return [path for armature in armatures for path in export_takes(context, armature, folder)]
