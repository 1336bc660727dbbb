"""Bake Stage to Scene: a rollout of the selected stage in the scene's colliders (a service job,
baked by polling.py when done), or a rollout file already on disk (no service needed)."""
from __future__ import annotations

import math

import bpy
from bpy_extras.io_utils import ImportHelper

from .. import service_link
from ..core.errors import InvalidInputError
from .report import run_reporting
from .service import ensure_service, service_ready

PLAIN_FLOOR = [{"kind": "plane"}]


def start_pose(context: bpy.types.Context) -> tuple[float, float, float]:
    """(x, y, heading in degrees) where the rollout starts: the 3D cursor, or the chosen empty."""
    bake = context.scene.backflip.bake
    if bake.start == "EMPTY":
        if bake.start_empty is None:
            raise InvalidInputError("Start is set to an empty, but none is chosen", "pick the start empty, or start at the 3D cursor")
        matrix = bake.start_empty.matrix_world
        return matrix.translation.x, matrix.translation.y, math.degrees(matrix.to_euler().z)
    cursor = context.scene.cursor.location
    return cursor.x, cursor.y, 0.0


class BACKFLIP_OT_bake_stage(bpy.types.Operator):
    """Simulate the selected stage in this scene's colliders and key each attempt onto its own new character"""

    bl_idname = "backflip.bake_stage"
    bl_label = "Bake Stage to Scene"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        from ..blender.stage_list import selected_stage

        scene = context.scene.backflip
        if scene.bake.job_id:
            cls.poll_message_set("A rollout is running: it is baked when it finishes")
            return False
        if selected_stage(scene.stages) is None:
            cls.poll_message_set("Select a stage in the Stages panel first")
            return False
        return service_ready(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        from ..blender.colliders import scene_colliders
        from ..blender.keys import scene_fps
        from ..blender.stage_list import selected_stage

        scene = context.scene
        bake = scene.backflip.bake
        stage = selected_stage(scene.backflip.stages)

        def action() -> str:
            start = start_pose(context)
            colliders = scene_colliders(scene) or PLAIN_FLOOR
            ensure_service(context)
            training = scene.backflip.training
            from_service = training.job_id and training.run_dir and scene.backflip.stages.run_dir == training.run_dir
            named = (training.job_id, stage.index) if from_service else stage.folder
            seed, perturb = (stage.rollout_seed, stage.rollout_perturb) if bake.stage_attempt else (bake.seed, bake.perturb)
            # Blender keeps the noise in single precision: 0.05 reads 0.0500000007, which is not the trainer's 0.05.
            bake.job_id = service_link.submit_rollout(
                named, colliders, attempts=bake.attempts, perturb=round(perturb, 6), seed=seed, start=start,
                fps=scene_fps(scene),
            )
            bake.message = "Rollout queued"
            return f"Stage {stage.index}: rollout of {bake.attempts} attempt(s) in {len(colliders)} collider(s) (job {bake.job_id})"

        return run_reporting(self, action)


class BACKFLIP_OT_bake_rollout_file(bpy.types.Operator, ImportHelper):
    """Bake a rollout made on the command line (its OUT.events.json) into the scene"""

    bl_idname = "backflip.bake_rollout_file"
    bl_label = "Bake Rollout File"
    bl_options = {"REGISTER", "UNDO"}

    filter_glob: bpy.props.StringProperty(default="*.events.json", options={"HIDDEN"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        from ..blender.keys import key_count
        from ..blender.stage_bake import bake_rollout

        def action() -> str:
            baked = bake_rollout(context, self.filepath, context.scene.backflip.bake.frame_start)
            counts = ", ".join(f"{b.action.name} ({key_count(b.action)} keys)" for b in baked)
            return f"Baked {len(baked)} attempt(s): {counts}"

        return run_reporting(self, action)


CLASSES = (BACKFLIP_OT_bake_stage, BACKFLIP_OT_bake_rollout_file)
