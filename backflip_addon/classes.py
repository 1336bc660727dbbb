"""Every bpy class of the add-on, registered in one place and in dependency order."""
from __future__ import annotations

import bpy

from . import preferences, properties
from .operators import bake, mocap, reference, retarget, service, stages, training, video
from .operators import set as set_ops
from .ui import panels

CLASSES: tuple[type, ...] = (
    *preferences.CLASSES,
    *properties.CLASSES,
    *reference.CLASSES,
    *video.CLASSES,
    *service.CLASSES,
    *training.CLASSES,
    *stages.CLASSES,
    *bake.CLASSES,
    *retarget.CLASSES,
    *mocap.CLASSES,
    *set_ops.CLASSES,
    *panels.CLASSES,
)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
