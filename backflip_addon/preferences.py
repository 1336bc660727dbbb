"""Add-on preferences: the trainer's Python, its state folder, the service status and the trainer set-up."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import bpy

from . import service_link, trainer_env

ADDON_ROOT = Path(__file__).resolve().parent


def addon_package() -> str:
    # The extension's package is the parent of backflip_addon (e.g. bl_ext.user_default.backflip).
    package = __package__ or ""
    return package.rsplit(".", 1)[0] if "." in package else package


def default_state_dir() -> str:
    """The service's default state folder (same rule as `python -m trainer_service serve`)."""
    return os.environ.get("BACKFLIP_STATE_DIR") or str(Path.home() / ".local" / "share" / "backflip")


class BACKFLIP_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = addon_package()

    trainer_python: bpy.props.StringProperty(
        name="Trainer Python",
        description="Python of the trainer's virtual environment (torch, pybullet, mediapipe); "
        "empty: the .venv of the checkout the add-on comes from, when there is one",
        subtype="FILE_PATH",
        default="",
    )
    state_folder: bpy.props.StringProperty(
        name="State Folder",
        description="Where the trainer service keeps its jobs, runs, stages and extracted clips "
        "(empty: $BACKFLIP_STATE_DIR or ~/.local/share/backflip)",
        subtype="DIR_PATH",
        default="",
    )
    auto_start: bpy.props.BoolProperty(
        name="Auto-start Service", description="Start the trainer service when a service operator needs it", default=False
    )
    setup_python: bpy.props.StringProperty(
        name="Python 3.11", description="Python 3.11 interpreter the trainer's environment is created from", subtype="FILE_PATH",
        default="",
    )
    setup_folder: bpy.props.StringProperty(
        name="Environment Folder", description="Empty folder for the trainer's new virtual environment", subtype="DIR_PATH",
        default="",
    )
    setup_source: bpy.props.StringProperty(
        name="Trainer Source", description="Backflip checkout holding trainer_service (installed into the environment)",
        subtype="DIR_PATH", default="",
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "trainer_python")
        if not self.trainer_python:
            layout.label(text=f"Using: {trainer_settings(context).python or 'none found'}", icon="INFO")
        layout.prop(self, "state_folder")
        layout.prop(self, "auto_start")
        row = layout.row()
        row.label(text=f"Service: {service_link.STATE.line()}", icon="LINKED" if service_link.STATE.status == "running" else "UNLINKED")
        row.operator("backflip.service_start", text="Start")
        row.operator("backflip.service_stop", text="Stop")
        box = layout.box()
        box.label(text="Set Up Trainer Environment", icon="CONSOLE")
        box.prop(self, "setup_python")
        box.prop(self, "setup_folder")
        box.prop(self, "setup_source")
        box.operator("backflip.setup_trainer_env")
        job = SETUP.job
        if job is not None:
            box.label(text=job.line, icon="ERROR" if job.status == "failed" else "INFO")
            box.label(text=f"Log: {job.log_path}")


@dataclass
class TrainerSettings:
    python: str
    state_dir: str
    auto_start: bool


def trainer_settings(context: bpy.types.Context) -> TrainerSettings:
    """The preferences with their defaults filled in (also when the add-on runs without preferences, as in tests)."""
    prefs = get(context)
    python = getattr(prefs, "trainer_python", "") or trainer_env.default_trainer_python(ADDON_ROOT)
    state_dir = getattr(prefs, "state_folder", "") or default_state_dir()
    return TrainerSettings(bpy.path.abspath(python), bpy.path.abspath(state_dir), bool(getattr(prefs, "auto_start", False)))


@dataclass
class _SetupHolder:
    """The one set-up job of this Blender session (a subprocess: not saved in any file)."""

    job: trainer_env.SetupJob | None = None


SETUP = _SetupHolder()


def get(context: bpy.types.Context) -> BACKFLIP_AP_preferences | None:
    addon = context.preferences.addons.get(addon_package())
    return addon.preferences if addon else None  # type: ignore[return-value]


CLASSES = (BACKFLIP_AP_preferences,)
