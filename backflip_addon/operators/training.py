"""Training on the trainer service: start, pause, resume, cancel (progress via polling.py)."""
from __future__ import annotations

import bpy

from .. import service_link
from .report import run_reporting
from .service import ensure_service, service_ready

_ACTIVE = ("queued", "running", "paused")


def _start_poll(cls: type[bpy.types.Operator], context: bpy.types.Context) -> bool:
    training = context.scene.backflip.training
    if training.job_id and training.state in _ACTIVE:
        cls.poll_message_set(f"A training is {training.state}: pause, resume or cancel it")
        return False
    return service_ready(cls, context)


def _start(operator: bpy.types.Operator, context: bpy.types.Context, init_from: str | None = None) -> set[str]:
    scene = context.scene.backflip
    training = scene.training

    def action() -> str:
        ensure_service(context)
        minutes = training.minutes if training.budget == "MINUTES" else None
        samples = training.samples * 1e6 if training.budget == "SAMPLES" else None
        clip = bpy.path.abspath(scene.reference.clip_path) if scene.reference.clip_path else None
        training_id = service_link.submit_training(scene.reference.reference_id, clip, minutes, samples,
                                                   training.until_landing, init_from)
        training.job_id, training.state, training.progress, training.message = training_id, "queued", 0.0, "Queued"
        on = "the reference" if scene.reference.reference_id or clip else "the default backflip"
        start = f", starting from {init_from}" if init_from else ""
        return f"Training {training_id} started on {on}{start}"

    return run_reporting(operator, action)


class BACKFLIP_OT_train_start(bpy.types.Operator):
    """Train the character on the reference (or the default backflip) for the budget set below"""

    bl_idname = "backflip.train_start"
    bl_label = "Start Training"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _start_poll(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        return _start(self, context)


class BACKFLIP_OT_train_from_stage(bpy.types.Operator):
    """Train on the reference starting from the selected stage's policy rather than from scratch: a policy
    that already flips adapts to a new reference of the same skill in minutes"""

    bl_idname = "backflip.train_from_stage"
    bl_label = "Train From This Stage"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        from ..blender.stage_list import selected_stage

        if selected_stage(context.scene.backflip.stages) is None:
            cls.poll_message_set("Select a stage in the Stages panel first")
            return False
        return _start_poll(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        from ..blender.stage_list import selected_stage

        stage = selected_stage(context.scene.backflip.stages)
        return _start(self, context, bpy.path.abspath(stage.folder))


def _control_poll(cls: type[bpy.types.Operator], context: bpy.types.Context, states: tuple[str, ...]) -> bool:
    training = context.scene.backflip.training
    if not training.job_id or training.state not in states:
        cls.poll_message_set(f"No training that is {' or '.join(states)}")
        return False
    return service_ready(cls, context)


def _control(operator: bpy.types.Operator, context: bpy.types.Context, verb: str) -> set[str]:
    training = context.scene.backflip.training

    def action() -> str:
        ensure_service(context)
        service_link.control_training(training.job_id, verb)
        return f"Training {training.job_id}: {verb} sent"

    return run_reporting(operator, action)


class BACKFLIP_OT_train_pause(bpy.types.Operator):
    """Pause the training after its next checkpoint"""

    bl_idname = "backflip.train_pause"
    bl_label = "Pause"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _control_poll(cls, context, ("running",))

    def execute(self, context: bpy.types.Context) -> set[str]:
        return _control(self, context, "pause")


class BACKFLIP_OT_train_resume(bpy.types.Operator):
    """Resume the paused training from its last checkpoint"""

    bl_idname = "backflip.train_resume"
    bl_label = "Resume"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _control_poll(cls, context, ("paused",))

    def execute(self, context: bpy.types.Context) -> set[str]:
        return _control(self, context, "resume")


class BACKFLIP_OT_train_cancel(bpy.types.Operator):
    """Stop the training for good (its stages so far stay)"""

    bl_idname = "backflip.train_cancel"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _control_poll(cls, context, _ACTIVE)

    def execute(self, context: bpy.types.Context) -> set[str]:
        return _control(self, context, "cancel")


CLASSES = (BACKFLIP_OT_train_start, BACKFLIP_OT_train_from_stage, BACKFLIP_OT_train_pause, BACKFLIP_OT_train_resume,
           BACKFLIP_OT_train_cancel)
