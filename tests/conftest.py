"""Shared fixtures: paths into the installed pybullet_data; the add-on registered in the real bpy wheel."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def pybullet_data_dir() -> Path:
    # The add-on's second environment (bpy 4.5, no pybullet) is pointed at the main one's data folder.
    if os.environ.get("BACKFLIP_PYBULLET_DATA"):
        return Path(os.environ["BACKFLIP_PYBULLET_DATA"])
    import pybullet_data

    return Path(pybullet_data.getDataPath())


@pytest.fixture(scope="session")
def motions_dir(pybullet_data_dir: Path) -> Path:
    return pybullet_data_dir / "data" / "motions"


@pytest.fixture(scope="session")
def backflip_clip_path(motions_dir: Path) -> Path:
    return motions_dir / "humanoid3d_backflip.txt"


@pytest.fixture(scope="session")
def standing_clip_path(motions_dir: Path, tmp_path_factory) -> Path:
    """40 frames standing still in the walk's first pose: a "balance" clip whose untrained policy's first
    check already lands ("stays up")."""
    from backflip_addon.core.clip import MotionClip, load_clip, save_deepmimic

    walk = load_clip(motions_dir / "humanoid3d_walk.txt")
    path = tmp_path_factory.mktemp("clips") / "stand.txt"
    save_deepmimic(MotionClip(np.repeat(walk.frames[:1], 40, axis=0), loop="none", name="stand"), path)
    return path


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


def read_png(path: Path) -> np.ndarray:
    """An image file as (H, W, 4) floats, rows bottom-up, read with Blender's own loader."""
    import bpy

    image = bpy.data.images.load(str(path))
    try:
        pixels = np.empty(image.size[0] * image.size[1] * 4, dtype=np.float32)
        image.pixels.foreach_get(pixels)
        return pixels.reshape(image.size[1], image.size[0], 4)
    finally:
        bpy.data.images.remove(image)
