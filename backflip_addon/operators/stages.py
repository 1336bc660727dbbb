"""The stage browser: load a run's stages (no service needed) and jump to its landings."""
from __future__ import annotations

import bpy

from .report import run_reporting


class BACKFLIP_OT_load_stages(bpy.types.Operator):
    """List the learning stages of the training run folder (its stages.json)"""

    bl_idname = "backflip.load_stages"
    bl_label = "Load Stages"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        scene = context.scene.backflip
        if not (scene.stages.run_dir or scene.training.run_dir):
            cls.poll_message_set("Choose a training run folder first")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        from ..blender.stage_list import load_stages

        scene = context.scene.backflip
        run_dir = bpy.path.abspath(scene.stages.run_dir or scene.training.run_dir)

        def action() -> str:
            stages = load_stages(scene.stages, run_dir)
            landed = sum(s.landed for s in stages)
            return f"{len(stages)} stage(s), {landed} landed"

        return run_reporting(self, action)


class BACKFLIP_OT_select_landing(bpy.types.Operator):
    """Select the run's first or best landing in the stage list"""

    bl_idname = "backflip.select_landing"
    bl_label = "Select Landing"
    bl_options = {"REGISTER", "UNDO"}

    which: bpy.props.EnumProperty(
        name="Which",
        items=(("first landing", "First Landing", "The earliest stage that landed"),
               ("best landing", "Best Landing", "The landed stage with the highest return")),
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not any(item.marker for item in context.scene.backflip.stages.entries):
            cls.poll_message_set("No stage of this run has landed yet")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        stages = context.scene.backflip.stages
        for i, item in enumerate(stages.entries):
            if self.which in item.marker:
                stages.active = i
                return {"FINISHED"}
        self.report({"WARNING"}, f"No {self.which} in this run")
        return {"CANCELLED"}


CLASSES = (BACKFLIP_OT_load_stages, BACKFLIP_OT_select_landing)
