"""The few places where Blender 4.5 LTS and 5.0 differ for this add-on, in one module."""
from __future__ import annotations

import bpy


def new_node_material(name: str) -> bpy.types.Material:
    """A material with its default node tree (Principled BSDF + output).

    Blender 5.0 gives every new material a node tree; 4.5 does so only with `use_nodes` set (a flag
    5.0 deprecates), so it is set only where the tree is missing.
    """
    material = bpy.data.materials.new(name)
    if material.node_tree is None:
        material.use_nodes = True
    return material


def ensure_channelbag(action: bpy.types.Action, slot: bpy.types.ActionSlot) -> bpy.types.ActionChannelbag:
    """The F-curve container of `slot` in `action`'s first layer and keyframe strip, created if missing.

    What 5.0's `bpy_extras.anim_utils.action_ensure_channelbag_for_slot` does, with the layered-action
    API that 4.4+ already has (4.5's bpy_extras lacks that helper).
    """
    layer = action.layers[0] if len(action.layers) else action.layers.new("Layer")
    strip = layer.strips[0] if len(layer.strips) else layer.strips.new(type="KEYFRAME")
    return strip.channelbag(slot, ensure=True)


def ensure_fcurve(channelbag: bpy.types.ActionChannelbag, path: str, index: int, group: str) -> bpy.types.FCurve:
    """The F-curve for (path, index), created in channel group `group` if missing.

    5.0's `fcurves.new` takes `group_name`; 4.5's does not, so the group is assigned here on both.
    """
    curve = channelbag.fcurves.find(path, index=index)
    if curve is None:
        curve = channelbag.fcurves.new(path, index=index)
        curve.group = channelbag.groups.get(group) or channelbag.groups.new(group)
    return curve
