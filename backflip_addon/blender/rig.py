"""The default character (core/character.py) as an armature and one smooth-skinned body mesh, and
which bones of a scene's character take the humanoid's joints."""
from __future__ import annotations

import bpy
import numpy as np

from ..core.body_mesh import body_mesh
from ..core.bone_maps import DEFAULT_GROUND_BONE, DEFAULT_RIG
from ..core.character import RigBone, default_rig
from ..core.errors import InvalidInputError
from ..core.skeleton import humanoid3d
from .compat import new_node_material

BODY_COLOR = (0.8, 0.55, 0.35, 1.0)
COLLECTIONS = ("Body", "Arms", "Legs", "Root")


def build_armature(context: bpy.types.Context, name: str = "Backflip", bones: tuple[RigBone, ...] | None = None) -> bpy.types.Object:
    """A new armature object of the default character (quaternion rotation mode) linked to the scene."""
    bones = bones or default_rig()
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    context.collection.objects.link(obj)
    collections = {c: data.collections.new(c) for c in COLLECTIONS}
    # Edit bones exist only in edit mode; switch with a temporary override of the active object.
    with context.temp_override(active_object=obj, object=obj, selected_objects=[obj]):
        prev_active = context.view_layer.objects.active
        context.view_layer.objects.active = obj
        bpy.ops.object.mode_set(mode="EDIT")
        for spec in bones:
            bone = data.edit_bones.new(spec.name)
            bone.head, bone.tail = spec.head, spec.tail
            bone.align_roll(spec.z_axis)
            bone.use_deform = spec.flesh is not None
            if spec.parent is not None:
                bone.parent = data.edit_bones[spec.parent]
                bone.use_connect = (bone.parent.tail - bone.head).length < 1e-6
            collections[spec.collection].assign(bone)
        bpy.ops.object.mode_set(mode="OBJECT")
        context.view_layer.objects.active = prev_active or obj
    for pose_bone in obj.pose.bones:
        pose_bone.rotation_mode = "QUATERNION"
    obj["backflip_skeleton"] = "humanoid3d"
    return obj


def build_body_mesh(context: bpy.types.Context, armature: bpy.types.Object, bones: tuple[RigBone, ...] | None = None) -> bpy.types.Object:
    """One mesh round the armature's deform bones, skinned with weights blended across the joints."""
    body = body_mesh(bones or default_rig())
    mesh = bpy.data.meshes.new(f"{armature.name}_body")
    obj = bpy.data.objects.new(f"{armature.name}_body", mesh)
    context.collection.objects.link(obj)
    mesh.from_pydata(body.vertices.tolist(), [], body.faces)
    mesh.update()
    for name, (indices, weights) in body.weights.items():
        group = obj.vertex_groups.new(name=name)
        # Most vertices follow one bone fully: one call for those, one per blended vertex.
        whole = weights > 1.0 - 1e-9
        group.add(indices[whole].tolist(), 1.0, "REPLACE")
        for index, weight in zip(indices[~whole].tolist(), weights[~whole].tolist()):
            group.add([index], weight, "REPLACE")
    modifier = obj.modifiers.new("Armature", "ARMATURE")
    modifier.object = armature
    obj.parent = armature
    material = new_node_material(f"{armature.name}_skin")
    material.diffuse_color = BODY_COLOR
    material.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = BODY_COLOR
    mesh.materials.append(material)
    mesh.polygons.foreach_set("use_smooth", np.ones(len(mesh.polygons), dtype=bool))
    return obj


def build_humanoid(context: bpy.types.Context, name: str = "Backflip") -> tuple[bpy.types.Object, bpy.types.Object]:
    """The default character: armature plus body mesh, ready to be keyed."""
    armature = build_armature(context, name)
    return armature, build_body_mesh(context, armature)


def character_map(armature: bpy.types.Object | None) -> tuple[dict[str, str], str] | None:
    """(humanoid joint → bone, ground root bone or "") of a Backflip character: the default one, or
    one an older Backflip built (its bones named after the humanoid's joints, no ground bone);
    None for any other object."""
    if armature is None or armature.type != "ARMATURE":
        return None
    bones = armature.data.bones
    if all(b in bones for b in DEFAULT_RIG.values()):
        return dict(DEFAULT_RIG), DEFAULT_GROUND_BONE if DEFAULT_GROUND_BONE in bones else ""
    if all(b in bones for b in humanoid3d().names):
        return {b: b for b in humanoid3d().names}, ""
    return None


def require_character(armature: bpy.types.Object | None) -> tuple[dict[str, str], str]:
    """character_map, or an error naming what is missing."""
    found = character_map(armature)
    if found is None:
        name = armature.name if armature is not None else "nothing"
        missing = next((b for b in DEFAULT_RIG.values() if armature is None or armature.type != "ARMATURE" or b not in armature.data.bones), "")
        raise InvalidInputError(f"{name} is not a Backflip character (no bone {missing!r})",
                                "untick Use Scene Character to build a new one, or set it as Target Rig to bake through a bone map")
    return found
