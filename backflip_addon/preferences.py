"""Add-on preferences: where the trainer's Python lives and where jobs keep their files."""
from __future__ import annotations

import bpy


def addon_package() -> str:
    # The extension's package is the parent of backflip_addon (e.g. bl_ext.user_default.backflip).
    return __package__.rsplit(".", 1)[0] if "." in __package__ else __package__


class BACKFLIP_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = addon_package()

    trainer_python: bpy.props.StringProperty(
        name="Trainer Python",
        description="Python interpreter of the trainer's virtual environment (with torch, pybullet, mediapipe)",
        subtype="FILE_PATH",
        default="",
    )
    data_folder: bpy.props.StringProperty(
        name="Data Folder",
        description="Folder where training runs, stages and extracted clips are kept",
        subtype="DIR_PATH",
        default="",
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "trainer_python")
        layout.prop(self, "data_folder")


def get(context: bpy.types.Context) -> BACKFLIP_AP_preferences | None:
    addon = context.preferences.addons.get(addon_package())
    return addon.preferences if addon else None


CLASSES = (BACKFLIP_AP_preferences,)
