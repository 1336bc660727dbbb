"""Render a shot headless: a PNG sequence, an mp4 and a contact sheet.

    blender -b scene.blend -P render_shot.py -- --out DIR [--camera NAME] [--frames A-B] [--size WxH]
                                                [--fps F] [--engine CYCLES|EEVEE|WORKBENCH] [--samples N]
    python render_shot.py --blend scene.blend --out DIR ...        (with the bpy wheel)

The scene's own render engine is used unless --engine says otherwise. EEVEE and Workbench need a
GPU context (EGL); without one Blender aborts the whole process, so they are first tried in a
throwaway subprocess and the shot falls back to Cycles on the CPU, saying so, when that fails.
Progress is one updating line; Blender's own per-frame messages are silenced. Output in DIR:
frames/frame_NNNN.png, shot.mp4 (H.264, the scene's frame rate or --fps) and contact_sheet.png.

Self-contained on purpose (bpy, numpy and the standard library only): it runs in a bare Blender.
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, TextIO

ENGINES = {"CYCLES": "CYCLES", "EEVEE": "BLENDER_EEVEE", "WORKBENCH": "BLENDER_WORKBENCH"}
# Blender 4.2-4.5 call EEVEE "BLENDER_EEVEE_NEXT"; 5.0 calls it "BLENDER_EEVEE" again.
SCENE_ENGINES = {"CYCLES": "CYCLES", "BLENDER_EEVEE": "EEVEE", "BLENDER_EEVEE_NEXT": "EEVEE",
                 "BLENDER_WORKBENCH": "WORKBENCH"}
SHEET_MAX_CELLS = 16
SHEET_MAX_WIDTH = 2048  # px
GPU_PROBE_TIMEOUT = 120  # s


class ShotError(Exception):
    """A shot that cannot be rendered as asked; `hint` says what to change."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.args[0]} (hint: {self.hint})" if self.hint else self.args[0]


@dataclass(frozen=True)
class ShotOptions:
    out: Path
    """Output folder (created)."""
    blend: Path | None = None
    """.blend to open; None renders the file Blender already has open (blender -b file -P ...)."""
    frames: tuple[int, int] | None = None
    """Inclusive frame range; None uses the scene's."""
    resolution: tuple[int, int] | None = None
    """Width, height in px; None keeps the scene's (times its percentage)."""
    engine: str | None = None
    """CYCLES, EEVEE or WORKBENCH; None uses the scene's engine."""
    camera: str | None = None
    """Name of the camera object to render through; None keeps the scene camera."""
    fps: int | None = None
    """Frame rate of the shot (the scene's and the mp4's); None keeps the scene's. Keys are not re-timed."""
    samples: int | None = None
    """Render samples (Cycles, EEVEE); None keeps the scene's."""
    video: bool = True
    """Also encode shot.mp4."""


@dataclass(frozen=True)
class ShotResult:
    frames: list[Path]
    video: Path | None
    contact_sheet: Path
    engine: str
    seconds_per_frame: float


# ---------------------------------------------------------------------------------------------
# Command line


def _frame_range(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame range like 1-48 or 12")
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) is not None else first
    return first, last


def _resolution(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match or int(match.group(1)) < 4 or int(match.group(2)) < 4:
        raise argparse.ArgumentTypeError(f"{text!r} is not a resolution like 640x360 (at least 4x4)")
    return int(match.group(1)), int(match.group(2))


def parse_args(argv: list[str]) -> ShotOptions:
    parser = argparse.ArgumentParser(prog="render_shot.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--blend", type=Path, help=".blend file to render (required outside Blender)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--frames", type=_frame_range, help="frame range A-B (inclusive) or a single frame")
    parser.add_argument("--size", "--res", dest="size", type=_resolution, help="resolution WxH in pixels")
    parser.add_argument("--camera", help="camera object to render through (default: the scene camera)")
    parser.add_argument("--fps", type=int, help="frame rate of the shot (default: the scene's)")
    parser.add_argument("--engine", type=str.upper, choices=sorted(ENGINES), help="default: the scene's engine")
    parser.add_argument("--samples", type=int, help="render samples")
    parser.add_argument("--no-video", action="store_true", help="skip the mp4")
    args = parser.parse_args(argv)
    if args.samples is not None and args.samples < 1:
        parser.error("--samples must be at least 1")
    if args.fps is not None and not 1 <= args.fps <= 240:
        parser.error("--fps must be between 1 and 240")
    return ShotOptions(
        out=args.out,
        blend=args.blend,
        frames=args.frames,
        resolution=args.size,
        engine=args.engine,
        camera=args.camera,
        fps=args.fps,
        samples=args.samples,
        video=not args.no_video,
    )


def script_argv() -> list[str]:
    """Our arguments: after `--` under `blender -P`, else everything after the script name."""
    return sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:]


# ---------------------------------------------------------------------------------------------
# Scene set-up


def inside_blender() -> bool:
    """True in the Blender executable, False in the bpy wheel (which has no binary)."""
    import bpy

    return bool(bpy.app.binary_path)


def open_blend(path: Path | None) -> None:
    import bpy

    if path is None:
        if bpy.data.filepath:
            return
        raise ShotError("No .blend to render", hint="Pass --blend scene.blend (or run blender -b scene.blend -P ...)")
    if not path.is_file():
        raise ShotError(f".blend not found: {path}", hint="Check the path of --blend")
    try:
        bpy.ops.wm.open_mainfile(filepath=str(path.resolve()))
    except RuntimeError as exc:  # Blender's own message names the problem (not a .blend, truncated, ...)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "unknown error"
        raise ShotError(f"Cannot open {path}: {reason}", hint="Pass a .blend saved by Blender") from exc


def gpu_context_available() -> bool:
    """Whether EEVEE/Workbench can render here, tried in a subprocess because failure aborts."""
    import bpy

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "probe.png"
        code = (
            "import bpy; s = bpy.context.scene; s.render.engine = 'BLENDER_WORKBENCH'; "
            "s.render.resolution_x = s.render.resolution_y = 8; "
            f"s.render.filepath = {str(target)!r}; bpy.ops.render.render(write_still=True)"
        )
        if inside_blender():
            command = [bpy.app.binary_path, "-b", "--factory-startup", "--python-expr", code]
        else:
            command = [sys.executable, "-c", code]
        try:
            done = subprocess.run(command, capture_output=True, timeout=GPU_PROBE_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0 and target.is_file()


def choose_engine(requested: str | None, scene_engine: str) -> str:
    """`requested`, else the scene's engine; Cycles when that one cannot render here (said on stdout)."""
    if requested is not None and requested not in ENGINES:
        raise ShotError(f"Unknown engine {requested!r}", hint=f"Use one of {', '.join(sorted(ENGINES))}")
    if requested is None:
        requested = SCENE_ENGINES.get(scene_engine)
        if requested is None:
            print(f"render_shot: the scene's engine {scene_engine} is not one this script runs headless; "
                  "rendering with Cycles on the CPU", flush=True)
            return "CYCLES"
    if requested != "CYCLES" and not gpu_context_available():
        print(f"render_shot: {requested} needs a GPU context (EGL), none here; rendering with Cycles on the CPU",
              flush=True)
        return "CYCLES"
    return requested


def frame_range(scene, requested: tuple[int, int] | None) -> tuple[int, int]:
    first, last = requested if requested is not None else (scene.frame_start, scene.frame_end)
    if last < first:
        raise ShotError(f"Empty frame range {first}-{last}", hint="Give --frames A-B with A <= B")
    return first, last


def set_camera(scene, name: str | None) -> None:
    import bpy

    if name is None:
        return
    camera = bpy.data.objects.get(name)
    if camera is None or camera.type != "CAMERA":
        cameras = sorted(o.name for o in bpy.data.objects if o.type == "CAMERA")
        raise ShotError(f"No camera named {name!r}", hint=f"Use one of: {', '.join(cameras) or 'none in this file'}")
    scene.camera = camera


def configure(scene, options: ShotOptions, engine: str) -> None:
    render = scene.render
    set_camera(scene, options.camera)
    if options.fps is not None:
        render.fps, render.fps_base = options.fps, 1.0
    if SCENE_ENGINES.get(render.engine) != engine:  # keep the scene's own name for it (EEVEE differs by version)
        render.engine = ENGINES[engine]
    if engine == "CYCLES":
        scene.cycles.device = "CPU"
        if options.samples is not None:
            scene.cycles.samples = options.samples
    elif engine == "EEVEE" and options.samples is not None:
        scene.eevee.taa_render_samples = options.samples
    if options.resolution is not None:
        render.resolution_x, render.resolution_y = options.resolution
        render.resolution_percentage = 100
    settings = render.image_settings
    settings.media_type = "IMAGE"
    settings.file_format = "PNG"
    settings.color_mode = "RGBA" if render.film_transparent else "RGB"
    settings.color_depth = "8"
    render.use_file_extension = True
    if scene.camera is None:
        raise ShotError("The scene has no camera", hint="Add a camera and make it the scene camera")


# ---------------------------------------------------------------------------------------------
# Rendering


@contextlib.contextmanager
def blender_quiet() -> Iterator[TextIO]:
    """Blender's C code prints a line per rendered frame ("Fra:", "Saved:") on file descriptor 1: point it
    at /dev/null meanwhile. Yields a stream on the real stdout for our own progress."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    real = os.fdopen(os.dup(saved), "w", buffering=1)
    try:
        yield real
    finally:
        real.flush()
        real.close()
        os.dup2(saved, 1)
        os.close(saved)


def render_frames(scene, first: int, last: int, folder: Path) -> tuple[list[Path], float]:
    """Render `first`..`last` into `folder`; progress is one line rewritten in place ("\\r")."""
    import bpy

    folder.mkdir(parents=True, exist_ok=True)
    paths, start = [], time.perf_counter()
    count = last - first + 1
    with blender_quiet() as progress:
        for i, frame in enumerate(range(first, last + 1)):
            scene.frame_set(frame)
            path = folder / f"frame_{frame:04d}.png"
            scene.render.filepath = str(path)
            bpy.ops.render.render(write_still=True, scene=scene.name)
            if not path.is_file():
                raise ShotError(f"Blender rendered frame {frame} but wrote no file",
                                hint=f"Check that {folder} is writable")
            paths.append(path)
            elapsed = time.perf_counter() - start
            left = elapsed / (i + 1) * (count - i - 1)
            progress.write(f"\rrender_shot: frame {frame} ({i + 1}/{count}), {elapsed:.0f} s, ~{left:.0f} s left  ")
            progress.flush()
        progress.write("\n")
    return paths, (time.perf_counter() - start) / count


def encode_video(frames: list[Path], path: Path, fps: int, fps_base: float, size: tuple[int, int]) -> Path:
    """H.264 mp4 of `frames`, through a temporary sequencer scene (no re-render)."""
    import bpy

    scene = bpy.data.scenes.new("render_shot_encode")
    try:
        scene.render.fps, scene.render.fps_base = fps, fps_base
        # yuv420p needs even sides; the strip keeps its pixels and gains at most one black row/column.
        scene.render.resolution_x = size[0] + size[0] % 2
        scene.render.resolution_y = size[1] + size[1] % 2
        scene.render.resolution_percentage = 100
        # The frames are already display-referred: pass them through unchanged.
        scene.view_settings.view_transform = "Standard"
        scene.view_settings.look = "None"
        editor = scene.sequence_editor_create()
        strip = editor.strips.new_image("frames", str(frames[0]), channel=1, frame_start=1, fit_method="ORIGINAL")
        for frame in frames[1:]:
            strip.elements.append(frame.name)
        scene.frame_start, scene.frame_end = 1, len(frames)
        settings = scene.render.image_settings
        settings.media_type = "VIDEO"
        settings.file_format = "FFMPEG"
        ffmpeg = scene.render.ffmpeg
        ffmpeg.format, ffmpeg.codec = "MPEG4", "H264"
        ffmpeg.constant_rate_factor = "HIGH"
        scene.render.use_sequencer = True
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            scene.render.filepath = str(Path(tmp) / "shot_")
            bpy.ops.render.render(animation=True, scene=scene.name)
            written = sorted(Path(tmp).glob("shot_*"))
            if not written:
                raise ShotError("Blender wrote no video", hint="This Blender build may lack FFmpeg; use the PNG frames")
            os.replace(written[0], path)
    finally:
        bpy.data.scenes.remove(scene)
    return path


def contact_sheet(frames: list[Path], path: Path) -> Path:
    """Up to 16 frames, evenly picked, in a grid; numbered left to right, top to bottom."""
    import bpy
    import numpy as np

    step = max(1, math.ceil(len(frames) / SHEET_MAX_CELLS))
    picked = frames[::step][:SHEET_MAX_CELLS]
    cols = math.ceil(math.sqrt(len(picked)))
    rows = math.ceil(len(picked) / cols)
    tiles = []
    for frame in picked:
        image = bpy.data.images.load(str(frame))
        width, height = image.size
        pixels = np.empty(width * height * 4, dtype=np.float32)
        image.pixels.foreach_get(pixels)
        bpy.data.images.remove(image)
        tiles.append(pixels.reshape(height, width, 4)[::-1])  # rows top-down
    height, width = tiles[0].shape[:2]
    stride = max(1, math.ceil(cols * width / SHEET_MAX_WIDTH))
    tiles = [t[::stride, ::stride] for t in tiles]
    th, tw = tiles[0].shape[:2]
    gap = 2
    sheet = np.zeros((rows * th + (rows - 1) * gap, cols * tw + (cols - 1) * gap, 4), dtype=np.float32)
    sheet[..., 3] = 1.0
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        cell = sheet[r * (th + gap) : r * (th + gap) + th, c * (tw + gap) : c * (tw + gap) + tw]
        cell[..., :3] = tile[..., :3] * tile[..., 3:]  # transparent frames shown over black
    out = bpy.data.images.new("render_shot_sheet", sheet.shape[1], sheet.shape[0], alpha=True)
    try:
        out.pixels.foreach_set(np.ascontiguousarray(sheet[::-1]).ravel())
        out.filepath_raw = str(path)
        out.file_format = "PNG"
        out.save()
    finally:
        bpy.data.images.remove(out)
    return path


def prepare_output(folder: Path) -> Path:
    """The output folder, created and checked before any rendering (a file there, or no rights, is a ShotError)."""
    folder = folder.resolve()
    if folder.exists() and not folder.is_dir():
        raise ShotError(f"--out {folder} is a file", hint="Give a folder for --out")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".render_shot_probe_{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ShotError(f"Cannot write into {folder}: {exc.strerror}", hint="Choose a writable --out folder") from exc
    return folder


def render_shot(options: ShotOptions) -> ShotResult:
    import bpy

    open_blend(options.blend)
    scene = bpy.context.scene
    first, last = frame_range(scene, options.frames)
    engine = choose_engine(options.engine, scene.render.engine)
    configure(scene, options, engine)
    out = prepare_output(options.out)
    print(f"render_shot: {scene.name} frames {first}-{last} through {scene.camera.name} with {engine} "
          f"at {scene.render.fps / scene.render.fps_base:g} fps into {out}", flush=True)
    frames, per_frame = render_frames(scene, first, last, out / "frames")
    size = (
        scene.render.resolution_x * scene.render.resolution_percentage // 100,
        scene.render.resolution_y * scene.render.resolution_percentage // 100,
    )
    video = None
    if options.video:
        with blender_quiet():
            video = encode_video(frames, out / "shot.mp4", scene.render.fps, scene.render.fps_base, size)
    sheet = contact_sheet(frames, out / "contact_sheet.png")
    print(f"render_shot: {len(frames)} frames, {per_frame:.2f} s per frame; wrote {video or 'no video'} and {sheet}")
    return ShotResult(frames=frames, video=video, contact_sheet=sheet, engine=engine, seconds_per_frame=per_frame)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; 0 on success, 2 on a shot error (message on stderr)."""
    options = parse_args(script_argv() if argv is None else argv)
    try:
        render_shot(options)
    except ShotError as exc:
        print(f"render_shot: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
