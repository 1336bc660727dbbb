"""The main job on embedded defaults: reference clip → keyed humanoid in a new .blend (+ checks).

Writes into --out: `backflip_reference.blend`, `root_height.png` (the armature's evaluated root
height per frame, read back from Blender) and `frame_mid_flip.png` (a Cycles render).
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from .paths import default_clip

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder")
    parser.add_argument("--clip", type=Path, default=None, help="reference clip (default: DeepMimic backflip)")
    parser.add_argument("--res", type=int, default=256, help="size of the rendered check frame (pixels)")


def _evaluated_root_heights(scene, armature) -> np.ndarray:
    heights = []
    for frame in range(scene.frame_start, scene.frame_end + 1):
        scene.frame_set(frame)
        heights.append((armature.matrix_world @ armature.pose.bones["root"].head).z)
    return np.array(heights)


def _plot(heights: np.ndarray, fps: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3), dpi=100)
    ax.plot(np.arange(len(heights)) / fps, heights)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("root height (m)")
    ax.set_title("Keyed reference: root height read back from Blender")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _add_camera_and_light(bpy, scene, target) -> None:
    cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scene.collection.objects.link(cam)
    cam.location = (0.0, -5.5, 1.3)
    cam.rotation_euler = (np.radians(86), 0.0, 0.0)
    scene.camera = cam
    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", type="SUN"))
    sun.data.energy = 3.0
    sun.rotation_euler = (np.radians(40), 0.0, np.radians(30))
    scene.collection.objects.link(sun)
    bpy.ops.mesh.primitive_plane_add(size=20.0)
    world = bpy.data.worlds.new("World")
    world.color = (0.4, 0.45, 0.5)
    scene.world = world


def run(args: argparse.Namespace) -> int:
    import bpy

    from backflip_addon.core.clip import load_clip
    from backflip_addon.operators.reference import import_clip, scene_fps
    from backflip_addon import properties, classes

    clip_path = args.clip or default_clip()
    load_clip(clip_path)  # fail early with the clip's own error
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    bpy.ops.wm.read_factory_settings(use_empty=True)
    classes.register()
    properties.register()
    try:
        scene = bpy.context.scene
        scene.render.fps = 30
        scene.frame_start = 1
        scene.frame_end = 1
        armature = import_clip(bpy.context, str(clip_path))
        log.info("keyed %s onto %s: frames %d-%d", clip_path.name, armature.name, scene.frame_start, scene.frame_end)

        heights = _evaluated_root_heights(scene, armature)
        _plot(heights, scene_fps(scene), out / "root_height.png")
        log.info("root height %.2f-%.2f m; wrote %s", heights.min(), heights.max(), out / "root_height.png")

        _add_camera_and_light(bpy, scene, armature)
        scene.render.engine = "CYCLES"
        scene.cycles.device = "CPU"
        scene.cycles.samples = 16
        scene.render.resolution_x = scene.render.resolution_y = args.res
        scene.render.filepath = str((out / "frame_mid_flip.png").resolve())
        scene.frame_set((scene.frame_start + scene.frame_end) // 2)
        bpy.ops.render.render(write_still=True)
        log.info("rendered %s", out / "frame_mid_flip.png")

        blend = (out / "backflip_reference.blend").resolve()
        tmp = blend.with_suffix(".tmp.blend")
        bpy.ops.wm.save_as_mainfile(filepath=str(tmp), check_existing=False)
        tmp.replace(blend)  # the .blend appears only once complete
        print(f"wrote {blend}")
    finally:
        properties.unregister()
        classes.unregister()
    return 0
