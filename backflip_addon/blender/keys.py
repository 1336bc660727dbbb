"""Key a MotionClip onto an armature with slotted actions (Blender 4.4+), in bulk, as the animator asked:
quaternion or filtered Euler XYZ rotations, linear or Bezier keys, optionally reduced to a tolerance."""
from __future__ import annotations

import bpy
import numpy as np

from ..core import curves
from ..core.curves import KeyOptions
from .compat import ensure_channelbag, ensure_fcurve
from .takes import add_take

_BEZIER_PASSES = 8  # refinement passes of a reduced Bezier curve; each adds keys where it still strays


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


def scene_key_options(scene: bpy.types.Scene) -> KeyOptions:
    """The Bake panel's key settings as KeyOptions."""
    bake = scene.backflip.bake
    return KeyOptions(
        rotation_mode=bake.rotation_mode,
        interpolation=bake.interpolation,
        rotation_tolerance_deg=bake.tolerance_deg if bake.reduce_keys else 0.0,
        location_tolerance_mm=bake.tolerance_mm if bake.reduce_keys else 0.0,
    )


def _interpolation_code(name: str) -> int:
    return bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items[name].value


def _write_keys(curve: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray, interpolation: int) -> None:
    curve.keyframe_points.clear()
    curve.keyframe_points.add(len(frames))
    co = np.empty(2 * len(frames), dtype=np.float32)
    co[0::2] = frames
    co[1::2] = values
    # foreach_set is ~250x faster than keyframe_insert for whole clips.
    curve.keyframe_points.foreach_set("co", co)
    curve.keyframe_points.foreach_set("interpolation", np.full(len(frames), interpolation, dtype=np.int32))
    curve.update()


def _set_curve(
    channelbag, path: str, index: int, group: str, frames: np.ndarray, values: np.ndarray, tolerance: float, interpolation: str
) -> bpy.types.FCurve:
    curve = ensure_fcurve(channelbag, path, index, group)
    keep = curves.reduce_keys(values, tolerance)
    code = _interpolation_code(interpolation)
    _write_keys(curve, frames[keep], values[keep], code)
    if interpolation == "BEZIER" and len(keep) < len(frames):
        # reduce_keys bounds the linear curve; Bezier handles bulge between sparse keys, so add the
        # frames where the evaluated curve still strays until none does.
        for _ in range(_BEZIER_PASSES):
            played = np.array([curve.evaluate(float(f)) for f in frames])
            stray = np.abs(played - values) > tolerance
            if not stray.any():
                break
            keep = np.union1d(keep, np.flatnonzero(stray))
            _write_keys(curve, frames[keep], values[keep], code)
    return curve


def key_pose(
    armature: bpy.types.Object, frames: np.ndarray, rotations: dict[str, np.ndarray], locations: dict[str, np.ndarray],
    *, options: KeyOptions, action_name: str, object_location: np.ndarray | None = None,
) -> bpy.types.Action:
    """A new action keying pose-bone quaternions (F, 4) and locations (F, 3) at scene `frames`, and
    optionally the object's location (F, 3), written as `options` say; put on a new NLA track of
    `armature` as its newest take."""
    action = bpy.data.actions.new(action_name)
    slot = action.slots.new(id_type="OBJECT", name=armature.name)
    channelbag = ensure_channelbag(action, slot)
    rotation_tolerance = options.channel_tolerance("rotation")
    for name, quats in rotations.items():
        bone = armature.pose.bones[name]
        bone.rotation_mode = options.rotation_mode
        if options.rotation_mode == "QUATERNION":
            path, channels = f'pose.bones["{name}"].rotation_quaternion', quats
        else:
            path, channels = f'pose.bones["{name}"].rotation_euler', curves.euler_filter(curves.quaternion_to_euler_xyz(quats))
        for i in range(channels.shape[1]):
            _set_curve(channelbag, path, i, name, frames, channels[:, i], rotation_tolerance, options.interpolation)
    location_tolerance = options.channel_tolerance("location")
    for name, location in locations.items():
        for i in range(3):
            _set_curve(channelbag, f'pose.bones["{name}"].location', i, name, frames, location[:, i], location_tolerance, options.interpolation)
    if object_location is not None:
        for i in range(3):
            _set_curve(channelbag, "location", i, "Object Transforms", frames, object_location[:, i], location_tolerance,
                       options.interpolation)
    add_take(armature, action, slot, int(frames[0]))
    return action


def key_count(action: bpy.types.Action) -> int:
    """Keys in all of `action`'s curves."""
    return sum(len(c.keyframe_points) for layer in action.layers for strip in layer.strips
               for bag in strip.channelbags for c in bag.fcurves)
