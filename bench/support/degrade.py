"""Degraded references the project can make, to test training that must cope with imperfect clips.

Each degradation copies a clip and spoils one thing a video extraction gets wrong, keeping the rest:
- `scaled_root_path`: the root's path from its first position scaled (1.5x) and its flight apex raised
  (0.3 m) -- an extraction with the wrong metric scale, as issue 20 measured on real footage;
- `joint_noise`: every joint rotation turned by a seeded random angle (5 degrees rms) -- landmark jitter;
- `time_warp`: the clip replayed at a speed wavering +-10 % (same length) -- an uneven frame clock;
- `extracted_clip`: the clip extracted from the sample video by the project's own `extract` command.

Only the bench and its tests use this module, so it lives beside them, outside the shipped trainer.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from backflip_addon.core import rotations as rot
from backflip_addon.core.clip import MotionClip, load_clip, save_deepmimic
from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.skeleton import BALL_COLUMNS, HINGE_COLUMNS, ROOT_POS

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_VIDEO = ROOT / "assets" / "video" / "backflip_side.mp4"


def scaled_root_path(clip: MotionClip, scale: float = 1.5, apex_raise: float = 0.3) -> MotionClip:
    """The root's displacement from its first position times `scale`, then lifted by `apex_raise` (m) at
    its highest point, in proportion to how far it rises above the first frame's height (none at or below it)."""
    frames = clip.frames.copy()
    root = frames[:, ROOT_POS]
    root = root[0] + scale * (root - root[0])
    rise = root[:, 1] - root[0, 1]
    if rise.max() > 0.0:
        root[:, 1] += apex_raise * np.clip(rise / rise.max(), 0.0, 1.0)
    frames[:, ROOT_POS] = root
    return _copy(clip, frames, f"root x{scale:g}, apex +{apex_raise:g} m")


def joint_noise(clip: MotionClip, degrees: float = 5.0, seed: int = 0) -> MotionClip:
    """Every spherical joint turned about a random axis by a Gaussian angle, and every hinge moved by one,
    both `degrees` rms, independently per frame (the root is kept: its path is `scaled_root_path`'s business)."""
    rng = np.random.default_rng(seed)
    frames = clip.frames.copy()
    sigma = math.radians(degrees)
    for column in BALL_COLUMNS:
        axis = rng.normal(size=(len(frames), 3))
        axis /= np.linalg.norm(axis, axis=1, keepdims=True)
        turn = rot.from_axis_angle(axis, rng.normal(0.0, sigma, len(frames)))
        frames[:, column : column + 4] = rot.multiply(rot.normalize(frames[:, column : column + 4]), turn)
    frames[:, HINGE_COLUMNS] += rng.normal(0.0, sigma, (len(frames), len(HINGE_COLUMNS)))
    return _copy(clip, frames, f"joint noise {degrees:g} deg")


def time_warp(clip: MotionClip, amount: float = 0.1) -> MotionClip:
    """The clip replayed at a speed 1 + amount * cos(2 pi t / T) of the original at each frame time t
    (T: its duration), so it keeps its length and frame times but runs up to `amount` fast, then slow."""
    if not 0.0 <= amount < 1.0:
        raise InvalidInputError(f"time warp amount must lie in [0, 1), got {amount}", "e.g. 0.1 for 10 %")
    t = clip.times
    period = clip.duration
    source = t + amount * period / (2.0 * math.pi) * np.sin(2.0 * math.pi * t / period)
    frames = clip.sample(np.clip(source, 0.0, np.nextafter(period, 0.0)))
    frames[:, 0] = clip.frames[:, 0]
    frames[[0, -1], 1:] = clip.frames[[0, -1], 1:]  # the ends do not move (sampling would normalise quaternions)
    return _copy(clip, frames, f"time warp {amount:.0%}")


def _copy(clip: MotionClip, frames: np.ndarray, what: str) -> MotionClip:
    return MotionClip(frames, loop=clip.loop, extras={**clip.extras, "degraded": what}, name=clip.name)


def extracted_clip(out_dir: Path, video: Path = SAMPLE_VIDEO, timeout: float = 900.0) -> Path:
    """The clip (.txt, with its .npz beside it) that `python -m trainer_service extract` makes from `video`;
    kept in `out_dir` and made again only when missing."""
    out = Path(out_dir) / f"{video.stem}.txt"
    if out.exists() and out.with_suffix(".npz").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    subprocess.run([sys.executable, "-m", "trainer_service", "extract", str(video), "--out", str(out)],
                   cwd=ROOT, env=env, check=True, timeout=timeout, stdout=subprocess.DEVNULL)
    return out


DEGRADATIONS: dict[str, Callable[[MotionClip], MotionClip]] = {
    "root_path_x1.5_apex+0.3m": scaled_root_path,
    "joint_noise_5deg": joint_noise,
    "time_warp_10pct": time_warp,
}
"""Name -> degradation of a mocap clip, with the defaults of issue 20."""


def make_references(source: Path, out_dir: Path, video: Path | None = SAMPLE_VIDEO) -> dict[str, Path]:
    """Write each degraded copy of `source` to `out_dir/NAME.txt` (and, with a `video`, its extracted clip);
    returns name -> path, the extracted clip as "extracted_sample_video"."""
    out_dir = Path(out_dir)
    clip = load_clip(source)
    paths = {}
    for name, degrade in DEGRADATIONS.items():
        path = out_dir / f"{name}.txt"
        save_deepmimic(degrade(clip), path)
        paths[name] = path
    if video is not None:
        paths["extracted_sample_video"] = extracted_clip(out_dir / "extracted", video)
    return paths
