"""Bake a projected prop's colour into a UV-mapped image, for export: other tools cannot
evaluate the projection shader."""
from __future__ import annotations

import bpy

from ..core.errors import InvalidInputError
from .compat import new_node_material
from .projection import PROP_KEY


def ensure_uvs(context: bpy.types.Context, obj: bpy.types.Object) -> None:
    """Give `obj` a non-overlapping UV layout (Smart UV Project) if it has no UV map yet."""
    if obj.data.uv_layers:
        return
    obj.data.uv_layers.new(name="UVMap")
    with context.temp_override(active_object=obj, object=obj, selected_objects=[obj], selected_editable_objects=[obj]):
        previous = context.view_layer.objects.active
        context.view_layer.objects.active = obj
        bpy.ops.object.mode_set(mode="EDIT")
        bpy.ops.mesh.select_all(action="SELECT")
        bpy.ops.uv.smart_project(island_margin=0.02)
        bpy.ops.object.mode_set(mode="OBJECT")
        context.view_layer.objects.active = previous


def bake_to_uvs(context: bpy.types.Context, obj: bpy.types.Object, resolution: int = 1024) -> bpy.types.Image:
    """Bake `obj`'s projected colour into a packed image and give `obj` a plain UV-mapped material.

    The projected material is kept (fake user, and as obj["backflip_projected_material"]) so the
    bake can be redone after moving projectors.
    """
    projected = obj.active_material
    if projected is None or not projected.get(PROP_KEY):
        raise InvalidInputError(f"{obj.name} has no projected material", hint="Add it as a projected prop first")
    ensure_uvs(context, obj)
    image = bpy.data.images.new(f"{obj.name} baked", resolution, resolution, alpha=False)
    tree = projected.node_tree
    target = tree.nodes.new("ShaderNodeTexImage")
    target.image = image
    tree.nodes.active = target  # Cycles bakes into the active image node
    scene = context.scene
    previous_engine = scene.render.engine
    unlit = bool(projected["unlit"])
    try:
        scene.render.engine = "CYCLES"
        scene.cycles.device = "CPU"
        bake = scene.render.bake
        bake.margin = 4
        bake.use_pass_direct = bake.use_pass_indirect = False
        bake.use_pass_color = True
        with context.temp_override(active_object=obj, object=obj, selected_objects=[obj], selected_editable_objects=[obj]):
            bpy.ops.object.bake(type="EMIT" if unlit else "DIFFUSE", pass_filter={"COLOR"}, use_clear=True)
    finally:
        scene.render.engine = previous_engine
        tree.nodes.remove(target)
    image.pack()
    projected.use_fake_user = True
    obj["backflip_projected_material"] = projected
    obj.active_material = _baked_material(obj, image, unlit)
    return image


def _baked_material(obj: bpy.types.Object, image: bpy.types.Image, unlit: bool) -> bpy.types.Material:
    material = new_node_material(f"{obj.name} baked")
    tree = material.node_tree
    tree.nodes.clear()
    tex = tree.nodes.new("ShaderNodeTexImage")
    tex.image = image
    output = tree.nodes.new("ShaderNodeOutputMaterial")
    shader = tree.nodes.new("ShaderNodeEmission" if unlit else "ShaderNodeBsdfPrincipled")
    tree.links.new(tex.outputs["Color"], shader.inputs["Color" if unlit else "Base Color"])
    tree.links.new(shader.outputs[0], output.inputs["Surface"])
    return material
