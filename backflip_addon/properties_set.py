"""Per-object settings of the set: one PointerProperty on Object (`obj.backflip`).

A prop's collider (for rollouts) and a follow camera's settings (for re-keying) live here.
Projector cameras need no properties: their photo is a custom property and their projection
lives in node groups (see blender/projection.py).
"""
from __future__ import annotations

import bpy


COLLIDER_SHAPES = (
    ("BOX", "Box", "A box fitted to the object's bounds"),
    ("MESH", "Mesh", "The object's own (triangulated) mesh, static"),
    ("PLANE", "Plane", "The infinite plane of the object's local XY (normal +Z)"),
)


class BACKFLIP_PG_collider(bpy.types.PropertyGroup):
    enabled: bpy.props.BoolProperty(
        name="Collider", description="The simulator's rollouts collide with this object", default=False
    )
    shape: bpy.props.EnumProperty(
        name="Shape",
        items=COLLIDER_SHAPES,
        default="BOX",
    )
    friction: bpy.props.FloatProperty(name="Friction", description="Coulomb friction coefficient", default=0.9, min=0.0, soft_max=2.0)
    soft: bpy.props.BoolProperty(name="Soft", description="A springy surface (a mattress) instead of a hard one", default=False)
    stiffness: bpy.props.FloatProperty(
        name="Stiffness", description="Contact stiffness of a soft surface (N/m)", default=3000.0, min=1.0, unit="NONE"
    )
    damping: bpy.props.FloatProperty(
        name="Damping", description="Contact damping of a soft surface (N*s/m)", default=300.0, min=0.0
    )


class BACKFLIP_PG_follow(bpy.types.PropertyGroup):
    target: bpy.props.PointerProperty(
        name="Target", type=bpy.types.Object, description="Object whose root the camera follows (an armature: its root bone)"
    )
    offset: bpy.props.FloatVectorProperty(
        name="Offset", description="Camera position relative to the followed root (m, world axes)",
        default=(0.0, -6.0, 0.6), subtype="TRANSLATION", unit="LENGTH",
    )
    aim_height: bpy.props.FloatProperty(name="Aim Height", description="Aim this far above the root (m)", default=0.0, unit="LENGTH")
    damping: bpy.props.FloatProperty(
        name="Damping", description="Lag of the camera behind the root (s, 0 = locked on)", default=0.4, min=0.0, soft_max=3.0
    )
    shake: bpy.props.FloatProperty(
        name="Hand-held", description="Amplitude of the hand-held wobble (degrees, 0 = tripod)", default=0.0, min=0.0, soft_max=5.0
    )
    seed: bpy.props.IntProperty(name="Seed", description="Seed of the hand-held wobble", default=0, min=0)


class BACKFLIP_PG_object(bpy.types.PropertyGroup):
    collider: bpy.props.PointerProperty(type=BACKFLIP_PG_collider)
    follow: bpy.props.PointerProperty(type=BACKFLIP_PG_follow)


CLASSES = (BACKFLIP_PG_collider, BACKFLIP_PG_follow, BACKFLIP_PG_object)


def register() -> None:
    bpy.types.Object.backflip = bpy.props.PointerProperty(type=BACKFLIP_PG_object)


def unregister() -> None:
    del bpy.types.Object.backflip
