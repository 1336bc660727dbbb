"""Which frames are acrobatic, read from the data: the flip priors (left/right symmetry, a steady
spin, trusting mediapipe's 3D more) apply there and only there (the steady spin also where the body
stands, see fit.spin_weights).

A frame is acrobatic when the torso is upside down or its up axis turns fast (a flip, a roll, a
cartwheel), and for a short margin around such frames (take-off and landing). A walk, a run, a
crawl, a pirouette (fast turn about the vertical: the up axis stays put) or lying on the floor is
not: there the limbs move in opposition and a symmetry prior would pull them together.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backflip_addon.core import rotations as rot

from .clean import gaussian_smooth


@dataclass(frozen=True)
class PhaseConfig:
    """Thresholds of the acrobatic phase."""

    inverted_below: float = -0.2
    """Torso up-ness (cosine of the torso's up axis with the scene's) below this is upside down."""
    turn_rate: float = 3.0
    """The torso's up axis turning faster than this (rad/s) is a flip or a roll (a walk stays under 1)."""
    margin_s: float = 0.2
    """Frames this close (seconds) to an acrobatic frame count too (take-off, landing)."""
    upright_upness: float = 0.85
    """Torso up-ness above this (and not acrobatic) is upright: standing, walking."""
    clearance: float = 0.08
    """A frame is airborne when its lowest visible landmark is this fraction of the standing body's
    image height above the lowest point of the upright frames (the ground, for a still camera)."""


@dataclass(frozen=True)
class Phases:
    upness: np.ndarray  # (N,) torso up axis . scene up, -1 (upside down) .. 1 (upright)
    up_rate: np.ndarray  # (N,) rad/s the torso's up axis turns
    acrobatic: np.ndarray  # (N,) 0..1 inverted or turning over (1 inside the phase, easing out at its edges)
    upright: np.ndarray  # (N,) bool, torso upright and not acrobatic
    airborne: np.ndarray  # (N,) bool, the whole body clear of the ground in the image
    flight: np.ndarray  # (N,) 0..1 acrobatic and airborne (a flip, not a roll or a cartwheel on the hands)


def airborne_frames(image: np.ndarray, visibility: np.ndarray, upright: np.ndarray, clearance: float) -> np.ndarray:
    """Frames (N,) whose lowest visible landmark (image (N, 33, 2) pixels, v down) is `clearance` standing
    heights above the ground, read as the lowest point of the upright frames (all frames when none is)."""
    seen = visibility > 0.5
    lowest = np.where(seen, image[..., 1], -np.inf).max(axis=1)
    highest = np.where(seen, image[..., 1], np.inf).min(axis=1)
    any_seen = seen.any(axis=1)
    stand = upright & any_seen
    ref = stand if stand.any() else any_seen
    if not ref.any():
        return np.zeros(len(image), dtype=bool)
    ground = float(np.median(lowest[ref])) if stand.any() else float(np.max(lowest[ref]))
    height = float(np.median((lowest - highest)[ref]))
    return any_seen & (lowest < ground - clearance * height)


def detect_phases(torso: np.ndarray, fps: float, cfg: PhaseConfig = PhaseConfig(), image: np.ndarray | None = None,
                  visibility: np.ndarray | None = None) -> Phases:
    """Phases of a clip from its torso rotations (N, 4) in the scene frame (x forward, y up, z right) and,
    for the airborne test, its 2D landmarks (N, 33, 2) and their visibility (N, 33) (without them no frame is)."""
    up = rot.rotate(torso, np.array([0.0, 1.0, 0.0]))
    upness = up[:, 1]
    step = np.arccos(np.clip(np.sum(up[1:] * up[:-1], axis=-1), -1.0, 1.0)) * fps
    rate = np.zeros(len(up))
    if len(up) > 1:
        # Each frame takes the mean of the steps on either side, smoothed over a few frames (mediapipe jitters).
        rate[1:] += step
        rate[:-1] += step
        rate[1:-1] *= 0.5
        rate = gaussian_smooth(rate[:, None], 1.5)[:, 0]
    core = (upness < cfg.inverted_below) | (rate > cfg.turn_rate)
    margin = int(round(cfg.margin_s * fps))
    grown = core.copy()
    for k in range(1, margin + 1):
        grown[k:] |= core[:-k]
        grown[:-k] |= core[k:]
    acrobatic = np.clip(np.maximum(_ease(grown, margin), core), 0.0, 1.0)
    upright = (upness > cfg.upright_upness) & (acrobatic < 0.5)
    airborne = (airborne_frames(image, visibility, upright, cfg.clearance) if image is not None
                else np.zeros(len(torso), dtype=bool))
    flight = np.clip(np.minimum(acrobatic, _ease(airborne, margin)), 0.0, 1.0)
    return Phases(upness, rate, acrobatic, upright, airborne, flight)


def _ease(mask: np.ndarray, margin: int) -> np.ndarray:
    """A 0/1 mask (N,) smoothed over half the margin, so that weights fade in and out."""
    return gaussian_smooth(mask.astype(float), max(margin / 2.0, 0.5))
