"""Key humanoid3d motion onto an armature through a bone map (see core/retarget.py): the user's own rig,
or the add-on's default character (its map is bone_maps.DEFAULT_RIG)."""
from __future__ import annotations

import bpy
import numpy as np

from ..core import retarget as core
from ..core.clip import MotionClip
from ..core.curves import KeyOptions
from ..core.errors import InvalidInputError
from . import rig
from .keys import key_pose


def target_rest(armature: bpy.types.Object) -> core.TargetRest:
    """`armature`'s rest pose in armature space, bones parents first."""
    if armature is None or armature.type != "ARMATURE":
        raise InvalidInputError("no target rig: retargeting needs an armature", "pick your character's armature as Target Rig")
    ordered: list[bpy.types.Bone] = []
    pending = [b for b in armature.data.bones if b.parent is None]
    while pending:
        bone = pending.pop(0)
        ordered.append(bone)
        pending += list(bone.children)
    names = tuple(b.name for b in ordered)
    index = {n: i for i, n in enumerate(names)}
    return core.TargetRest(
        names=names,
        parents=np.array([index[b.parent.name] if b.parent else -1 for b in ordered]),
        heads=np.array([list(b.head_local) for b in ordered]),
        rest=np.array([list(b.matrix_local.to_quaternion()) for b in ordered]),
    )


def scene_bone_map(scene: bpy.types.Scene) -> dict[str, str]:
    """The Bake panel's bone map (humanoid joint → target bone), rows with a bone only."""
    return {row.source: row.target for row in scene.backflip.bake.bone_map if row.target}


def set_scene_bone_map(scene: bpy.types.Scene, bones: dict[str, str]) -> None:
    from ..core.skeleton import humanoid3d

    rows = scene.backflip.bake.bone_map
    rows.clear()
    for joint in humanoid3d().names:
        row = rows.add()
        row.source = joint
        row.target = bones.get(joint, "")


def feet_in_contact(contacts: list[list[str]], clip_fps: float, fps: float, count: int) -> np.ndarray:
    """(count, 2) bool per frame at `fps` for FEET (right, left), from per-clip-frame contact lists."""
    from ..core.skeleton import FEET

    if not contacts:
        return np.zeros((count, len(FEET)), dtype=bool)
    nearest = np.clip(np.round(np.arange(count) / fps * clip_fps).astype(int), 0, len(contacts) - 1)
    return np.array([[foot in contacts[i] for foot in FEET] for i in nearest], dtype=bool)


def scene_root_motion(scene: bpy.types.Scene) -> dict:
    """The Bake panel's root motion settings as retarget_clip's keyword arguments."""
    bake = scene.backflip.bake
    return {"root_motion": bake.root_motion, "ground_bone": bake.ground_bone, "in_place": bake.in_place}


def check_map(armature: bpy.types.Object, bone_map: dict[str, str]) -> None:
    """Raise what retargeting onto `armature` with `bone_map` would, before anything is keyed."""
    core.rest_offsets(bone_map, target_rest(armature))


def retarget_clip(
    armature: bpy.types.Object, clip: MotionClip, bone_map: dict[str, str], *, fps: float, start_frame: int = 1,
    options: KeyOptions | None = None, action_name: str | None = None, contacts: list[list[str]] | None = None,
    root_motion: str = "PELVIS", ground_bone: str = "", in_place: bool = False,
) -> tuple[bpy.types.Action, core.Retargeted]:
    """Key `clip` (resampled to `fps`) onto `armature` as a new take; returns it with the solved pose.

    `contacts`: per clip frame, the humanoid bodies touching the ground (a rollout's events): the
    feet are locked during theirs. Root motion: see core.retarget.retarget; on "OBJECT" the
    object's location is keyed (its current location plus the travel, in world space).
    """
    rest = target_rest(armature)
    sampled = clip.resample(fps)
    to_target = np.array(list(armature.matrix_world.to_quaternion().inverted()))
    planted = None if contacts is None else feet_in_contact(contacts, clip.fps, fps, sampled.num_frames)
    solved = core.retarget(sampled.frames, bone_map, rest, to_target, contacts=planted, root_motion=root_motion,
                           ground_bone=ground_bone, in_place=in_place)
    frames = start_frame + np.arange(sampled.num_frames, dtype=np.float64)
    mapped = set(bone_map.values())
    rotations = {name: solved.rotations[:, k] for k, name in enumerate(rest.names) if name in mapped}
    locations = {bone_map[core.ROOT]: solved.root_location}
    if solved.ground_location is not None:
        locations[ground_bone] = solved.ground_location
    object_location = None
    if root_motion == "OBJECT" and not in_place:
        object_location = np.array(armature.location) + solved.travel @ np.array(armature.matrix_world.to_3x3()).T
    action = key_pose(
        armature, frames, rotations, locations, options=options or KeyOptions(),
        action_name=action_name or f"{armature.name}_{clip.name or 'clip'}", object_location=object_location,
    )
    return action, solved


def key_clip(
    armature: bpy.types.Object, clip: MotionClip, *, fps: float, start_frame: int = 1, action_name: str | None = None,
    options: KeyOptions | None = None, contacts: list[list[str]] | None = None, root_motion: str = "PELVIS",
    in_place: bool = False,
) -> bpy.types.Action:
    """Key `clip` (resampled to `fps`, from `start_frame`) onto a Backflip character (rig.py's default
    one, or an older scene's) as its newest take, with foot lock and root motion as retarget_clip's.

    Root motion "BONE" goes on the character's ground root bone, which characters built before it
    existed lack: those get an error saying so."""
    bone_map, ground_bone = rig.require_character(armature)
    if root_motion == "BONE" and not ground_bone:
        raise InvalidInputError(f"{armature.name} was built by an older Backflip and has no ground root bone",
                                "put root motion on the pelvis or the object, or bake onto a new character")
    action, _ = retarget_clip(
        armature, clip, bone_map, fps=fps, start_frame=start_frame, options=options, action_name=action_name,
        contacts=contacts, root_motion=root_motion, ground_bone=ground_bone if root_motion == "BONE" else "",
        in_place=in_place,
    )
    return action
