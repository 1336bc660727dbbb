"""Mocap operators: a BVH in as a reference clip, every take of a baked stage out as FBX and BVH."""
from __future__ import annotations

from pathlib import Path

import bpy
from bpy_extras.io_utils import ImportHelper

from ..core.errors import InvalidInputError
from .report import run_reporting


class BACKFLIP_OT_import_bvh(bpy.types.Operator, ImportHelper):
    """Import mocap (BVH: CMU, SMPL-style or Mixamo names) as a humanoid3d reference clip the trainer accepts"""

    bl_idname = "backflip.import_bvh"
    bl_label = "Import BVH as Reference"
    bl_options = {"REGISTER", "UNDO"}

    filter_glob: bpy.props.StringProperty(default="*.bvh", options={"HIDDEN"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        from ..blender.mocap import import_bvh
        from ..core.clip import save_deepmimic

        def action() -> str:
            _, clip, unmapped = import_bvh(context, self.filepath)
            out = Path(self.filepath).with_suffix(".humanoid3d.txt")
            save_deepmimic(clip, out)
            context.scene.backflip.reference.clip_path = str(out)
            if unmapped:
                self.report({"WARNING"}, f"No bone found for {', '.join(unmapped)}: those joints stay at rest")
            return f"Converted {bpy.path.basename(self.filepath)} ({clip.num_frames} frames) to {out.name}"

        return run_reporting(self, action)


class BACKFLIP_OT_export_attempts(bpy.types.Operator):
    """Export every character with takes in the active collection: one FBX each (a take per attempt) and a BVH per take"""

    bl_idname = "backflip.export_attempts"
    bl_label = "Export Attempts (FBX + BVH)"

    directory: bpy.props.StringProperty(subtype="DIR_PATH")

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        from ..blender.mocap import export_collection

        def action() -> str:
            if not self.directory:
                raise InvalidInputError("no folder to export to", "pick a folder")
            files = export_collection(context, context.collection, self.directory)
            return f"Wrote {len(files)} file(s) to {self.directory}"

        return run_reporting(self, action)


CLASSES = (BACKFLIP_OT_import_bvh, BACKFLIP_OT_export_attempts)
