"""MotionClip: a humanoid3d motion as plain arrays, with DeepMimic text and .npz I/O.

A DeepMimic clip file is JSON: {"Loop": "wrap"|"none", "Frames": [[duration, 43 pose numbers], ...]}
with Y up and quaternions (w, x, y, z); see `skeleton.CLIP_COLUMNS`. Row i's duration is the time
from frame i to frame i+1 (the last row's is ignored). Extra top-level keys are kept as they are.
"""
from __future__ import annotations

import io
import itertools
import json
import math
import os
import re
import zipfile
import zlib
from collections.abc import Callable
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
MAX_CLIP_BYTES = 64 * 2**20
"""Largest clip file read (and, for .npz, the largest total of its arrays): about 70,000 frames of
DeepMimic text, far beyond any motion worth imitating, and small enough to parse in a few seconds."""
MIN_FRAME_SECONDS = 1e-4
MAX_FRAME_SECONDS = 10.0
"""A row's duration must lie in [MIN, MAX]: a typo such as 1e6 s would otherwise become millions
of resampled frames (measured: the trainer asked for 78.7 GiB, Blender was killed at 23 GB)."""
MAX_CLIP_SECONDS = 600.0
"""A clip's whole duration: ten minutes of motion; the simulator tabulates it at 240 Hz per env."""
MAX_RESAMPLED_FRAMES = 200_000
"""Most frames `resample` makes (MAX_CLIP_SECONDS at 240 Hz, with room): about 70 MB of rows."""


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
        if not self.duration * fps < MAX_RESAMPLED_FRAMES:
            raise InvalidInputError(
                f"{self.duration:.1f} s at {fps:g} fps would make more than {MAX_RESAMPLED_FRAMES:,} frames",
                "use a shorter clip or a lower frame rate",
            )
        count = max(2, int(round(self.duration * fps)) + 1)
        if count == self.num_frames and np.allclose(self.frames[:-1, 0], self.duration / (count - 1), rtol=1e-9, atol=0.0):
            # Already evenly spaced at this rate: resampling would only re-interpolate the same poses.
            return MotionClip(self.frames.copy(), loop=self.loop, extras=dict(self.extras), name=self.name)
        t = np.linspace(0.0, self.duration, count)
        frames = self.sample(t) if self.loop != "wrap" else _sample_within_cycle(self, t)
        frames[:, 0] = self.duration / (count - 1)
        return MotionClip(frames, loop=self.loop, extras=dict(self.extras), name=self.name)


def _sample_within_cycle(clip: MotionClip, t: np.ndarray) -> np.ndarray:
    # The last sample sits exactly at the cycle end: sample the last frame, not the next cycle's start.
    out = clip.sample(np.minimum(t, np.nextafter(clip.duration, 0.0)))
    out[-1, 1:] = clip.frames[-1, 1:]
    return out


# --- validation (every format) ------------------------------------------------------------------
_HINT = "fix or regenerate the clip file"
Where = Callable[[int | None], str]
"""Names frame i (or the whole array for None) in messages: "file:line: frame i" or "file: 'frames' frame i"."""


def validate_frames(frames: np.ndarray, where: Where) -> None:
    """Raise ClipFormatError unless `frames` (F, 44) holds finite numbers, durations within bounds and
    quaternions that can be meant as rotations. `where(i)` names row i for the message ("file:line: frame i")."""
    if frames.ndim != 2 or frames.shape[1] != FRAME_WIDTH:
        raise ClipFormatError(f"{where(None)} has shape {frames.shape}, expected (frames, {FRAME_WIDTH})", _HINT)
    if len(frames) < 2:
        raise ClipFormatError(f"{where(None)}: a clip needs at least 2 frames, found {len(frames)}", _HINT)
    bad = ~np.isfinite(frames).all(axis=1)
    if bad.any():
        raise ClipFormatError(f"{where(_first(bad))} holds NaN or infinity", _HINT)
    durations = frames[:-1, 0]
    bad = ~((durations >= MIN_FRAME_SECONDS) & (durations <= MAX_FRAME_SECONDS))
    if bad.any():
        i = _first(bad)
        word = "non-positive" if durations[i] <= 0 else "out-of-range"
        raise ClipFormatError(
            f"{where(i)} has a {word} duration {durations[i]} s",
            f"a frame lasts between {MIN_FRAME_SECONDS} and {MAX_FRAME_SECONDS} s (the first column); {_HINT}",
        )
    total = float(durations.sum())
    if total > MAX_CLIP_SECONDS:
        raise ClipFormatError(f"{where(None)}: the clip lasts {total:.1f} s, more than {MAX_CLIP_SECONDS:.0f} s",
                              "trim the clip to the motion to imitate")
    for start in QUAT_COLUMNS:
        with np.errstate(over="ignore"):  # 1e300 squared is inf: rejected below all the same
            norm = np.linalg.norm(frames[:, start : start + 4], axis=1)
        bad = np.abs(norm - 1.0) > _UNIT_TOLERANCE
        if bad.any():
            i = _first(bad)
            raise ClipFormatError(
                f"{where(i)}: quaternion in columns {start}-{start + 3} has length {norm[i]:.4f}, expected 1", _HINT
            )


def _first(mask: np.ndarray) -> int:
    return int(np.argmax(mask))


def _check_loop(loop, where: str) -> None:
    if not isinstance(loop, str) or loop not in LOOP_MODES:
        raise ClipFormatError(f"{where}: unknown Loop mode {loop!r}", f"use one of {LOOP_MODES}")


def _checked_clip(frames: np.ndarray, loop, extras, name: str, where: Where, loop_where: str) -> MotionClip:
    """The one path from loaded values to a MotionClip, whatever the file format."""
    _check_loop(loop, loop_where)
    if not isinstance(extras, dict):
        raise ClipFormatError(f"{where(None)}: extras must be a JSON object, got {type(extras).__name__}", _HINT)
    validate_frames(frames, where)
    return MotionClip(frames, loop=loop, extras=extras, name=name)


def _check_size(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ClipFormatError(f"{path}: cannot read clip: {exc}", "check the path") from exc
    if size > MAX_CLIP_BYTES:
        raise ClipFormatError(
            f"{path}: the clip file is {size / 2**20:.0f} MiB, more than the {MAX_CLIP_BYTES // 2**20} MiB limit",
            "trim the clip to the motion to imitate, or resample it to a lower frame rate",
        )


# --- DeepMimic text I/O -------------------------------------------------------------------------
_ROW = re.compile(r"\[([^\[\]]*)\]")


def _frame_line(text: str, index: int) -> int:
    """1-based line number of frame row `index` inside the "Frames" array (1 if it cannot be found).

    Only called for the row an error names: one pass over the text, counting newlines as it goes."""
    start = text.find("[", text.find('"Frames"'))
    line, pos = 1 + text.count("\n", 0, start + 1), start + 1
    for i, match in enumerate(_ROW.finditer(text, start + 1)):
        line += text.count("\n", pos, match.start())
        pos = match.start()
        if i == index:
            return line
    return 1


def load_deepmimic(path: str | os.PathLike) -> MotionClip:
    """Read a DeepMimic clip; raises ClipFormatError naming the file and line of the problem."""
    path = Path(path)
    hint = "fix or regenerate the clip file (DeepMimic format: JSON with 'Loop' and 'Frames')"
    _check_size(path)
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
    except RecursionError as exc:
        raise ClipFormatError(f"{path}:1: the JSON is nested too deeply to be a clip", hint) from exc
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise ClipFormatError(f"{path}:1: not a usable JSON clip: {exc}", hint) from exc
    if not isinstance(data, dict) or not isinstance(data.get("Frames"), list):
        raise ClipFormatError(f"{path}:1: no 'Frames' array", hint)
    rows = data.pop("Frames")
    loop = data.pop("Loop", "wrap")

    def where(i: int | None) -> str:
        return f"{path}:1" if i is None else f"{path}:{_frame_line(text, i)}: frame {i}"

    if len(rows) < 2:
        raise ClipFormatError(f"{where(None)}: a clip needs at least 2 frames, found {len(rows)}", hint)
    _check_loop(loop, f"{path}:1")  # before the rows: a wrong mode is the likelier mistake
    frames = _rows_to_array(rows, where)
    return _checked_clip(frames, loop, data, path.stem, where, f"{path}:1")


def _rows_to_array(rows: list, where: Where) -> np.ndarray:
    """(F, 44) floats from JSON rows, or ClipFormatError naming the first row that is not 44 numbers."""
    for i, row in enumerate(rows):
        if type(row) is not list or len(row) != FRAME_WIDTH:
            count = len(row) if isinstance(row, list) else "no list of"
            raise ClipFormatError(f"{where(i)} has {count} numbers, expected {FRAME_WIDTH}", _HINT)
    # One pass over every value at C speed; the row loop below runs only to name the culprit.
    if not set(map(type, itertools.chain.from_iterable(rows))) <= {int, float}:
        for i, row in enumerate(rows):
            if not all(type(v) in (int, float) for v in row):
                raise ClipFormatError(f"{where(i)} holds something that is not a number", _HINT)
    try:
        return np.array(rows, dtype=np.float64)
    except OverflowError:  # an integer beyond float range
        i = next(i for i, row in enumerate(rows) if any(type(v) is int and not _fits_float(v) for v in row))
        raise ClipFormatError(f"{where(i)} holds a number beyond float range", _HINT) from None


def _fits_float(value: int) -> bool:
    try:
        float(value)
    except OverflowError:
        return False
    return True


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
    """The clip and any extra arrays stored beside it; raises ClipFormatError naming the file and field."""
    path = Path(path)
    _check_size(path)
    contents = _read_npz_arrays(path)

    def field(key: str, kind: str, required: bool = True):
        if key not in contents:
            if required:
                raise ClipFormatError(f"{path}: the clip .npz has no {key!r} array", "regenerate the file")
            return None
        value = contents.pop(key)
        if kind != "frames" and (value.shape != () or value.dtype.kind not in kind):
            raise ClipFormatError(f"{path}: {key!r} must be a single {'string' if kind == 'U' else 'integer'}, "
                                  f"got a {value.dtype} array of shape {value.shape}", "regenerate the file")
        return value

    version = field("version", "iu")
    if int(version) != NPZ_VERSION:
        raise ClipFormatError(f"{path}: clip .npz version {int(version)}, expected {NPZ_VERSION}", "regenerate the file")
    frames = field("frames", "frames")
    if frames.dtype.kind not in "fiu":
        raise ClipFormatError(f"{path}: 'frames' holds {frames.dtype} values, not numbers", "regenerate the file")
    loop = str(field("loop", "U"))
    name = field("name", "U", required=False)
    extras = field("extras", "U", required=False)
    try:
        extras = {} if extras is None else json.loads(str(extras))
    except (ValueError, RecursionError) as exc:
        raise ClipFormatError(f"{path}: 'extras' is not valid JSON: {exc}", "regenerate the file") from exc

    def where(i: int | None) -> str:
        return f"{path}: 'frames'" if i is None else f"{path}: 'frames' frame {i}"

    clip = _checked_clip(frames.astype(np.float64), loop, extras, "" if name is None else str(name), where,
                         f"{path}: 'loop'")
    return clip, contents


def _read_npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz, after checking from the headers that together they fit MAX_CLIP_BYTES
    (a crafted header can claim any shape, a member can inflate without bound); pickles are refused."""
    unreadable = (OSError, ValueError, EOFError, NotImplementedError, zipfile.BadZipFile, zlib.error)
    headers = {1: np.lib.format.read_array_header_1_0, 2: np.lib.format.read_array_header_2_0}
    arrays, total = {}, 0
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                with archive.open(member) as stream:
                    major, _ = np.lib.format.read_magic(stream)
                    if major not in headers:
                        raise ValueError(f"{member}: .npy format version {major} is not supported")
                    shape, _, dtype = headers[major](stream)
                    total += math.prod(shape) * dtype.itemsize
                    if total > MAX_CLIP_BYTES:
                        raise ClipFormatError(f"{path}: the arrays of the .npz need more than "
                                              f"{MAX_CLIP_BYTES // 2**20} MiB", "trim the clip to the motion to imitate")
                with archive.open(member) as stream:
                    arrays[member.removesuffix(".npy")] = np.lib.format.read_array(stream, allow_pickle=False)
    except unreadable as exc:
        raise ClipFormatError(f"{path}: not a readable .npz clip: {exc}", "regenerate the file") from exc
    return arrays


def load_clip(path: str | os.PathLike) -> MotionClip:
    """Load a clip from DeepMimic text (.txt/.json) or .npz."""
    path = Path(path)
    if not path.exists():
        raise ClipFormatError(f"{path}: no such clip file", "check the path")
    if path.suffix == ".npz":
        return load_npz(path)[0]
    return load_deepmimic(path)
