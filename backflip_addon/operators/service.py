"""The trainer service from Blender: start/stop it, set up its environment, and the poll shared by
every operator that needs it (greyed out, with the reason, while no service is running)."""
from __future__ import annotations

from pathlib import Path

import bpy

from .. import preferences, service_link, trainer_env
from .report import run_reporting

SETUP_POLL_S = 1.0


def service_ready(cls: type[bpy.types.Operator], context: bpy.types.Context) -> bool:
    """Poll helper: True when a service is connected or may be auto-started; else says why."""
    reason = service_link.unavailable_reason()
    if reason is not None and not preferences.trainer_settings(context).auto_start:
        cls.poll_message_set(reason)
        return False
    return True


def ensure_service(context: bpy.types.Context) -> None:
    """Connect (auto-start when the preferences allow it); raises ServiceUnavailableError otherwise."""
    if service_link.unavailable_reason() is None:
        return
    settings = preferences.trainer_settings(context)
    if settings.auto_start:
        service_link.start(settings.python, settings.state_dir)
    else:
        service_link.client()  # raises with the hint


class BACKFLIP_OT_service_start(bpy.types.Operator):
    """Start the trainer service with the Trainer Python (or reconnect to the one already running)"""

    bl_idname = "backflip.service_start"
    bl_label = "Start Trainer Service"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if service_link.unavailable_reason() is None:
            cls.poll_message_set("The trainer service is already running")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        settings = preferences.trainer_settings(context)

        def action() -> str:
            service_link.start(settings.python, settings.state_dir)
            return f"Trainer service {service_link.STATE.line().lower()}"

        return run_reporting(self, action)


class BACKFLIP_OT_service_stop(bpy.types.Operator):
    """Stop the trainer service (a running training is checkpointed and resumes on the next start)"""

    bl_idname = "backflip.service_stop"
    bl_label = "Stop Trainer Service"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        reason = service_link.unavailable_reason()
        if reason is not None:
            cls.poll_message_set(reason)
        return reason is None

    def execute(self, context: bpy.types.Context) -> set[str]:
        state_dir = preferences.trainer_settings(context).state_dir

        def action() -> str:
            service_link.stop(state_dir)
            return "Trainer service stopped"

        return run_reporting(self, action)


def poll_setup_timer() -> float | None:
    """Timer body: advance the set-up; when it is done, point Trainer Python at the new environment."""
    job = preferences.SETUP.job
    if job is None:
        return None
    trainer_env.poll_setup(job)
    if job.status == "running":
        return SETUP_POLL_S
    prefs = preferences.get(bpy.context)
    if job.status == "done" and prefs is not None:
        prefs.trainer_python = str(job.python)
    return None


class BACKFLIP_OT_setup_trainer_env(bpy.types.Operator):
    """Create the trainer's virtual environment from a Python 3.11 and install its pinned packages (in the background)"""

    bl_idname = "backflip.setup_trainer_env"
    bl_label = "Set Up Trainer Environment"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        job = preferences.SETUP.job
        if job is not None and job.status == "running":
            cls.poll_message_set(f"Set-up running: {job.line}")
            return False
        prefs = preferences.get(context)
        if prefs is None or not prefs.setup_python or not prefs.setup_folder:
            cls.poll_message_set("Choose a Python 3.11 and an empty environment folder first")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        prefs = preferences.get(context)
        state_dir = Path(preferences.trainer_settings(context).state_dir)

        def action() -> str:
            job = trainer_env.start_setup(
                bpy.path.abspath(prefs.setup_python), bpy.path.abspath(prefs.setup_folder),
                state_dir / "logs" / "setup_trainer_env.log", source=bpy.path.abspath(prefs.setup_source) if prefs.setup_source else "",
            )
            preferences.SETUP.job = job
            bpy.app.timers.register(poll_setup_timer, first_interval=SETUP_POLL_S)
            return f"Setting up the trainer environment (log: {job.log_path})"

        return run_reporting(self, action)


CLASSES = (BACKFLIP_OT_service_start, BACKFLIP_OT_service_stop, BACKFLIP_OT_setup_trainer_env)


def unregister() -> None:
    """Stop following a set-up still running (its subprocess finishes on its own; the log says how it ended)."""
    if bpy.app.timers.is_registered(poll_setup_timer):
        bpy.app.timers.unregister(poll_setup_timer)
