"""Video -> reference clip: read, pose, clean, fit, then write the clip, its .npz and a preview.

Outputs for `--out NAME.txt`: NAME.txt (DeepMimic clip), NAME.npz (the clip plus per-frame
confidence, refilled frames, contacts, landmarks) and NAME.preview.mp4 (the fitted skeleton over
the input). Nothing is written unless every step succeeds; each file is written then renamed.
"""
from __future__ import annotations

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
from backflip_addon.core.config import check_types, from_dict
from backflip_addon.core.errors import InvalidInputError, VideoError
from backflip_addon.core.files import publishing
from backflip_addon.core.kinematics import forward_kinematics
from backflip_addon.core.runs import true_runs
from backflip_addon.core.skeleton import humanoid3d

from .clean import CleanConfig, Track, clean
from .fit import FitConfig, FitResult, fit_track
from .motion import MotionConfig, MotionTracker
from .pose import Detections, PoseConfig, PoseEstimator
from .read import Trim, Video, VideoInfo, downscale, probe_video, read_video

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractConfig:
    """Everything that shapes an extraction (saved inside the clip's .npz)."""

    max_side: int = 1280
    """Frames with a longer side than this are downscaled on reading (pixels)."""
    preview: bool = True
    """Write NAME.preview.mp4 with the fitted skeleton over the input."""
    preview_low_confidence: float = 0.5
    """Preview frames whose confidence (mean visibility of the key landmarks) is below this are drawn
    in the low-confidence colour, so the user sees where to trim."""
    preview_max_side: int = 640
    """Preview frames are downscaled to this long side (pixels): encoding a 720p preview took as
    long as a third of the fit, and the skeleton reads as well at 640."""
    pose: PoseConfig = field(default_factory=PoseConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    fit: FitConfig = field(default_factory=FitConfig)

    @staticmethod
    def from_dict(data: dict) -> "ExtractConfig":
        """Build from nested plain values; an unknown key or a value of the wrong type is an error."""
        config = from_dict(ExtractConfig, data)
        check_types(config)
        return config


@dataclass
class Extraction:
    clip: MotionClip
    track: Track
    fit: FitResult
    video: Video
    detections: Detections
    timings: dict[str, float]
    warnings: list[str] = field(default_factory=list)
    """Things the user should look at although the extraction went through (e.g. the gravity check)."""


def output_paths(out: str | Path, config: ExtractConfig = ExtractConfig()) -> dict[str, Path]:
    """NAME.txt (or the .json given), NAME.npz and (with config.preview) NAME.preview.mp4 for --out NAME[.txt|.json]."""
    out = Path(out)
    clip = out if out.suffix in (".txt", ".json") else out.with_name(out.name + ".txt")
    stem = clip.with_suffix("")
    paths = {"clip": clip, "npz": stem.with_suffix(".npz")}
    if config.preview:
        paths["preview"] = stem.with_name(stem.name + ".preview.mp4")
    return paths


def extract(video_path: str | Path, trim: Trim = Trim(), config: ExtractConfig = ExtractConfig(),
            progress=None) -> Extraction:
    """Run the pipeline in memory; `progress(stage, done, total)` follows the "pose" and "fit" stages.

    Frames are streamed (decoded, posed, dropped), so memory grows only with the per-frame results;
    the need is estimated and checked against the free memory before any decoding."""
    info = probe_video(video_path)
    check_memory(info, trim)
    timings = {}
    # torch takes 1-1.5 s to import on 2 cores; do it while the frames are decoded and posed
    # (mediapipe computes in threads of its own).
    torch_import = threading.Thread(target=_import_torch, args=(timings,), daemon=True)
    torch_import.start()
    t0, c0, p0 = time.perf_counter(), time.thread_time(), time.process_time()
    tracker = MotionTracker(config.motion)
    with PoseEstimator(config.pose) as estimator, estimator.begin(_stage(progress, "pose")) as batch:

        def on_frame(rgb: np.ndarray) -> None:
            batch.add(rgb)  # posed in the estimator's threads while the next frame is decoded
            if config.motion.enabled:
                tracker.add(rgb)

        video = read_video(video_path, trim, config.max_side, on_frame=on_frame, keep_frames=False)
        timings["read_s"], timings["read_cpu_s"] = time.perf_counter() - t0, time.thread_time() - c0
        t1 = time.perf_counter()
        detections = batch.finish()
    timings["pose_s"] = time.perf_counter() - t1  # the pose work left once decoding ended
    torch_import.join()
    # mediapipe computes in threads of its own: decoding and pose CPU together is the process's,
    # less torch's import (given apart).
    timings["read_pose_cpu_s"] = time.process_time() - p0 - timings.get("torch_import_cpu_s", 0.0)
    if video.count < 2:
        raise InvalidInputError("the trimmed video has fewer than 2 frames", "choose a longer --start/--end range")
    t2, c2 = time.perf_counter(), time.thread_time()
    track = clean(detections, video.fps, config.clean)
    timings["clean_s"], timings["clean_cpu_s"] = time.perf_counter() - t2, time.thread_time() - c2
    t3, c3 = time.perf_counter(), time.thread_time()
    turns = tracker.rotations(config.fit.hfov_deg, track.image, track.visibility) if config.motion.enabled else None
    fit = fit_track(track, video.fps, video.size, config.fit, _stage(progress, "fit"), turns)
    timings["fit_s"], timings["fit_cpu_s"] = time.perf_counter() - t3, time.thread_time() - c3
    frames = fit.frames.copy()
    frames[:, 0] = 1.0 / video.fps
    clip = MotionClip(frames, loop="none", extras={"Source": Path(video_path).name, "Fps": video.fps},
                      name=Path(video_path).stem)
    warnings = gravity_warnings(fit.gravity, video) + confidence_warnings(track, config.preview_low_confidence, video.fps)
    return Extraction(clip, track, fit, video, detections, timings, warnings)


GRAVITY = 9.81  # m/s^2
GRAVITY_TOLERANCE = 0.35
"""Warn when the fit's gravity check is off by more than this fraction: the sample reads 10.3 m/s^2, a
sideways video 0.34, slow motion or a wrong frame rate about 9.81 times the square of the slow-down."""


def gravity_warnings(gravity: float, video: Video) -> list[str]:
    """A warning (logged and returned) when the fitted flight does not fall at about 9.81 m/s^2; none when
    the body never leaves the ground (a walk, a crawl: nothing to check, and nothing wrong)."""
    if gravity != gravity:
        logger.info("gravity check: no flight phase to read")
        return []
    if abs(gravity - GRAVITY) <= GRAVITY_TOLERANCE * GRAVITY:
        return []
    message = (f"the gravity check reads {gravity:.2f} m/s^2, expected about {GRAVITY}: the clip is probably wrong. Is the video "
               f"sideways or upside down (it was turned {video.rotation} deg by its metadata), in slow motion, or "
               f"not at its real frame rate ({video.fps:.2f} fps)?")
    logger.warning(message)
    return [message]


UNSURE_SHARE = 0.25
"""Warn when at least this share of the frames was refilled or seen with low confidence. Over the 720p suite
the two cases above it are among the worst fits (crawl front: 67 % of its frames, PA-MPJPE 300 mm; get-up
faceup front: 29 %, 139 mm); the next is at 18 % (get-up facedown front, 92 mm), most cases under 5 %."""


def confidence_warnings(track: Track, low_confidence: float, fps: float) -> list[str]:
    """A warning (logged and returned) when much of the clip was refilled or seen with less than
    `low_confidence`, naming its longest such stretch, so that the user can trim it away or film again."""
    unsure = frame_status(track, low_confidence) != FRAME_OK
    if not unsure.any() or unsure.mean() < UNSURE_SHARE:
        return []
    start, end = max(true_runs(unsure), key=lambda run: run[1] - run[0])
    message = (f"{int(unsure.sum())} of {len(unsure)} frames ({unsure.mean():.0%}) were refilled or seen with low "
               f"confidence (red and yellow in the preview), the longest stretch {start / fps:.1f}-{end / fps:.1f} s "
               "into the clip: the motion there is a guess. Trim it away, or film the whole body closer and unhidden.")
    logger.warning(message)
    return [message]


BASE_BYTES = 600 * 2**20
BYTES_PER_FRAME = 100_000
"""Peak memory of an extraction: BASE_BYTES (mediapipe's graphs, torch, the decoder) plus BYTES_PER_FRAME
for each frame's results through pose, clean and fit. Measured peak RSS with frames streamed: 545 MiB for
the 76-frame sample, 585 MiB for 608 frames of 720p (about 80 KB a frame); holding the frames took 2,160 MiB."""


def check_memory(info: VideoInfo, trim: Trim) -> int:
    """Log the memory the extraction will need and refuse it when that exceeds what is available."""
    frames = info.frames_in(trim)
    need = BASE_BYTES + frames * BYTES_PER_FRAME
    available = _available_memory()
    logger.info("extract: %d frames at %.2f fps (%.1f s), about %.0f MiB of memory needed%s", frames, info.fps,
                frames / info.fps, need / 2**20, "" if available is None else f" ({available / 2**20:.0f} MiB available)")
    if available is not None and need > available:
        raise VideoError(f"{frames} frames need about {need / 2**20:.0f} MiB, only {available / 2**20:.0f} MiB are free",
                         "extract a shorter part with --start/--end")
    return need


def _available_memory() -> int | None:
    """MemAvailable from /proc/meminfo (bytes); None where there is no such file."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _import_torch(timings: dict[str, float]) -> None:
    start = time.thread_time()
    importlib.import_module("torch")
    timings["torch_import_cpu_s"] = time.thread_time() - start


def _stage(progress, name: str):
    return None if progress is None else (lambda done, total: progress(name, done, total))


def write_outputs(result: Extraction, out: str | Path, config: ExtractConfig = ExtractConfig()) -> dict[str, Path]:
    """Write clip, npz and preview; all three appear together or none does (see `core.files.publishing`)."""
    paths = output_paths(out, config)
    t0, c0 = time.perf_counter(), time.thread_time()
    track, fit = result.track, result.fit
    with publishing(list(paths.values())) as temporaries:
        tmp = dict(zip(paths, temporaries))
        tmp["clip"].write_text(dumps_deepmimic(result.clip), encoding="utf-8")
        save_npz(result.clip, tmp["npz"], confidence=track.confidence, refilled=track.refilled,
                 contacts=fit.contacts, rotation=track.rotation, found=track.found, landmarks_2d=track.image.astype(np.float32),
                 visibility=track.visibility.astype(np.float32), landmarks_world=track.world.astype(np.float32),
                 scene_from_world=fit.scene_from_world, focal_px=np.array(fit.focal_px),
                 gravity=np.array(fit.gravity), camera=np.array(json.dumps(fit.camera.as_dict() if fit.camera else None)),
                 flight=fit.phases.flight if fit.phases else np.zeros(len(track.confidence)),
                 camera_rotations=fit.camera_rotations if fit.camera_rotations is not None else np.zeros((0, 3, 3)),
                 first_frame=np.array(result.video.first_frame),
                 video_rotation=np.array(result.video.rotation), warnings=np.array(json.dumps(result.warnings)),
                 config=np.array(json.dumps(dataclasses.asdict(config))))
        if "preview" in tmp:
            write_preview(result, tmp["preview"], config.preview_max_side, config.preview_low_confidence)
    result.timings["write_s"], result.timings["write_cpu_s"] = time.perf_counter() - t0, time.thread_time() - c0
    return paths


_BONES = [(c, p) for c, p in enumerate(humanoid3d().parents.tolist()) if p >= 0]


def project_clip(result: Extraction) -> np.ndarray:
    """Pixel positions (N, B, 2) of the fitted clip's joints in the input frames."""
    pos, _ = forward_kinematics(result.clip.frames)
    m = result.fit.scene_from_world
    scene = pos @ m[:3, :3].T + m[:3, 3]
    if result.fit.camera_rotations is not None:  # a turning camera: into each frame's own camera
        scene = np.einsum("nij,nbj->nbi", result.fit.camera_rotations, scene)
    w, h = result.video.size
    f = result.fit.focal_px
    z = np.maximum(-scene[..., 2], 1e-3)
    return np.stack([w / 2.0 + f * scene[..., 0] / z, h / 2.0 - f * scene[..., 1] / z], -1)


FRAME_OK, FRAME_LOW_CONFIDENCE, FRAME_REFILLED = 0, 1, 2
PREVIEW_COLOURS = {FRAME_OK: (80, 255, 80), FRAME_LOW_CONFIDENCE: (0, 230, 255), FRAME_REFILLED: (60, 60, 255)}
"""Skeleton colour (BGR) per frame status: green, yellow, red."""
_STATUS_LABELS = {FRAME_LOW_CONFIDENCE: "low confidence", FRAME_REFILLED: "refilled"}


def frame_status(track: Track, low_confidence: float) -> np.ndarray:
    """Per frame (N,): FRAME_REFILLED where no pose was kept (interpolated), FRAME_LOW_CONFIDENCE where
    the confidence is below `low_confidence`, else FRAME_OK."""
    status = np.where(track.confidence < low_confidence, FRAME_LOW_CONFIDENCE, FRAME_OK)
    return np.where(track.refilled, FRAME_REFILLED, status)


def write_preview(result: Extraction, path: Path, max_side: int = 640, low_confidence: float = 0.5) -> None:
    """The fitted skeleton drawn over the input frames (mp4, same rate, long side at most max_side), in
    green, or yellow and labelled where the frame's confidence is low, red where it was refilled."""
    import cv2

    w, h = result.video.size
    scale = min(1.0, max_side / max(w, h))
    size = (max(1, round(w * scale)), max(1, round(h * scale))) if scale < 1.0 else (w, h)
    uv = project_clip(result) * np.array([size[0] / w, size[1] / h])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), result.video.fps, size)
    if not writer.isOpened():
        raise InvalidInputError(f"{path}: cannot write the preview video", "check the output folder")
    thick = max(2, round(size[1] / 240))
    status = frame_status(result.track, low_confidence)
    try:
        for i, rgb in enumerate(result.video.decode()):
            img = cv2.cvtColor(downscale(rgb, max_side), cv2.COLOR_RGB2BGR)
            colour = PREVIEW_COLOURS[int(status[i])]
            if status[i] != FRAME_OK:
                cv2.putText(img, _STATUS_LABELS[int(status[i])], (10, 10 + 12 * thick), cv2.FONT_HERSHEY_SIMPLEX,
                            0.25 * thick, colour, max(1, thick // 2), cv2.LINE_AA)
            for c, p in _BONES:
                a = tuple(int(round(v)) for v in uv[i, p])
                b = tuple(int(round(v)) for v in uv[i, c])
                cv2.line(img, a, b, colour, thick, cv2.LINE_AA)
            for j in range(uv.shape[1]):
                cv2.circle(img, tuple(int(round(v)) for v in uv[i, j]), thick + 1, (255, 255, 255), -1, cv2.LINE_AA)
            writer.write(img)
    finally:
        writer.release()
