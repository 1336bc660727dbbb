"""Follow the service's jobs from Blender: `poll_scene` is a plain function (tests call it; the bpy
wheel never fires timers), `timer` is what `bpy.app.timers` calls every POLL_S seconds.

A finished extract is keyed onto the scene's reference character, a finished rollout is baked, a
training's progress and stage list are refreshed. Errors end up in the panel's status line.
"""
from __future__ import annotations

import logging
from typing import Any

import bpy

from . import service_link
from .core.errors import BackflipError

log = logging.getLogger(__name__)
POLL_S = 1.0
_FINISHED = ("done", "failed", "cancelled")


def _failure(status: Any) -> str:
    error = getattr(status, "error", None)
    if error is None:
        return status.state.capitalize()
    return f"{error.message} ({error.hint})" if error.hint else error.message


def _undo_step(name: str) -> None:
    """Changes made from a timer belong to no operator's undo step: give them one, so that Ctrl+Z takes
    back this bake alone and not the user's edit before it as well."""
    try:
        bpy.ops.ed.undo_push(message=name)
    except RuntimeError as exc:  # the operator's poll failed: no undo stack in this context
        log.info("no undo step for %s: %s", name, exc)


def _key_reference(context: bpy.types.Context, clip_path: str) -> None:
    """Key an extracted clip onto the scene's character, or onto a new "Reference" one in its own collection."""
    from .blender import rig
    from .blender.scene_collections import ensure_collection, move_to
    from .core.clip import load_clip
    from .operators.reference import import_clip

    armature = context.scene.backflip.reference.armature
    if armature is None:
        load_clip(clip_path)  # a bad clip raises before the character is built
        armature, body = rig.build_humanoid(context, name="Reference")
        move_to((armature, body), ensure_collection(context.scene, "Reference"))
    import_clip(context, clip_path, armature)


def _apply_extract(context: bpy.types.Context, status: Any) -> None:
    settings = context.scene.backflip.reference
    settings.progress, settings.message = status.progress, status.message
    if status.state in _FINISHED:
        settings.job_id = ""
        if status.state == "done":
            _key_reference(context, status.result["clip"])
            warnings = status.result.get("warnings") or []
            for warning in warnings:
                log.warning("extraction: %s", warning)
            settings.message = f"Reference keyed. Check: {warnings[0]}" if warnings else "Reference keyed"
            _undo_step("Key Reference")
        else:
            settings.message = _failure(status)


def _apply_rollout(context: bpy.types.Context, status: Any) -> None:
    from .blender.stage_bake import bake_rollout

    bake = context.scene.backflip.bake
    bake.message = status.message
    if status.state in _FINISHED:
        bake.job_id = ""
        if status.state == "done":
            baked = bake_rollout(context, status.result["events"], bake.frame_start)
            bake.message = f"Baked {len(baked)} attempt(s)"
            _undo_step("Bake Stage to Scene")
        else:
            bake.message = _failure(status)


def _apply_training(context: bpy.types.Context, training_id: str) -> None:
    from .blender.stage_list import load_stages

    scene = context.scene.backflip
    record = service_link.training(training_id)
    training, progress = scene.training, record.progress
    training.state = record.state
    training.samples_done, training.jumps = progress.samples, progress.jumps
    training.jumps_per_hour = progress.jumps_per_hour or 0.0
    training.progress = progress.samples / progress.total_samples if progress.total_samples else 0.0
    training.normalised_return = progress.normalised_return or 0.0
    training.run_dir = record.run_dir
    if record.run_dir and progress.stages != len(scene.stages.entries):
        stages = load_stages(scene.stages, record.run_dir)
        training.latest_label = stages[-1].label if stages else ""
    if record.state in _FINISHED:
        training.message = "Finished" if record.state == "done" else _failure(record.job or record)


def poll_scene(context: bpy.types.Context) -> None:
    """One poll of every job the scene follows (one request for the job states, one per training)."""
    scene = context.scene.backflip
    followed = {scene.reference.job_id: "extract", scene.bake.job_id: "rollout"}
    followed.pop("", None)
    if (not followed and not scene.training.job_id) or service_link.unavailable_reason() is not None:
        return
    for status in service_link.poll(list(followed)) if followed else []:
        (_apply_extract if followed.get(status.id) == "extract" else _apply_rollout)(context, status)
    if scene.training.job_id:
        _apply_training(context, scene.training.job_id)


def timer() -> float:
    try:
        poll_scene(bpy.context)
    except BackflipError as exc:
        log.warning("polling the trainer service failed: %s", exc)
    return POLL_S


@bpy.app.handlers.persistent
def reconnect(*_args: Any) -> bool:
    """After a file is opened: reconnect to the service its jobs ran on (a training outlives Blender)."""
    from .preferences import trainer_settings

    if service_link.unavailable_reason() is None:
        return True
    return service_link.connect(trainer_settings(bpy.context).state_dir)


def register() -> None:
    bpy.app.timers.register(timer, first_interval=POLL_S, persistent=True)
    bpy.app.handlers.load_post.append(reconnect)


def unregister() -> None:
    if bpy.app.timers.is_registered(timer):
        bpy.app.timers.unregister(timer)
    if reconnect in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(reconnect)
