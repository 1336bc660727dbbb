"""Sidebar panels (draw code only)."""
from __future__ import annotations

import bpy


class BACKFLIP_PT_main(bpy.types.Panel):
    bl_label = "Backflip"
    bl_idname = "BACKFLIP_PT_main"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Backflip"

    def draw(self, context: bpy.types.Context) -> None:
        settings = context.scene.backflip.reference
        col = self.layout.column()
        col.label(text="Reference", icon="ARMATURE_DATA")
        col.prop(settings, "armature")
        col.operator("backflip.import_clip", icon="IMPORT")
        if settings.clip_path:
            col.label(text=bpy.path.basename(settings.clip_path), icon="FILE")


class BACKFLIP_PT_set(bpy.types.Panel):
    bl_label = "Set"
    bl_idname = "BACKFLIP_PT_set"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Backflip"
    bl_parent_id = "BACKFLIP_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        col = layout.column(align=True)
        col.operator("backflip.projector_from_photo", icon="IMAGE_DATA")
        col.operator("backflip.add_projected_prop", icon="MOD_UVPROJECT")
        col.operator("backflip.add_projector_to_prop", icon="ADD")
        col.operator("backflip.sync_projector", icon="FILE_REFRESH")
        col.operator("backflip.bake_projection_to_uvs", icon="RENDER_STILL")
        obj = context.active_object
        if obj is not None and hasattr(obj, "backflip"):
            collider = obj.backflip.collider
            box = layout.box()
            box.prop(collider, "enabled", text=f"{obj.name} collides")
            if collider.enabled:
                box.prop(collider, "shape")
                box.prop(collider, "friction")
                box.prop(collider, "soft")
                if collider.soft:
                    box.prop(collider, "stiffness")
                    box.prop(collider, "damping")
        col = layout.column(align=True)
        col.operator("backflip.mark_collider", icon="MOD_PHYSICS")
        col.operator("backflip.add_follow_camera", icon="VIEW_CAMERA")
        if obj is not None and obj.type == "CAMERA" and obj.backflip.follow.target is not None:
            follow = obj.backflip.follow
            box = layout.box()
            for name in ("target", "offset", "aim_height", "damping", "shake", "seed"):
                box.prop(follow, name)
            box.operator("backflip.rekey_follow_camera", icon="FILE_REFRESH")


CLASSES = (BACKFLIP_PT_main, BACKFLIP_PT_set)
