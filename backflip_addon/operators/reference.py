"""Reference clip operators: bring a DeepMimic clip into the scene on the humanoid armature."""
from __future__ import annotations

import logging

import bpy
from bpy_extras.io_utils import ImportHelper

from ..blender.keys import scene_fps
from ..core.errors import BackflipError, InvalidInputError
from .video import VIDEO_SUFFIXES

logger = logging.getLogger(__name__)


def import_clip(context: bpy.types.Context, path: str, armature: bpy.types.Object | None = None) -> bpy.types.Object:
    """Load a clip and key it onto `armature` (a new humanoid if None); returns the armature.

    On any error the scene is left as it was: nothing added stays, no setting is changed."""
    from ..blender import keys, rig
    from ..blender.retarget import key_clip
    from ..blender.rollback import removed_on_error
    from ..core.clip import load_clip

    if path.lower().endswith(VIDEO_SUFFIXES):
        raise InvalidInputError(f"{bpy.path.basename(path)} is a video, not a motion clip", "use Import Video in the Reference panel")
    clip = load_clip(path)  # raises before anything is added to the scene
    if armature is not None:
        rig.require_character(armature)
    with removed_on_error():
        if armature is None:
            armature, _ = rig.build_humanoid(context, name="Backflip")
        action = key_clip(
            armature, clip, fps=scene_fps(context.scene), start_frame=context.scene.frame_start,
            options=keys.scene_key_options(context.scene),
        )
    frames = action.frame_range[1] - action.frame_range[0] + 1
    context.scene.frame_end = max(context.scene.frame_end, context.scene.frame_start + round(frames) - 1)
    settings = context.scene.backflip.reference
    settings.clip_path = path
    settings.armature = armature
    return armature


class BACKFLIP_OT_import_clip(bpy.types.Operator, ImportHelper):
    """Key a DeepMimic motion clip (.txt or .npz) onto the Backflip humanoid"""

    bl_idname = "backflip.import_clip"
    bl_label = "Import Reference Clip"
    bl_options = {"REGISTER", "UNDO"}

    filter_glob: bpy.props.StringProperty(default="*.txt;*.json;*.npz", options={"HIDDEN"})
    use_existing: bpy.props.BoolProperty(
        name="Use Scene Character",
        description="Key the scene's Backflip character instead of building a new one",
        default=True,
    )

    def execute(self, context: bpy.types.Context) -> set[str]:
        existing = context.scene.backflip.reference.armature if self.use_existing else None
        try:
            armature = import_clip(context, self.filepath, existing)
        except BackflipError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        except Exception as exc:  # a bug or an odd file must not leave a traceback (and a half-built scene)
            logger.exception("importing %s failed", self.filepath)
            self.report({"ERROR"}, f"Could not import {bpy.path.basename(self.filepath)}: {type(exc).__name__}: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Keyed {bpy.path.basename(self.filepath)} onto {armature.name}")
        return {"FINISHED"}


CLASSES = (BACKFLIP_OT_import_clip,)
