"""The humanoid3d armature and a simple rigid body mesh (one primitive per body)."""
from __future__ import annotations

import bmesh
import bpy
import numpy as np
from mathutils import Matrix

from ..core import axes
from ..core.posing import rest_heads_blender
from ..core.skeleton import Shape, Skeleton, humanoid3d
from .compat import new_node_material

BODY_COLOR = (0.8, 0.55, 0.35, 1.0)
_LEAF_LENGTH = 0.12  # m, for bones without a child (neck, wrists, feet)


def _tail(skeleton: Skeleton, heads: np.ndarray, index: int) -> np.ndarray:
    children = [i for i, b in enumerate(skeleton.bodies) if b.parent == index]
    if children:
        target = heads[children[0]]
        if np.linalg.norm(target - heads[index]) > 1e-4:
            return target
    # Point leaf bones (and the root, whose first child sits on it) along the body's shape.
    direction = axes.to_blender_positions(np.array(skeleton.bodies[index].shape.origin))
    if np.linalg.norm(direction) < 1e-6:
        direction = np.array([0.0, 0.0, 1.0])
    return heads[index] + _LEAF_LENGTH * direction / np.linalg.norm(direction)


def build_armature(context: bpy.types.Context, name: str = "Backflip", skeleton: Skeleton | None = None) -> bpy.types.Object:
    """A new armature object (one bone per humanoid body, quaternion rotation mode) linked to the scene."""
    skeleton = skeleton or humanoid3d()
    heads = rest_heads_blender(skeleton)
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    context.collection.objects.link(obj)
    # Edit bones exist only in edit mode; switch with a temporary override of the active object.
    with context.temp_override(active_object=obj, object=obj, selected_objects=[obj]):
        prev_active = context.view_layer.objects.active
        context.view_layer.objects.active = obj
        bpy.ops.object.mode_set(mode="EDIT")
        for i, body in enumerate(skeleton.bodies):
            bone = data.edit_bones.new(body.name)
            bone.head = heads[i]
            bone.tail = _tail(skeleton, heads, i)
            bone.roll = 0.0
            if body.parent >= 0:
                bone.parent = data.edit_bones[skeleton.bodies[body.parent].name]
        bpy.ops.object.mode_set(mode="OBJECT")
        context.view_layer.objects.active = prev_active or obj
    for pose_bone in obj.pose.bones:
        pose_bone.rotation_mode = "QUATERNION"
    obj["backflip_skeleton"] = "humanoid3d"
    return obj


def bone_rest_rotations(armature: bpy.types.Object, skeleton: Skeleton | None = None) -> np.ndarray:
    """Each bone's rest orientation in armature space as (w, x, y, z), in skeleton body order."""
    skeleton = skeleton or humanoid3d()
    bones = armature.data.bones
    return np.array([list(bones[b.name].matrix_local.to_quaternion()) for b in skeleton.bodies])


def _shape_bmesh(shape: Shape) -> bmesh.types.BMesh:
    bm = bmesh.new()
    if shape.kind == "box":
        bmesh.ops.create_cube(bm, size=1.0)
        bmesh.ops.scale(bm, vec=shape.size, verts=bm.verts)
    else:
        bmesh.ops.create_uvsphere(bm, u_segments=16, v_segments=8, radius=shape.radius)
        if shape.kind == "capsule":
            # Stretch the sphere's halves apart along local z into a capsule.
            for v in bm.verts:
                v.co.z += np.sign(v.co.z) * shape.length / 2.0
    roll, pitch, yaw = shape.rpy
    placement = Matrix.Translation(shape.origin) @ (
        Matrix.Rotation(yaw, 4, "Z") @ Matrix.Rotation(pitch, 4, "Y") @ Matrix.Rotation(roll, 4, "X")
    )
    bmesh.ops.transform(bm, matrix=placement, verts=bm.verts)
    return bm


def build_body_mesh(context: bpy.types.Context, armature: bpy.types.Object, skeleton: Skeleton | None = None) -> bpy.types.Object:
    """One mesh of the humanoid's collision shapes, rigidly skinned to the armature."""
    skeleton = skeleton or humanoid3d()
    heads_y_up = axes.from_blender_positions(rest_heads_blender(skeleton))
    mesh = bpy.data.meshes.new(f"{armature.name}_body")
    obj = bpy.data.objects.new(f"{armature.name}_body", mesh)
    context.collection.objects.link(obj)
    all_verts, all_faces, groups = [], [], []
    for i, body in enumerate(skeleton.bodies):
        bm = _shape_bmesh(body.shape)
        verts = np.array([v.co[:] for v in bm.verts]) + heads_y_up[i]
        offset = sum(len(v) for v in all_verts)
        all_faces += [[offset + v.index for v in f.verts] for f in bm.faces]
        all_verts.append(axes.to_blender_positions(verts))
        groups.append((body.name, range(offset, offset + len(verts))))
        bm.free()
    mesh.from_pydata(np.concatenate(all_verts).tolist(), [], all_faces)
    mesh.update()
    for name, indices in groups:
        obj.vertex_groups.new(name=name).add(list(indices), 1.0, "REPLACE")
    modifier = obj.modifiers.new("Armature", "ARMATURE")
    modifier.object = armature
    obj.parent = armature
    material = new_node_material(f"{armature.name}_skin")
    material.diffuse_color = BODY_COLOR
    material.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = BODY_COLOR
    mesh.materials.append(material)
    for polygon in mesh.polygons:
        polygon.use_smooth = True
    return obj


def build_humanoid(context: bpy.types.Context, name: str = "Backflip") -> tuple[bpy.types.Object, bpy.types.Object]:
    """Armature plus body mesh, ready to be keyed."""
    armature = build_armature(context, name)
    return armature, build_body_mesh(context, armature)

