"""Video -> reference clip: read, pose, clean, fit, then write the clip, its .npz and a preview.

Outputs for `--out NAME.txt`: NAME.txt (DeepMimic clip), NAME.npz (the clip plus per-frame
confidence, refilled frames, contacts, landmarks) and NAME.preview.mp4 (the fitted skeleton over
the input). Nothing is written unless every step succeeds; each file is written then renamed.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backflip_addon.core.clip import MotionClip, dumps_deepmimic, save_npz
from backflip_addon.core.config import from_dict
from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.files import replacing
from backflip_addon.core.kinematics import forward_kinematics
from backflip_addon.core.skeleton import humanoid3d

from .clean import CleanConfig, Track, clean
from .fit import FitConfig, FitResult, fit_track
from .pose import Detections, PoseConfig, PoseEstimator
from .read import Trim, Video, downscale, read_video

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractConfig:
    """Everything that shapes an extraction (saved inside the clip's .npz)."""

    max_side: int = 1280
    """Frames with a longer side than this are downscaled on reading (pixels)."""
    preview: bool = True
    """Write NAME.preview.mp4 with the fitted skeleton over the input."""
    preview_max_side: int = 640
    """Preview frames are downscaled to this long side (pixels): encoding a 720p preview took as
    long as a third of the fit, and the skeleton reads as well at 640."""
    pose: PoseConfig = field(default_factory=PoseConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    fit: FitConfig = field(default_factory=FitConfig)

    @staticmethod
    def from_dict(data: dict) -> "ExtractConfig":
        """Build from nested plain values; an unknown key is an error."""
        return from_dict(ExtractConfig, data)


@dataclass
class Extraction:
    clip: MotionClip
    track: Track
    fit: FitResult
    video: Video
    detections: Detections
    timings: dict[str, float]


def output_paths(out: str | Path) -> dict[str, Path]:
    """NAME.txt (or the .json given), NAME.npz and NAME.preview.mp4 for --out NAME[.txt|.json]."""
    out = Path(out)
    clip = out if out.suffix in (".txt", ".json") else out.with_name(out.name + ".txt")
    stem = clip.with_suffix("")
    return {"clip": clip, "npz": stem.with_suffix(".npz"), "preview": stem.with_name(stem.name + ".preview.mp4")}


def extract(video_path: str | Path, trim: Trim = Trim(), config: ExtractConfig = ExtractConfig(),
            progress=None) -> Extraction:
    """Run the pipeline in memory; `progress(stage, done, total)` follows the "pose" and "fit" stages."""
    timings = {}
    # torch takes 1-1.5 s to import on 2 cores; do it while the frames are decoded and posed
    # (mediapipe computes in threads of its own).
    torch_import = threading.Thread(target=_import_torch, args=(timings,), daemon=True)
    torch_import.start()
    t0, c0, p0 = time.perf_counter(), time.thread_time(), time.process_time()
    with PoseEstimator(config.pose) as estimator, estimator.begin(_stage(progress, "pose")) as batch:
        # Frames are posed in the estimator's threads while the next ones are decoded.
        video = read_video(video_path, trim, config.max_side, on_frame=batch.add)
        timings["read_s"], timings["read_cpu_s"] = time.perf_counter() - t0, time.thread_time() - c0
        t1 = time.perf_counter()
        detections = batch.finish()
    timings["pose_s"] = time.perf_counter() - t1  # the pose work left once decoding ended
    torch_import.join()
    # mediapipe computes in threads of its own: decoding and pose CPU together is the process's,
    # less torch's import (given apart).
    timings["read_pose_cpu_s"] = time.process_time() - p0 - timings.get("torch_import_cpu_s", 0.0)
    if len(video.frames) < 2:
        raise InvalidInputError("the trimmed video has fewer than 2 frames", "choose a longer --start/--end range")
    t2, c2 = time.perf_counter(), time.thread_time()
    track = clean(detections, video.fps, config.clean)
    timings["clean_s"], timings["clean_cpu_s"] = time.perf_counter() - t2, time.thread_time() - c2
    t3, c3 = time.perf_counter(), time.thread_time()
    fit = fit_track(track, video.fps, video.size, config.fit, _stage(progress, "fit"))
    timings["fit_s"], timings["fit_cpu_s"] = time.perf_counter() - t3, time.thread_time() - c3
    frames = fit.frames.copy()
    frames[:, 0] = 1.0 / video.fps
    clip = MotionClip(frames, loop="none", extras={"Source": Path(video_path).name, "Fps": video.fps},
                      name=Path(video_path).stem)
    return Extraction(clip, track, fit, video, detections, timings)


def _import_torch(timings: dict[str, float]) -> None:
    start = time.thread_time()
    importlib.import_module("torch")
    timings["torch_import_cpu_s"] = time.thread_time() - start


def _stage(progress, name: str):
    return None if progress is None else (lambda done, total: progress(name, done, total))


def write_outputs(result: Extraction, out: str | Path, config: ExtractConfig = ExtractConfig()) -> dict[str, Path]:
    """Write clip, npz and preview; all three appear together or none does."""
    paths = output_paths(out)
    t0, c0 = time.perf_counter(), time.thread_time()
    track, fit = result.track, result.fit
    with contextlib.ExitStack() as publish:  # each file is renamed into place only if all were written
        clip_tmp = publish.enter_context(replacing(paths["clip"]))
        clip_tmp.write_text(dumps_deepmimic(result.clip), encoding="utf-8")
        npz_tmp = publish.enter_context(replacing(paths["npz"], ".npz"))
        save_npz(result.clip, npz_tmp, confidence=track.confidence, refilled=track.refilled,
                 contacts=fit.contacts, rotation=track.rotation, found=track.found, landmarks_2d=track.image.astype(np.float32),
                 visibility=track.visibility.astype(np.float32), landmarks_world=track.world.astype(np.float32),
                 scene_from_world=fit.scene_from_world, focal_px=np.array(fit.focal_px),
                 gravity=np.array(fit.gravity), first_frame=np.array(result.video.first_frame),
                 config=np.array(json.dumps(dataclasses.asdict(config))))
        if config.preview:
            write_preview(result, publish.enter_context(replacing(paths["preview"], ".mp4")), config.preview_max_side)
    result.timings["write_s"], result.timings["write_cpu_s"] = time.perf_counter() - t0, time.thread_time() - c0
    return {k: v for k, v in paths.items() if k != "preview" or config.preview}


_BONES = [(c, p) for c, p in enumerate(humanoid3d().parents.tolist()) if p >= 0]


def project_clip(result: Extraction) -> np.ndarray:
    """Pixel positions (N, B, 2) of the fitted clip's joints in the input frames."""
    pos, _ = forward_kinematics(result.clip.frames)
    m = result.fit.scene_from_world
    scene = pos @ m[:3, :3].T + m[:3, 3]
    w, h = result.video.size
    f = result.fit.focal_px
    z = np.maximum(-scene[..., 2], 1e-3)
    return np.stack([w / 2.0 + f * scene[..., 0] / z, h / 2.0 - f * scene[..., 1] / z], -1)


def write_preview(result: Extraction, path: Path, max_side: int = 640) -> None:
    """The fitted skeleton drawn over the input frames (mp4, same rate, long side at most max_side)."""
    import cv2

    w, h = result.video.size
    first = downscale(result.video.frames[0], max_side)
    size = (first.shape[1], first.shape[0])
    uv = project_clip(result) * np.array([size[0] / w, size[1] / h])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), result.video.fps, size)
    if not writer.isOpened():
        raise InvalidInputError(f"{path}: cannot write the preview video", "check the output folder")
    thick = max(2, round(size[1] / 240))
    try:
        for i, rgb in enumerate(result.video.frames):
            img = cv2.cvtColor(downscale(rgb, max_side), cv2.COLOR_RGB2BGR)
            colour = (0, 165, 255) if result.track.refilled[i] else (80, 255, 80)
            for c, p in _BONES:
                a = tuple(int(round(v)) for v in uv[i, p])
                b = tuple(int(round(v)) for v in uv[i, c])
                cv2.line(img, a, b, colour, thick, cv2.LINE_AA)
            for j in range(uv.shape[1]):
                cv2.circle(img, tuple(int(round(v)) for v in uv[i, j]), thick + 1, (255, 255, 255), -1, cv2.LINE_AA)
            writer.write(img)
    finally:
        writer.release()
