"""Blender-side fixtures: the real bpy 5.0.1 wheel, the add-on registered once, an empty scene per test."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def addon():
    import backflip_addon

    backflip_addon.register()
    yield backflip_addon
    backflip_addon.unregister()


@pytest.fixture
def empty_scene(addon):
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps = 30
    scene.frame_start = 1
    scene.frame_end = 1
    return scene
