"""The main job on embedded defaults: reference clip → keyed humanoid in a projected set → shot.

Writes into --out: `backflip_reference.blend` (the keyed humanoid in a camera-projection-mapped
street set with a follow camera), `root_height.png` (the armature's evaluated root height per
frame, read back from Blender) and `shot/` (render_shot.py's PNG frames, shot.mp4, contact sheet).
"""
from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np

from .arguments import check_output_folder
from .paths import default_clip
from .rl.stages import StageEntry, first_hold, first_landing, read_index

REPO = Path(__file__).resolve().parents[1]
SET_PHOTO = REPO / "assets" / "set" / "street.png"
SHIPPED_STAGES = REPO / "assets" / "stages" / "backflip"
STAGE_OFFSET_M = 1.6  # the stage's character stands this far behind the reference (Blender +y)

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder")
    parser.add_argument("--clip", type=Path, default=None, help="reference clip (default: DeepMimic backflip)")
    parser.add_argument("--res", default="320x180", help="shot resolution WxH (pixels)")
    parser.add_argument("--samples", type=int, default=8, help="Cycles samples per pixel")
    parser.add_argument(
        "--stages", type=Path, default=SHIPPED_STAGES,
        help="a training run folder whose first landing that holds (else its first landing, else its latest"
             " stage) is keyed beside the reference (skipped if absent)",
    )


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


def shown_stage(entries: list[StageEntry]) -> StageEntry:
    """The stage the demo shows: the first landing that holds (the story's payoff), else the first landing
    (which falls over afterwards), else the latest stage."""
    return first_hold(entries) or first_landing(entries) or entries[-1]


def _key_stage(context, run_dir: Path):
    """Key a learning stage's rollout (see `shown_stage`) onto a second humanoid; None if the run has none."""
    from backflip_addon.blender import keys, rig
    from backflip_addon.core.clip import load_clip
    from backflip_addon.operators.reference import scene_fps

    entries = read_index(run_dir)
    if not entries:
        log.info("no learning stages in %s: the shot shows the reference only", run_dir)
        return None
    stage = shown_stage(entries)
    rollout = load_clip(stage.path(run_dir) / "rollout.txt")
    armature, _ = rig.build_humanoid(context, name=f"Stage {stage.index}")
    armature.location.y = STAGE_OFFSET_M
    keys.key_clip(
        armature, rollout, fps=scene_fps(context.scene), start_frame=context.scene.frame_start,
        action_name=f"Stage {stage.index} ({stage.label})",
    )
    context.scene.frame_end = max(context.scene.frame_end, context.scene.frame_start + round(rollout.duration * scene_fps(context.scene)))
    log.info("keyed stage %d (%s, %s samples) beside the reference", stage.index, stage.label, f"{stage.samples:,}")
    return armature


def _dress_set(context, armature) -> None:
    """A street photo projected onto a floor and a backdrop, a sun, and a camera following the root."""
    import bpy
    from mathutils import Euler, Vector

    from backflip_addon.blender import colliders, follow_camera, projection

    scene = context.scene
    photo = projection.load_photo(str(SET_PHOTO))
    scene.cursor.location = Vector((0.0, -9.0, 1.6))
    projector = projection.projector_from_photo(context, photo, lens=30.0, match_render=False)
    projector.rotation_euler = Euler((np.radians(84.0), 0.0, 0.0))
    context.view_layer.update()
    projection.add_background_plane(context, projector, distance=16.0)
    scene.cursor.location = Vector((0.0, 0.0, 0.0))
    floor = projection.add_projected_prop(context, projector, "PLANE", size=24.0, unlit=False)
    floor.name = "Floor"
    colliders.mark_collider(floor, "PLANE")
    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", type="SUN"))
    sun.data.energy = 3.0
    sun.rotation_euler = (np.radians(40), 0.0, np.radians(30))
    scene.collection.objects.link(sun)
    follow_camera.add_follow_camera(context, armature, offset=(0.0, -5.5, 0.4), damping=0.3, shake=0.5, seed=7)
    projection.use_standard_view(scene)


def run(args: argparse.Namespace) -> int:
    import bpy

    from backflip_addon.core.clip import load_clip
    from backflip_addon.operators.reference import import_clip, scene_fps
    from backflip_addon import properties, classes

    clip_path = args.clip or default_clip()
    load_clip(clip_path)  # fail early with the clip's own error
    out = Path(args.out)
    check_output_folder(out)
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

        _key_stage(bpy.context, args.stages)
        _dress_set(bpy.context, armature)
        blend = (out / "backflip_reference.blend").resolve()
        tmp = blend.with_suffix(".tmp.blend")
        bpy.ops.wm.save_as_mainfile(filepath=str(tmp), check_existing=False)
        tmp.replace(blend)  # the .blend appears only once complete
        print(f"wrote {blend}")
    finally:
        properties.unregister()
        classes.unregister()

    # render_shot.py is a script (Blender runs it with -P); run it as one, in a fresh bpy.
    command = [sys.executable, str(REPO / "render_shot.py"), "--blend", str(blend), "--out", str(out / "shot"),
               "--res", args.res, "--samples", str(args.samples)]
    return subprocess.run(command, check=False).returncode
