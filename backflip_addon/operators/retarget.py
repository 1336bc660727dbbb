"""Retarget operators: fill the bone map (auto or a preset) and key a clip onto the Target Rig."""
from __future__ import annotations

import bpy
from bpy_extras.io_utils import ImportHelper

from ..core.errors import InvalidInputError
from .report import run_reporting


def _preset_items(_self, _context) -> list[tuple[str, str, str]]:
    from ..core.bone_maps import load_preset, preset_names

    return [(name, load_preset(name).label, f"Bone names of {load_preset(name).label}") for name in preset_names()]


def _target(context: bpy.types.Context) -> bpy.types.Object:
    rig = context.scene.backflip.bake.target_rig
    if rig is None:
        raise InvalidInputError("no Target Rig is set", "pick your character's armature as Target Rig in the Bake panel")
    return rig


class BACKFLIP_OT_auto_map(bpy.types.Operator):
    """Fill the bone map from the Target Rig's bone names (presets, then common names)"""

    bl_idname = "backflip.auto_map"
    bl_label = "Auto-Map Bones"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        from ..blender.retarget import set_scene_bone_map
        from ..core.bone_maps import auto_map

        def action() -> str:
            rig = _target(context)
            found = auto_map([b.name for b in rig.data.bones])
            set_scene_bone_map(context.scene, found.bones)
            source = found.preset or "common names"
            if found.unmapped:
                self.report({"WARNING"}, f"Unmapped joints: {', '.join(found.unmapped)}: pick their bones by hand")
            return f"Mapped {len(found.bones)} of {len(found.bones) + len(found.unmapped)} joints onto {rig.name} ({source})"

        return run_reporting(self, action)


class BACKFLIP_OT_bone_map_preset(bpy.types.Operator):
    """Fill the bone map from a shipped preset"""

    bl_idname = "backflip.bone_map_preset"
    bl_label = "Bone Map Preset"
    bl_options = {"REGISTER", "UNDO"}

    preset: bpy.props.EnumProperty(name="Preset", items=_preset_items)

    def execute(self, context: bpy.types.Context) -> set[str]:
        from ..blender.retarget import set_scene_bone_map
        from ..core.bone_maps import load_preset

        def action() -> str:
            preset = load_preset(self.preset)
            set_scene_bone_map(context.scene, preset.bones)
            return f"Bone map: {preset.label}"

        return run_reporting(self, action)


class BACKFLIP_OT_retarget(bpy.types.Operator, ImportHelper):
    """Key a DeepMimic clip onto the Target Rig through the bone map, as a new take"""

    bl_idname = "backflip.retarget"
    bl_label = "Retarget Clip"
    bl_options = {"REGISTER", "UNDO"}

    filter_glob: bpy.props.StringProperty(default="*.txt;*.json;*.npz", options={"HIDDEN"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        from ..blender.keys import key_count, scene_fps, scene_key_options
        from ..blender.retarget import retarget_clip, scene_bone_map, scene_root_motion
        from ..core.clip import load_clip

        def action() -> str:
            rig = _target(context)
            clip = load_clip(self.filepath)
            scene = context.scene
            taken, _ = retarget_clip(rig, clip, scene_bone_map(scene), fps=scene_fps(scene), start_frame=scene.frame_start,
                                     options=scene_key_options(scene), **scene_root_motion(scene))
            frames = taken.frame_range[1] - taken.frame_range[0] + 1
            scene.frame_end = max(scene.frame_end, scene.frame_start + round(frames) - 1)
            return f"Retargeted {bpy.path.basename(self.filepath)} onto {rig.name} ({key_count(taken)} keys)"

        return run_reporting(self, action)


CLASSES = (BACKFLIP_OT_auto_map, BACKFLIP_OT_bone_map_preset, BACKFLIP_OT_retarget)
