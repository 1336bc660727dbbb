"""Read a video into RGB frames: any container OpenCV (or PyAV, when installed) opens, trimmed, downscaled."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

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
    """A trimmed video as read: its timing and frame size, and the decoded frames if they were kept.

    Frames are RGB uint8, upright (the container's rotation applied) and downscaled to `max_side`."""

    path: Path
    trim: Trim
    max_side: int
    fps: float
    first_frame: int
    """Index in the source video of the first frame read."""
    count: int
    """Frames read."""
    size: tuple[int, int]
    """(width, height) of the frames as delivered (upright, downscaled)."""
    source_size: tuple[int, int]
    """(width, height) of the source before rotation and downscaling."""
    rotation: int = 0
    """Degrees the frames were turned clockwise to honour the container's rotation metadata."""
    frames: list[np.ndarray] = field(default_factory=list)
    """The frames, when read with keep_frames (extraction streams them instead)."""

    def decode(self) -> Iterator[np.ndarray]:
        """The same frames again, decoded one at a time (for a second pass without holding them)."""
        if self.frames:
            yield from self.frames
            return
        for rgb in _stream(self.path, self.trim, self.max_side)[1]:
            yield rgb


@dataclass(frozen=True)
class VideoInfo:
    """What the container says before anything is decoded."""

    fps: float
    frame_count: int
    """Frames the container announces (0 when it does not say)."""
    source_size: tuple[int, int]
    rotation: int
    """Degrees clockwise the frames must be turned to be upright (rotation metadata; phones write 90)."""

    def frames_in(self, trim: Trim) -> int:
        """How many frames `trim` selects (by the announced count)."""
        first, stop = trim.frame_range(self.fps)
        stop = self.frame_count if stop is None else min(stop, self.frame_count)
        return max(0, stop - first)

    def size(self, max_side: int) -> tuple[int, int]:
        """(width, height) of the frames as delivered: upright, long side at most max_side."""
        w, h = self.source_size if self.rotation in (0, 180) else self.source_size[::-1]
        scale = min(1.0, max_side / max(w, h))
        return (max(1, round(w * scale)), max(1, round(h * scale))) if scale < 1.0 else (w, h)


def probe_video(path: str | Path) -> VideoInfo:
    """Frame rate, announced frame count, size and rotation, without decoding (OpenCV)."""
    path = _checked(Path(path))
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise _unreadable(path)
        fps = cap.get(cv2.CAP_PROP_FPS)
        if not (fps > 0 and math.isfinite(fps)):
            raise _unreadable(path)
        return VideoInfo(float(fps), max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT))),
                         (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))),
                         _rotation(cap))
    finally:
        cap.release()


def read_video(path: str | Path, trim: Trim = Trim(), max_side: int = 1280,
               on_frame: Callable[[np.ndarray], None] | None = None, keep_frames: bool = True) -> Video:
    """Decode the trimmed frames; frames whose long side exceeds max_side are downscaled (area filter).

    `on_frame(rgb)` sees each kept frame as soon as it is decoded (so pose can start on it). Without
    `keep_frames` nothing is held: memory stays flat however long the video (`Video.decode` reads again)."""
    path = _checked(Path(path))
    (fps, first, source_size, rotation), frames = _stream(path, trim, max_side)
    kept, count, size = [], 0, None
    for rgb in frames:
        size = size or (rgb.shape[1], rgb.shape[0])
        count += 1
        if keep_frames:
            kept.append(rgb)
        if on_frame is not None:
            on_frame(rgb)
    if count == 0:
        raise VideoError(f"{path}: the trim range (from frame {first}) holds no frames",
                         "choose --start/--end inside the video")
    logger.info("read %d frames (%dx%d -> %dx%d, turned %d deg) at %.2f fps from %s", count, *source_size,
                *size, rotation, fps, path.name)
    return Video(path, trim, max_side, fps, first, count, size, source_size, rotation, kept)


def _checked(path: Path) -> Path:
    if not path.is_file():
        raise VideoError(f"{path}: no such video file", "check the path")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: the file is empty", "pick a video file")
    return path


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


def _rotation(cap) -> int:
    """Clockwise degrees (0, 90, 180, 270) from the container's display matrix, as OpenCV reports it."""
    import cv2

    return int(round(cap.get(cv2.CAP_PROP_ORIENTATION_META) / 90.0)) % 4 * 90


def upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """The frame turned clockwise by `rotation` degrees (a multiple of 90)."""
    import cv2

    codes = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    return rgb if rotation == 0 else np.ascontiguousarray(cv2.rotate(rgb, codes[rotation]))


def _stream(path: Path, trim: Trim, max_side: int):
    """((fps, first, source_size, rotation), iterator of frames); OpenCV, else PyAV when installed."""
    opened = _open_opencv(path, trim, max_side)
    return opened if opened is not None else _open_pyav(path, trim, max_side)


def _open_opencv(path: Path, trim: Trim, max_side: int):
    """None when OpenCV cannot decode the file at all."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) if cap.isOpened() else 0.0
    if not (fps > 0 and math.isfinite(fps)):
        cap.release()
        return None
    # Turn frames ourselves, from the metadata: OpenCV builds differ in whether they do it by default.
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)
    rotation = _rotation(cap)
    first, stop = trim.frame_range(fps)
    ok, bgr = cap.read()
    if not ok:
        cap.release()
        return None
    size = (bgr.shape[1], bgr.shape[0])

    def frames() -> Iterator[np.ndarray]:
        nonlocal ok, bgr
        index = 0
        try:
            while ok and (stop is None or index < stop):
                if index >= first:
                    yield downscale(upright(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), rotation), max_side)
                ok, bgr = cap.read()
                index += 1
        finally:
            cap.release()
        if index <= first:
            raise VideoError(f"{path}: the trim range (from frame {first}) holds no frames; the video has {index}",
                             "choose --start/--end inside the video")

    return (float(fps), first, size, rotation), frames()


def _open_pyav(path: Path, trim: Trim, max_side: int):
    try:
        import av  # optional: opens some containers OpenCV's FFmpeg build does not
    except ImportError:
        raise _unreadable(path) from None
    try:
        container = av.open(str(path))
        stream = container.streams.video[0]
    except (av.error.FFmpegError, IndexError) as exc:
        raise _unreadable(path) from exc
    fps = float(stream.average_rate or 0)
    if fps <= 0:
        container.close()
        raise _unreadable(path)
    first, stop = trim.frame_range(fps)

    def frames() -> Iterator[np.ndarray]:
        try:
            for index, frame in enumerate(container.decode(stream)):
                if stop is not None and index >= stop:
                    break
                if index >= first:
                    yield downscale(frame.to_ndarray(format="rgb24"), max_side)
        except av.error.FFmpegError as exc:
            raise _unreadable(path) from exc
        finally:
            container.close()

    return (fps, first, (stream.width, stream.height), 0), frames()
