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


CLASSES = (BACKFLIP_PT_main,)
