"""Extraction on awkward input: a phone's sideways video with rotation metadata, long videos (frames are
streamed, the memory need is checked first), outputs that cannot be written."""
from __future__ import annotations

import logging
import math
import struct
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest

from backflip_addon.core.errors import VideoError
from trainer_service.video.extract import check_memory, extract
from trainer_service.video.read import Trim, VideoInfo, probe_video, read_video

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "assets" / "video" / "backflip_side.mp4"


def _sideways_copy(path: Path, metadata_deg: int | None) -> Path:
    """The sample turned 90 degrees counter-clockwise (as a phone held sideways records it), re-encoded;
    with `metadata_deg` its track header says to turn it that many degrees clockwise for display."""
    cap = cv2.VideoCapture(str(SAMPLE))
    frames = []
    while (read := cap.read())[0]:
        frames.append(cv2.rotate(read[1], cv2.ROTATE_90_COUNTERCLOCKWISE))
    cap.release()
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
    for frame in frames:
        writer.write(frame)
    writer.release()
    if metadata_deg is not None:
        path.write_bytes(_with_display_matrix(path.read_bytes(), metadata_deg))
    return path


def _with_display_matrix(data: bytes, degrees: int) -> bytes:
    """The mp4 with its first track header's display matrix turned by `degrees` (what phones write)."""
    data = bytearray(data)
    start, end = 0, len(data)
    for name in (b"moov", b"trak", b"tkhd"):
        while True:
            size, kind = struct.unpack(">I4s", data[start : start + 8])
            if kind == name:
                break
            start += size
        start, end = (start + 8, start + size) if name != b"tkhd" else (start, start + size)
    version = data[start + 8]
    matrix = start + 8 + 4 + (32 if version == 1 else 20) + 16  # after times, ids, duration, layer, volume
    c, s = round(math.cos(math.radians(degrees))), round(math.sin(math.radians(degrees)))
    one = 1 << 16
    data[matrix : matrix + 36] = struct.pack(">9i", c * one, s * one, 0, -s * one, c * one, 0, 0, 0, 1 << 30)
    return bytes(data)


@pytest.fixture(scope="module")
def upright():
    return extract(SAMPLE)


def test_rotation_metadata_is_read(tmp_path: Path):
    for degrees in (90, 180, 270):
        info = probe_video(_sideways_copy(tmp_path / f"r{degrees}.mp4", degrees))
        assert info.rotation == degrees
        assert info.source_size == (360, 640)
        assert info.size(1280) == ((360, 640) if degrees == 180 else (640, 360))


def test_a_phone_video_with_rotation_metadata_extracts_like_the_upright_one(upright, tmp_path: Path):
    result = extract(_sideways_copy(tmp_path / "phone.mp4", 90))
    assert result.video.rotation == 90 and result.video.size == (640, 360)
    assert result.warnings == []
    assert result.fit.gravity == pytest.approx(upright.fit.gravity, rel=0.15)
    # The same motion: root heights agree to a few centimetres (the copy was re-encoded).
    height = result.clip.root_pos[:, 1] - upright.clip.root_pos[:, 1]
    assert np.abs(height - np.median(height)).max() < 0.08


def test_a_sideways_video_without_metadata_warns_about_gravity(upright, tmp_path: Path, caplog):
    assert upright.warnings == []
    with caplog.at_level(logging.WARNING, logger="trainer_service.video.extract"):
        result = extract(_sideways_copy(tmp_path / "sideways.mp4", None))
    assert result.video.rotation == 0
    assert len(result.warnings) == 1 and "the gravity check" in result.warnings[0]
    assert "sideways" in result.warnings[0]
    assert result.warnings[0] in caplog.text


def _peak_mib(call) -> float:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_streamed_reading_holds_no_frames():
    """76 frames of 640x360 are 50 MiB when kept; streamed, a handful at a time."""
    seen = []
    kept = _peak_mib(lambda: read_video(SAMPLE, keep_frames=True))
    streamed = _peak_mib(lambda: seen.append(read_video(SAMPLE, keep_frames=False, on_frame=lambda f: None)))
    assert kept > 45 and streamed < 5, (kept, streamed)
    video = seen[0]
    assert video.frames == [] and video.count == 76
    again = list(video.decode())  # a second pass decodes the same frames again
    assert len(again) == 76 and again[0].shape == (360, 640, 3)


def test_extraction_keeps_no_frames(upright):
    assert upright.video.frames == [] and upright.video.count == 76


def test_the_memory_need_is_reported_before_decoding_and_too_much_is_refused(caplog):
    with caplog.at_level(logging.INFO, logger="trainer_service.video.extract"):
        need = check_memory(probe_video(SAMPLE), Trim())
    assert "76 frames at 30.00 fps (2.5 s), about" in caplog.text and f"{need / 2**20:.0f} MiB" in caplog.text
    hours = VideoInfo(fps=30.0, frame_count=30 * 3600 * 200, source_size=(1280, 720), rotation=0)
    with pytest.raises(VideoError, match="frames need about .* MiB, only .* MiB are free") as info:
        check_memory(hours, Trim())
    assert "--start/--end" in info.value.hint
    check_memory(hours, Trim(start_s=10.0, end_s=20.0))  # a trimmed part fits
