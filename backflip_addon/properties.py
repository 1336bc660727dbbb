"""Scene settings of the add-on: one PointerProperty on Scene, everything else inside it."""
from __future__ import annotations

import bpy

from . import properties_set


class BACKFLIP_PG_reference(bpy.types.PropertyGroup):
    clip_path: bpy.props.StringProperty(name="Reference Clip", subtype="FILE_PATH", default="")
    armature: bpy.props.PointerProperty(
        name="Character",
        type=bpy.types.Object,
        poll=lambda _self, obj: obj.type == "ARMATURE",
        description="The humanoid armature that clips and stages are keyed onto",
    )


class BACKFLIP_PG_scene(bpy.types.PropertyGroup):
    reference: bpy.props.PointerProperty(type=BACKFLIP_PG_reference)


CLASSES = (BACKFLIP_PG_reference, BACKFLIP_PG_scene, *properties_set.CLASSES)


def register() -> None:
    bpy.types.Scene.backflip = bpy.props.PointerProperty(type=BACKFLIP_PG_scene)
    properties_set.register()


def unregister() -> None:
    properties_set.unregister()
    del bpy.types.Scene.backflip
