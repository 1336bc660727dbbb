"""render_shot.py end to end on a tiny scene: PNG frames, an mp4 that decodes, a contact sheet."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import read_png

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import render_shot  # noqa: E402  (a script at the repository root)


@pytest.fixture
def tiny_blend(tmp_path: Path) -> Path:
    """A cube sliding past a camera over frames 1-6, saved as a .blend (odd size: 65x33)."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=False)  # the default cube, camera and light
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 6
    scene.render.engine = "CYCLES"
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 65, 33, 100
    cube = bpy.data.objects["Cube"]
    cube.location = (-1.0, 0.0, 0.0)
    cube.keyframe_insert("location", frame=1)
    cube.location = (1.0, 0.0, 0.0)
    cube.keyframe_insert("location", frame=6)
    path = tmp_path / "tiny.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    yield path
    bpy.ops.wm.read_factory_settings(use_empty=True)


def test_renders_frames_video_and_contact_sheet(tiny_blend: Path, tmp_path: Path, capfd) -> None:
    import bpy

    out = tmp_path / "shot"
    code = render_shot.main(["--blend", str(tiny_blend), "--out", str(out), "--frames", "2-6", "--samples", "2"])
    assert code == 0
    printed = capfd.readouterr().out
    progress = [line for line in printed.split("\n") if "render_shot: frame" in line]
    assert len(progress) == 1, printed  # one line, rewritten in place per frame
    assert progress[0].count("\r") == 5 and "frame 6 (5/5)" in progress[0]
    assert "with CYCLES" in printed  # the scene's engine
    assert "Fra:" not in printed and "Saved:" not in printed, "Blender's per-frame messages are silenced"
    frames = sorted((out / "frames").glob("frame_*.png"))
    assert [f.name for f in frames] == [f"frame_{i:04d}.png" for i in range(2, 7)]
    first, last = read_png(frames[0]), read_png(frames[-1])
    assert first.shape == (33, 65, 4)
    assert np.abs(first - last).max() > 0.1  # the cube moved

    clip = bpy.data.movieclips.load(str(out / "shot.mp4"))
    assert clip.frame_duration == 5
    assert tuple(clip.size) == (66, 34)  # padded to even sides for H.264
    video = bpy.data.images.load(str(out / "shot.mp4"))
    assert video.source == "MOVIE"
    decoded = np.array(video.pixels[:], dtype=np.float32).reshape(34, 66, 4)
    # The first video frame is the first PNG (padding at the top and right), colours unchanged.
    assert np.abs(decoded[:33, :65, :3] - first[..., :3]).mean() < 0.02

    sheet = read_png(out / "contact_sheet.png")
    assert sheet.shape[:2] == (2 * 33 + 2, 3 * 65 + 2 * 2)  # 5 frames: 3 columns, 2 rows, 2 px gaps
    np.testing.assert_allclose(sheet[-33:, :65, :3], first[..., :3], atol=1 / 255)  # frame 2 top-left


def test_missing_blend_is_a_clear_error(tmp_path: Path, capsys) -> None:
    code = render_shot.main(["--blend", str(tmp_path / "nope.blend"), "--out", str(tmp_path / "out")])
    assert code == 2
    assert ".blend not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_empty_frame_range_is_a_clear_error(tiny_blend: Path, tmp_path: Path) -> None:
    options = render_shot.parse_args(["--blend", str(tiny_blend), "--out", str(tmp_path / "out"), "--frames", "5-3"])
    with pytest.raises(render_shot.ShotError, match="Empty frame range 5-3"):
        render_shot.render_shot(options)
    assert not (tmp_path / "out").exists()


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(SystemExit):
        render_shot.parse_args(["--out", "x", "--res", "64by64"])
    with pytest.raises(SystemExit):
        render_shot.parse_args(["--out", "x", "--engine", "LUXCORE"])
    with pytest.raises(SystemExit):
        render_shot.parse_args(["--out", "x", "--fps", "0"])
    options = render_shot.parse_args(["--out", "x", "--res", "64x48", "--frames", "7", "--engine", "eevee"])
    assert (options.resolution, options.frames, options.engine) == ((64, 48), (7, 7), "EEVEE")
    options = render_shot.parse_args(["--out", "x", "--size", "37x20", "--camera", "Cam", "--fps", "25"])
    assert (options.resolution, options.camera, options.fps, options.engine) == ((37, 20), "Cam", 25, None)


def test_camera_size_and_fps_are_the_shots(tiny_blend: Path, tmp_path: Path) -> None:
    import bpy

    bpy.ops.wm.open_mainfile(filepath=str(tiny_blend))
    side = bpy.data.objects.new("Side", bpy.data.cameras.new("Side"))
    bpy.context.scene.collection.objects.link(side)
    side.location = (0.0, -8.0, 0.0)
    side.rotation_euler = (np.radians(90.0), 0.0, 0.0)
    bpy.ops.wm.save_mainfile()
    default = render_shot.render_shot(render_shot.ShotOptions(out=tmp_path / "a", frames=(1, 1), samples=1,
                                                              video=False))
    shot = render_shot.render_shot(render_shot.ShotOptions(
        out=tmp_path / "b", blend=tiny_blend, frames=(1, 3), samples=1, camera="Side", resolution=(37, 20), fps=25))
    assert bpy.context.scene.camera.name == "Side" and bpy.context.scene.render.fps == 25
    assert read_png(shot.frames[0]).shape == (20, 37, 4)
    assert np.abs(read_png(shot.frames[0])[..., :3].mean() - read_png(default.frames[0])[..., :3].mean()) > 0.005
    clip = bpy.data.movieclips.load(str(shot.video))
    assert clip.fps == 25 and clip.frame_duration == 3
    with pytest.raises(render_shot.ShotError, match="No camera named 'Nope'") as error:
        render_shot.render_shot(render_shot.ShotOptions(out=tmp_path / "c", blend=tiny_blend, camera="Nope"))
    assert "Camera" in error.value.hint and "Side" in error.value.hint


def test_the_scenes_workbench_renders_or_falls_back_in_a_fresh_process(tiny_blend: Path, tmp_path: Path) -> None:
    """As a real command line, on a scene set to Workbench: Workbench where a GPU context exists, else Cycles
    with a message."""
    import bpy

    bpy.ops.wm.open_mainfile(filepath=str(tiny_blend))
    bpy.context.scene.render.engine = "BLENDER_WORKBENCH"
    bpy.ops.wm.save_mainfile()
    out = tmp_path / "wb"
    done = subprocess.run(
        [sys.executable, str(ROOT / "render_shot.py"), "--blend", str(tiny_blend), "--out", str(out),
         "--frames", "1-2", "--no-video"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "with WORKBENCH" in done.stdout or "rendering with Cycles on the CPU" in done.stdout
    assert len(list((out / "frames").glob("*.png"))) == 2 and (out / "contact_sheet.png").is_file()
    assert not (out / "shot.mp4").exists()
