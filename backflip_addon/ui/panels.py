"""Sidebar panels (View3D › Sidebar › Backflip), one per step of the loop; draw code only."""
from __future__ import annotations

import math
import os
import textwrap

import bpy

from .. import service_link
from . import previews


MESSAGE_WIDTH = 44
"""Characters per line of a panel message: a label is one line, and a warning is a sentence or two."""


def draw_message(layout: bpy.types.UILayout, text: str, icon: str = "INFO") -> None:
    """A message over as many labels as it needs, the icon on the first."""
    column = layout.column(align=True)
    for i, line in enumerate(textwrap.wrap(text, MESSAGE_WIDTH) or [text]):
        column.label(text=line, icon=icon if i == 0 else "BLANK1")


class _Panel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Backflip"


class _Step(_Panel):
    bl_parent_id = "BACKFLIP_PT_main"


class BACKFLIP_PT_main(_Panel, bpy.types.Panel):
    bl_label = "Backflip"
    bl_idname = "BACKFLIP_PT_main"

    def draw(self, context: bpy.types.Context) -> None:
        state = service_link.STATE
        icon = "LINKED" if state.status == "running" else "ERROR" if state.status == "error" else "UNLINKED"
        row = self.layout.row()
        row.label(text=f"Trainer service: {state.line()}", icon=icon)
        if state.status == "running":
            row.operator("backflip.service_stop", text="", icon="PAUSE")
        else:
            row.operator("backflip.service_start", text="", icon="PLAY")


class BACKFLIP_PT_reference(_Step, bpy.types.Panel):
    bl_label = "Reference"
    bl_idname = "BACKFLIP_PT_reference"

    def draw(self, context: bpy.types.Context) -> None:
        settings = context.scene.backflip.reference
        col = self.layout.column()
        col.prop(settings, "armature")
        box = col.box()
        box.label(text="Import Video", icon="FILE_MOVIE")
        box.prop(settings, "video_path", text="")
        row = box.row(align=True)
        row.prop(settings, "trim_in")
        row.prop(settings, "trim_out")
        if settings.job_id:
            box.progress(factor=settings.progress, text=settings.message or "Extracting")
            box.operator("backflip.cancel_extract", icon="CANCEL")
        else:
            box.operator("backflip.import_video", icon="IMPORT")
            if settings.message:
                draw_message(box, settings.message)
        col.operator("backflip.import_clip", icon="IMPORT")
        col.operator("backflip.import_bvh", icon="IMPORT")
        if settings.clip_path:
            col.label(text=bpy.path.basename(settings.clip_path), icon="FILE")


class BACKFLIP_PT_training(_Step, bpy.types.Panel):
    bl_label = "Training"
    bl_idname = "BACKFLIP_PT_training"

    def draw(self, context: bpy.types.Context) -> None:
        training = context.scene.backflip.training
        layout = self.layout
        layout.row().prop(training, "budget", expand=True)
        layout.prop(training, "minutes" if training.budget == "MINUTES" else "samples")
        layout.prop(training, "until_landing")
        layout.operator("backflip.train_start", icon="PLAY")
        row = layout.row(align=True)
        row.operator("backflip.train_pause", icon="PAUSE")
        row.operator("backflip.train_resume", icon="PLAY")
        row.operator("backflip.train_cancel", icon="CANCEL")
        if not training.job_id:
            return
        layout.progress(factor=training.progress, text=f"{training.state or 'queued'} · {training.progress:.0%}")
        col = layout.column(align=True)
        col.label(text=f"Samples: {training.samples_done:,}")
        col.label(text=f"Jumps tried: {training.jumps:,} ({training.jumps_per_hour:,.0f} per hour)")
        col.label(text=f"Normalised return: {training.normalised_return:.3f}")
        col.label(text=f"Latest stage: {training.latest_label or '—'}")
        if training.message:
            draw_message(col, training.message)
        curve = os.path.join(training.run_dir, "learning_curve.png") if training.run_dir else ""
        if curve and os.path.isfile(curve):
            layout.template_icon(icon_value=previews.icon(curve), scale=8.0)


class BACKFLIP_UL_stages(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_property, index=0, flt_flag=0) -> None:
        row = layout.row(align=True)
        row.label(text=f"{item.index}", icon="CHECKMARK" if item.landed else "BLANK1")
        row.label(text=item.label or "—")
        row.label(text=f"{item.samples / 1e6:.2f}M")
        row.label(text="—" if math.isnan(item.normalised_return) else f"{item.normalised_return:.2f}")
        row.label(text="—" if math.isnan(item.rotation_deg) else f"{item.rotation_deg:.0f}°")
        if item.marker:
            row.label(text="", icon="SOLO_ON")


class BACKFLIP_PT_stages(_Step, bpy.types.Panel):
    bl_label = "Stages"
    bl_idname = "BACKFLIP_PT_stages"

    def draw(self, context: bpy.types.Context) -> None:
        from ..blender.stage_list import selected_stage

        stages = context.scene.backflip.stages
        layout = self.layout
        row = layout.row(align=True)
        row.prop(stages, "run_dir", text="")
        row.operator("backflip.load_stages", text="", icon="FILE_REFRESH")
        if not len(stages.entries):
            layout.label(text="No stages: load a run, or train", icon="INFO")
            return
        layout.template_list("BACKFLIP_UL_stages", "", stages, "entries", stages, "active", rows=5)
        row = layout.row(align=True)
        row.operator("backflip.select_landing", text="First Landing").which = "first landing"
        row.operator("backflip.select_landing", text="Best Landing").which = "best landing"
        stage = selected_stage(stages)
        if stage is None:
            return
        layout.label(text=f"Stage {stage.index}: {stage.label}" + (f" ({stage.marker})" if stage.marker else ""))
        preview = os.path.join(stage.folder, "preview.png")
        if os.path.isfile(preview):
            layout.template_icon(icon_value=previews.icon(preview), scale=8.0)
        else:
            layout.label(text="No preview for this stage", icon="IMAGE")
        layout.operator("backflip.train_from_stage", icon="PLAY")


class BACKFLIP_PT_bake(_Step, bpy.types.Panel):
    bl_label = "Bake"
    bl_idname = "BACKFLIP_PT_bake"

    def draw(self, context: bpy.types.Context) -> None:
        bake = context.scene.backflip.bake
        col = self.layout.column()
        col.prop(bake, "attempts")
        col.prop(bake, "stage_attempt")
        own = col.column()
        own.active = not bake.stage_attempt
        own.prop(bake, "perturb")
        own.prop(bake, "seed")
        col.row().prop(bake, "start", expand=True)
        if bake.start == "EMPTY":
            col.prop(bake, "start_empty")
        col.prop(bake, "frame_start")
        keys = col.box().column()
        keys.prop(bake, "rotation_mode")
        keys.prop(bake, "interpolation")
        keys.prop(bake, "reduce_keys")
        if bake.reduce_keys:
            keys.prop(bake, "tolerance_deg")
            keys.prop(bake, "tolerance_mm")
        rig = col.box().column()
        rig.prop(bake, "target_rig")
        if bake.target_rig is not None:
            row = rig.row(align=True)
            row.operator("backflip.auto_map", icon="BONE_DATA")
            row.operator_menu_enum("backflip.bone_map_preset", "preset", text="Preset")
            for pair in bake.bone_map:
                rig.prop_search(pair, "target", bake.target_rig.data, "bones", text=pair.source)
        # The default character has the same options; its ground bone is its own "root".
        rig.prop(bake, "foot_lock")
        rig.prop(bake, "root_motion")
        if bake.root_motion == "BONE" and bake.target_rig is not None:
            rig.prop_search(bake, "ground_bone", bake.target_rig.data, "bones")
        rig.prop(bake, "in_place")
        if bake.target_rig is not None:
            rig.operator("backflip.retarget", icon="ARMATURE_DATA")
        col.operator("backflip.bake_stage", icon="ARMATURE_DATA")
        if bake.message:
            draw_message(col, bake.message)
        col.operator("backflip.bake_rollout_file", icon="IMPORT")
        col.operator("backflip.export_attempts", icon="EXPORT")


class BACKFLIP_PT_set(_Step, bpy.types.Panel):
    bl_label = "Set"
    bl_idname = "BACKFLIP_PT_set"
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
        if obj is not None and obj.type == "MESH":
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


CLASSES = (
    BACKFLIP_PT_main, BACKFLIP_PT_reference, BACKFLIP_PT_training, BACKFLIP_UL_stages, BACKFLIP_PT_stages,
    BACKFLIP_PT_bake, BACKFLIP_PT_set,
)
