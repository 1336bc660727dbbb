"""Read a video into RGB frames: any container OpenCV (or PyAV, when installed) opens, trimmed, downscaled."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from backflip_addon.core.errors import VideoError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trim:
    """Which part of the video to read; times win over frame numbers when both are given."""

    start_s: float | None = None
    """First time to keep (seconds from the start)."""
    end_s: float | None = None
    """Time to stop before (seconds, exclusive)."""
    start_frame: int | None = None
    """First frame to keep (0-based)."""
    end_frame: int | None = None
    """Frame to stop before (exclusive)."""

    def frame_range(self, fps: float) -> tuple[int, int | None]:
        """[first, stop) frame indices; stop None = to the end."""
        first = self.start_frame or 0
        stop = self.end_frame
        if self.start_s is not None:
            first = int(math.ceil(self.start_s * fps - 1e-6))
        if self.end_s is not None:
            stop = int(math.ceil(self.end_s * fps - 1e-6))
        first = max(first, 0)
        if stop is not None and stop <= first:
            raise VideoError(
                f"the trim range is empty (frames {first} to {stop})",
                "pass an --end after --start, inside the video",
            )
        return first, stop


@dataclass
class Video:
    """Decoded frames (RGB uint8, all the same size) and their timing."""

    frames: list[np.ndarray]
    fps: float
    first_frame: int
    """Index in the source video of frames[0]."""
    source_size: tuple[int, int]
    """(width, height) of the source before downscaling."""

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.frames[0].shape[:2]
        return w, h


def read_video(path: str | Path, trim: Trim = Trim(), max_side: int = 1280,
               on_frame: Callable[[np.ndarray], None] | None = None) -> Video:
    """Decode the trimmed frames; frames whose long side exceeds max_side are downscaled (area filter).

    `on_frame(rgb)` sees each kept frame as soon as it is decoded (so pose can start on it)."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such video file", "check the path")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: the file is empty", "pick a video file")
    decoded = _read_opencv(path, trim, max_side, on_frame)
    if decoded is None:  # OpenCV cannot open it at all: PyAV may, when installed
        decoded = _read_pyav(path, trim, max_side, on_frame)
    frames, fps, first, size = decoded
    logger.info("read %d frames (%dx%d -> %dx%d) at %.2f fps from %s", len(frames), size[0], size[1],
                frames[0].shape[1], frames[0].shape[0], fps, path.name)
    return Video(frames, fps, first, size)


def _unreadable(path: Path) -> VideoError:
    return VideoError(
        f"{path}: not a readable video (truncated, corrupt, or not a video at all)",
        "re-export or re-download the clip as .mp4 (H.264) and try again",
    )


def downscale(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """The frame with its long side brought down to max_side (area filter); unchanged if already within."""
    import cv2

    h, w = rgb.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _read_opencv(path: Path, trim: Trim, max_side: int, on_frame):
    """(frames, fps, first, size), or None when OpenCV cannot decode the file at all."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) if cap.isOpened() else 0.0
        if not (fps > 0 and math.isfinite(fps)):
            return None
        first, stop = trim.frame_range(fps)
        frames = []
        index = 0
        size = None
        while stop is None or index < stop:
            ok, bgr = cap.read()
            if not ok:
                break
            if index >= first:
                size = size or (bgr.shape[1], bgr.shape[0])
                frames.append(downscale(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), max_side))
                if on_frame is not None:
                    on_frame(frames[-1])
            index += 1
    finally:
        cap.release()
    if index == 0:
        return None
    if not frames:
        raise VideoError(
            f"{path}: the trim range (from frame {first}) holds no frames; the video has {index}",
            "choose --start/--end inside the video",
        )
    return frames, float(fps), first, size


def _read_pyav(path: Path, trim: Trim, max_side: int, on_frame):
    try:
        import av  # optional: opens some containers OpenCV's FFmpeg build does not
    except ImportError:
        raise _unreadable(path) from None
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate or 0)
            if fps <= 0:
                raise _unreadable(path)
            first, stop = trim.frame_range(fps)
            frames, size = [], None
            for index, frame in enumerate(container.decode(stream)):
                if stop is not None and index >= stop:
                    break
                if index >= first:
                    rgb = frame.to_ndarray(format="rgb24")
                    size = size or (rgb.shape[1], rgb.shape[0])
                    frames.append(downscale(rgb, max_side))
                    if on_frame is not None:
                        on_frame(frames[-1])
    except (av.error.FFmpegError, IndexError) as exc:
        raise _unreadable(path) from exc
    if not frames:
        raise VideoError(f"{path}: the trim range holds no frames", "choose --start/--end inside the video")
    return frames, fps, first, size
