"""MotionClip: a humanoid3d motion as plain arrays, with DeepMimic text and .npz I/O.

A DeepMimic clip file is JSON: {"Loop": "wrap"|"none", "Frames": [[duration, 43 pose numbers], ...]}
with Y up and quaternions (w, x, y, z); see `skeleton.CLIP_COLUMNS`. Row i's duration is the time
from frame i to frame i+1 (the last row's is ignored). Extra top-level keys are kept as they are.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import rotations as rot
from .errors import ClipFormatError, InvalidInputError
from .files import atomic_write_text, write_atomic
from .skeleton import CLIP_COLUMNS, FRAME_WIDTH, QUAT_COLUMNS, ROOT_POS, ROOT_ROT

NPZ_VERSION = 1
LOOP_MODES = ("wrap", "none")
# DeepMimic normalises on load and its own clips drift (kick: 0.58, backflip: 1.12); reject only
# quaternions that cannot be meant as rotations (zero, or far from unit length).
_UNIT_TOLERANCE = 0.5


@dataclass
class MotionClip:
    """Frames (F, 44) in DeepMimic layout; `loop` says whether the clip cycles."""

    frames: np.ndarray
    loop: str = "wrap"
    extras: dict = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        self.frames = np.asarray(self.frames, dtype=np.float64)
        if self.frames.ndim != 2 or self.frames.shape[1] != FRAME_WIDTH or len(self.frames) < 2:
            raise InvalidInputError(
                f"a motion clip needs at least 2 frames of {FRAME_WIDTH} numbers, got shape {self.frames.shape}",
                "check how the clip was produced",
            )
        if self.loop not in LOOP_MODES:
            raise InvalidInputError(f"unknown loop mode {self.loop!r}", f"use one of {LOOP_MODES}")

    # --- timing -----------------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return len(self.frames)

    @property
    def times(self) -> np.ndarray:
        """Time of each frame (s), starting at 0."""
        return np.concatenate([[0.0], np.cumsum(self.frames[:-1, 0])])

    @property
    def duration(self) -> float:
        """Time from the first to the last frame; for a wrapping clip this is one cycle."""
        return float(np.sum(self.frames[:-1, 0]))

    @property
    def fps(self) -> float:
        return (self.num_frames - 1) / self.duration

    @property
    def cycle_offset(self) -> np.ndarray:
        """Root displacement over one cycle, added per cycle when a wrapping clip repeats."""
        return self.root_pos[-1] - self.root_pos[0]

    # --- pose views ---------------------------------------------------------------------------
    @property
    def root_pos(self) -> np.ndarray:
        return self.frames[:, ROOT_POS]

    @property
    def root_rot(self) -> np.ndarray:
        return self.frames[:, ROOT_ROT]

    def joint(self, name: str) -> np.ndarray:
        """(F, 4) quaternions or (F, 1) angles of one joint."""
        for joint_name, start, width in CLIP_COLUMNS:
            if joint_name == name:
                return self.frames[:, start : start + width]
        raise InvalidInputError(f"clip has no joint {name!r}", f"use one of {[c[0] for c in CLIP_COLUMNS]}")

    # --- sampling -----------------------------------------------------------------------------
    def sample(self, t: np.ndarray) -> np.ndarray:
        """Poses (len(t), 44) at times t (s): lerp for positions and angles, slerp for rotations.

        Wrapping clips repeat with the root advanced by `cycle_offset` each cycle; others clamp.
        Column 0 of the result is 0 (no duration).
        """
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        times = self.times
        if self.loop == "wrap":
            cycles = np.floor(t / self.duration)
            local = t - cycles * self.duration
        else:
            cycles = np.zeros_like(t)
            local = np.clip(t, 0.0, self.duration)
        i0 = np.clip(np.searchsorted(times, local, side="right") - 1, 0, self.num_frames - 2)
        span = times[i0 + 1] - times[i0]
        alpha = np.clip((local - times[i0]) / np.where(span > 0, span, 1.0), 0.0, 1.0)
        a, b = self.frames[i0], self.frames[i0 + 1]
        out = a + (b - a) * alpha[:, None]
        for start in QUAT_COLUMNS:
            out[:, start : start + 4] = rot.slerp(a[:, start : start + 4], b[:, start : start + 4], alpha)
        out[:, ROOT_POS] += cycles[:, None] * self.cycle_offset
        out[:, 0] = 0.0
        return out

    def resample(self, fps: float) -> "MotionClip":
        """The same motion at another frame rate (covering the same duration)."""
        if not (fps > 0 and math.isfinite(fps)):
            raise InvalidInputError(f"frame rate must be positive, got {fps}", "pass e.g. 30")
        count = max(2, int(round(self.duration * fps)) + 1)
        t = np.linspace(0.0, self.duration, count)
        frames = self.sample(t) if self.loop != "wrap" else _sample_within_cycle(self, t)
        frames[:, 0] = self.duration / (count - 1)
        return MotionClip(frames, loop=self.loop, extras=dict(self.extras), name=self.name)


def _sample_within_cycle(clip: MotionClip, t: np.ndarray) -> np.ndarray:
    # The last sample sits exactly at the cycle end: sample the last frame, not the next cycle's start.
    out = clip.sample(np.minimum(t, np.nextafter(clip.duration, 0.0)))
    out[-1, 1:] = clip.frames[-1, 1:]
    return out


# --- DeepMimic text I/O -------------------------------------------------------------------------
_ROW = re.compile(r"\[([^\[\]]*)\]")


def _frame_lines(text: str) -> list[int]:
    """1-based line number of each frame row inside the "Frames" array."""
    start = text.find('"Frames"')
    start = text.find("[", start)
    return [text.count("\n", 0, m.start()) + 1 for m in _ROW.finditer(text, start + 1)]


def load_deepmimic(path: str | os.PathLike) -> MotionClip:
    """Read a DeepMimic clip; raises ClipFormatError naming the file and line of the problem."""
    path = Path(path)
    hint = "fix or regenerate the clip file (DeepMimic format: JSON with 'Loop' and 'Frames')"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ClipFormatError(f"{path}: cannot read clip: {exc}", "check the path") from exc
    if not text.strip():
        raise ClipFormatError(f"{path}:1: clip file is empty", hint)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ClipFormatError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}", hint) from exc
    if not isinstance(data, dict) or not isinstance(data.get("Frames"), list):
        raise ClipFormatError(f"{path}:1: no 'Frames' array", hint)
    rows = data.pop("Frames")
    loop = data.pop("Loop", "wrap")
    lines = _frame_lines(text)
    if len(lines) != len(rows):
        lines = [1] * len(rows)
    if len(rows) < 2:
        raise ClipFormatError(f"{path}:{lines[0] if lines else 1}: a clip needs at least 2 frames, found {len(rows)}", hint)
    if loop not in LOOP_MODES:
        raise ClipFormatError(f"{path}:1: unknown Loop mode {loop!r}", f"use one of {LOOP_MODES}")
    for i, (row, line) in enumerate(zip(rows, lines)):
        _check_row(path, line, i, row, is_last=i == len(rows) - 1)
    frames = np.array(rows, dtype=np.float64)
    return MotionClip(frames, loop=loop, extras=data, name=path.stem)


def _check_row(path: Path, line: int, index: int, row, is_last: bool) -> None:
    where = f"{path}:{line}: frame {index}"
    hint = "fix or regenerate the clip file"
    if not isinstance(row, list) or len(row) != FRAME_WIDTH:
        count = len(row) if isinstance(row, list) else "no list of"
        raise ClipFormatError(f"{where} has {count} numbers, expected {FRAME_WIDTH}", hint)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row):
        raise ClipFormatError(f"{where} holds something that is not a number", hint)
    values = np.array(row, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ClipFormatError(f"{where} holds NaN or infinity", hint)
    if values[0] <= 0 and not is_last:
        raise ClipFormatError(f"{where} has a non-positive duration {values[0]}", hint)
    for start in QUAT_COLUMNS:
        norm = np.linalg.norm(values[start : start + 4])
        if abs(norm - 1.0) > _UNIT_TOLERANCE:
            raise ClipFormatError(
                f"{where}: quaternion in columns {start}-{start + 3} has length {norm:.4f}, expected 1", hint
            )


def dumps_deepmimic(clip: MotionClip) -> str:
    """DeepMimic text, one frame per line; repr() floats so load(save(c)) == c exactly."""
    head = {"Loop": clip.loop, **clip.extras}
    lines = ["{"] + [f"{json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()] + ['"Frames":', "["]
    rows = ["[" + ", ".join(repr(float(v)) for v in row) + "]" for row in clip.frames]
    lines.append(",\n".join(rows))
    lines += ["]", "}"]
    return "\n".join(lines) + "\n"


def save_deepmimic(clip: MotionClip, path: str | os.PathLike) -> None:
    atomic_write_text(path, dumps_deepmimic(clip))


# --- npz I/O ------------------------------------------------------------------------------------
def save_npz(clip: MotionClip, path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Save the clip (plus optional per-frame arrays such as confidence) as a versioned .npz."""
    buffer = io.BytesIO()
    np.savez(
        buffer,
        version=np.array(NPZ_VERSION),
        frames=clip.frames,
        loop=np.array(clip.loop),
        name=np.array(clip.name),
        extras=np.array(json.dumps(clip.extras)),
        **arrays,
    )
    write_atomic(path, buffer.getvalue())


def load_npz(path: str | os.PathLike) -> tuple[MotionClip, dict[str, np.ndarray]]:
    """The clip and any extra arrays stored beside it."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            contents = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise ClipFormatError(f"{path}: not a readable .npz clip: {exc}", "regenerate the file") from exc
    version = int(contents.pop("version", -1))
    if version != NPZ_VERSION:
        raise ClipFormatError(f"{path}: clip .npz version {version}, expected {NPZ_VERSION}", "regenerate the file")
    clip = MotionClip(
        contents.pop("frames"),
        loop=str(contents.pop("loop")),
        extras=json.loads(str(contents.pop("extras"))),
        name=str(contents.pop("name")),
    )
    return clip, contents


def load_clip(path: str | os.PathLike) -> MotionClip:
    """Load a clip from DeepMimic text (.txt/.json) or .npz."""
    path = Path(path)
    if not path.exists():
        raise ClipFormatError(f"{path}: no such clip file", "check the path")
    if path.suffix == ".npz":
        return load_npz(path)[0]
    return load_deepmimic(path)
