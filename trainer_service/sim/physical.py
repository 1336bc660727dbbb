"""A physically consistent pre-pass on a reference clip (numpy only, no pybullet).

A clip extracted from video keeps its timing, rotations and limb poses well, but its root path is
often impossible: the body floats or sinks, rises too high in flight (the metric scale is a guess)
and slides while a foot stands. The simulator imitates the root too, so such a clip punishes the
policy for what physics cannot follow. This pass changes the root position only:

- phases from the clip itself: a body touches the ground when its lowest point is within
  `support_height` of it; flight = no body touching, for at least `min_flight_s`, between two frames that
  touch (a clip starts and ends on the ground: a gap at its edge counts as touching), while the centre
  of mass falls (`flight_fall_share`);
- while something touches, the lowest point of the body sits exactly on the ground (y = 0), which
  also makes the root height agree with the skeleton's leg length;
- in flight the centre of mass follows a ballistic arc under `gravity` between the take-off and
  landing frames (the flight time then fixes the height, and with it the metric scale of the rise),
  and moves at a constant horizontal velocity.

Feet sliding while planted are left alone (so a root path stretched along the ground stays stretched):
the clean mocap clips do not keep humanoid3d's feet still to that precision. Anchoring the foot box's
centre moved the mocap backflip's root by 13 cm (the box rolls from heel to toe); anchoring its lowest
corner while that corner stays the lowest moved the walk's root 18 cm on average and the roll's 53 cm.

Joint and root rotations and the frame timing are never changed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backflip_addon.core.clip import MotionClip
from backflip_addon.core.kinematics import forward_kinematics, lowest_points, shape_centers
from backflip_addon.core.runs import flight_gravity, parabola_gravity, true_runs
from backflip_addon.core.skeleton import ROOT_POS, humanoid3d

GRAVITY = 9.81
"""m/s^2, as in the simulator's world."""
GRAVITY_FIT_FRAMES = 4
"""the gravity check reads a flight of at least this many frames (nan otherwise)"""

_SKELETON = humanoid3d()
_MASS_FRACTION = np.array([b.mass for b in _SKELETON.bodies]) / sum(b.mass for b in _SKELETON.bodies)


@dataclass(frozen=True)
class PrepassConfig:
    """Thresholds of the pre-pass (metres, seconds)."""

    support_height: float = 0.05
    """m: a body whose lowest point is within this of the ground touches it."""
    min_flight_s: float = 0.15
    """s: shorter gaps without support are bridged, not made ballistic."""
    ground_percentile: float = 10.0
    """The ground is this percentile of the per-frame lowest point of the whole body (a clip's own floor)."""
    gravity: float = GRAVITY
    """m/s^2 along -Y during flight."""
    flight_fall_share: float = 0.3
    """A gap counts as a flight only if its centre of mass falls at least this share of `gravity` (a parabola
    fitted over it): nothing free falls slower. The mocap get-up's two gaps (kneeling a few cm off its floor)
    read 1.3 and -2.2 m/s^2, and arcs would have thrown its root about; the flights of the mocap clips, the
    sample video's extraction and the degraded backflips read 5.1-18.3."""


@dataclass(frozen=True)
class ClipPhases:
    """Per frame: what touches the ground."""

    lowest: np.ndarray  # (F, B) m, lowest point of each body above the clip's ground
    ground: float  # m, height of the clip's ground (the simulator's is y = 0)
    support: np.ndarray  # (F,) bool, some body touches the ground (or should: see detect_phases)
    flight: np.ndarray  # (F,) bool, nothing touches, inside a gap of at least min_flight_s
    com: np.ndarray  # (F, 3) m, centre of mass (whether a gap falls like a flight)


@dataclass(frozen=True)
class PrepassReport:
    """What the pass measured and changed (metres, m/s^2)."""

    gravity_before: float
    """m/s^2 of a parabola fitted to the centre-of-mass height over the longest flight (nan: no flight)."""
    gravity_after: float
    """m/s^2 over the same flight after the pass (9.81 where one was made ballistic)."""
    rise_before: float
    """m: the root's highest point above its height at the first frame."""
    rise_after: float
    flight_seconds: float
    """s: the longest flight found."""
    root_change_max: float
    """m: largest move of the root position."""
    root_change_mean: float
    """m: mean move of the root position."""

    def as_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in self.__dict__.items()}


def detect_phases(frames: np.ndarray, fps: float, config: PrepassConfig = PrepassConfig()) -> ClipPhases:
    """Support and flight of DeepMimic rows (F, 44) sampled at `fps`."""
    lowest = lowest_points(frames)
    floor = lowest.min(axis=1)
    ground = float(np.percentile(floor, config.ground_percentile))
    lowest = lowest - ground
    support = lowest.min(axis=1) < config.support_height
    com = _centre_of_mass(frames)
    flight = np.zeros(len(frames), dtype=bool)
    for lo, hi in true_runs(~support):
        if (hi - lo) / fps < config.min_flight_s and 0 < lo and hi < len(frames):
            continue  # a run's step or a hop: bridged by `_vertical_offsets`
        if lo == 0 or hi == len(frames) or not _falls(com[lo:hi, 1], fps, config):
            # A clip starts and ends on the ground, and a body that does not fall is held up: either way the
            # clip got its ground wrong and the lowest body stands on it (the mocap backflip's root path scaled
            # 1.5x lifted its first and last 0.4 s of standing 0.1 m off its floor, and the arcs made of them
            # floated the reference the policy imitates; bridged, dance_b's 0.43 s gap that does not fall
            # stayed up to 11 cm above the floor).
            support[lo:hi] = True
        else:
            flight[lo:hi] = True
    return ClipPhases(lowest, ground, support, flight, com)


def _falls(height: np.ndarray, fps: float, config: PrepassConfig) -> bool:
    """Whether `height` (m per frame) curves down like a free fall (see `PrepassConfig.flight_fall_share`);
    under 3 frames nothing can be read, and it is not a flight."""
    return len(height) >= 3 and parabola_gravity(height, fps) >= config.flight_fall_share * config.gravity


def make_physical(clip: MotionClip, config: PrepassConfig = PrepassConfig()) -> tuple[MotionClip, PrepassReport]:
    """The clip with a physically consistent root path (see the module docstring), and what changed."""
    frames = clip.frames.copy()
    fps = clip.fps
    phases = detect_phases(frames, fps, config)
    com = phases.com
    root = frames[:, ROOT_POS].copy()
    height = _vertical_offsets(phases, com[:, 1], fps, config.gravity)
    new_root = root.copy()
    new_root[:, 1] += height
    new_root[:, [0, 2]] = _horizontal_path(root[:, [0, 2]], phases.flight, com[:, [0, 2]])
    frames[:, ROOT_POS] = new_root
    out = MotionClip(frames, loop=clip.loop, extras=dict(clip.extras), name=clip.name)
    after_com_y = com[:, 1] + height  # the root moved by `height`, and the body with it
    moved = np.linalg.norm(new_root - root, axis=1)
    report = PrepassReport(
        gravity_before=flight_gravity(com[:, 1], phases.flight, fps, GRAVITY_FIT_FRAMES),
        gravity_after=flight_gravity(after_com_y, phases.flight, fps, GRAVITY_FIT_FRAMES),
        rise_before=float(root[:, 1].max() - root[0, 1]), rise_after=float(new_root[:, 1].max() - new_root[0, 1]),
        flight_seconds=max([(hi - lo) / fps for lo, hi in true_runs(phases.flight)], default=0.0),
        root_change_max=float(moved.max()), root_change_mean=float(moved.mean()),
    )
    return out, report


def _centre_of_mass(frames: np.ndarray) -> np.ndarray:
    pos, quat = forward_kinematics(frames)
    return np.einsum("fbk,b->fk", shape_centers(pos, quat), _MASS_FRACTION)


def _vertical_offsets(phases: ClipPhases, com_y: np.ndarray, fps: float, gravity: float) -> np.ndarray:
    """m to add to the root height per frame: supported frames touch the ground, flights are ballistic."""
    count = len(com_y)
    lowest = phases.lowest.min(axis=1) + phases.ground  # above y = 0
    offset = np.full(count, np.nan)
    offset[phases.support] = -lowest[phases.support]
    known = ~np.isnan(offset)
    if known.any():  # short unsupported gaps (and flights, overwritten below) bridge linearly
        offset = np.interp(np.arange(count), np.flatnonzero(known), offset[known])
    else:
        offset = np.zeros(count)
    for lo, hi in true_runs(phases.flight):
        offset[lo:hi] = _ballistic(com_y + offset, lo, hi, fps, gravity) - com_y[lo:hi]
    # An arc never pushes a body through the floor (a flight that starts or ends low).
    return np.maximum(offset, -lowest)


def _ballistic(com_y: np.ndarray, lo: int, hi: int, fps: float, gravity: float) -> np.ndarray:
    """Centre-of-mass heights over flight frames [lo, hi) on a parabola under `gravity` through the
    supported frames on either side (a flight never touches the clip's edge, see detect_phases)."""
    t0, t1 = (lo - 1) / fps, hi / fps
    y0, y1 = com_y[lo - 1], com_y[hi]
    v0 = (y1 - y0) / (t1 - t0) + 0.5 * gravity * (t1 - t0)
    tt = np.arange(lo, hi) / fps - t0
    return y0 + v0 * tt - 0.5 * gravity * tt * tt


def _horizontal_path(root: np.ndarray, flight: np.ndarray, com: np.ndarray) -> np.ndarray:
    """Root (x, z) per frame, rebuilt step by step: inside a flight (with its take-off and landing frames)
    the centre of mass moves by the flight's mean velocity each frame; any other step is kept."""
    step = np.diff(root, axis=0)
    offset = com - root
    for lo, hi in true_runs(flight):
        a, b = max(lo - 1, 0), min(hi, len(root) - 1)
        velocity = (com[b] - com[a]) / max(b - a, 1)
        step[a:b] = velocity - np.diff(offset[a : b + 1], axis=0)
    return root[0] + np.concatenate([np.zeros((1, 2)), np.cumsum(step, axis=0)])


