"""Jumps tried: which training episodes were attempts at the reference's move, counted the way the film
counts them (an attempt = an episode that reaches the take-off phase of the reference).

Take-off is read off the reference clip itself: the first frame in which no body of the reference touches
the ground (`judge.ground_contacts`, at the judge's 30 fps); the backflip takes off at 0.67 s. An episode
counts when it starts at or before take-off and lasts until it (an episode started mid-flight by reference
state initialisation attempts no jump). A clip with no flight (walk, cartwheel) has no take-off: there an
episode counts once it lasts `NO_FLIGHT_SECONDS`, i.e. it did more than fall from its start pose.
"""
from __future__ import annotations

import math

import numpy as np

from backflip_addon.core.clip import MotionClip

from . import judge

NO_FLIGHT_SECONDS = 0.3
"""s: how long an episode of a clip without flight must last to count as an attempt"""
JUDGE_FPS = 30.0
_EPS = 1e-6


def takeoff_time(clip: MotionClip) -> float | None:
    """s: the first time the reference has nothing on the ground, or None for a clip without flight."""
    frames = clip.resample(JUDGE_FPS).frames
    airborne = np.flatnonzero(~judge.ground_contacts(frames).any(axis=1))
    return None if not len(airborne) else float(airborne[0] / JUDGE_FPS)


def count_attempts(end_times: np.ndarray, lengths: np.ndarray, takeoff: float | None,
                   cycle: float | None = None) -> int:
    """How many of the episodes ending at clip times `end_times` (s) after `lengths` seconds were attempts.

    `cycle` (s) is the period of a wrapping clip: its take-off comes again every cycle, and an episode
    counts when any of them falls inside it; None for a clip played once.
    """
    end = np.asarray(end_times, dtype=np.float64)
    length = np.asarray(lengths, dtype=np.float64)
    if takeoff is None:
        return int(np.sum(length >= NO_FLIGHT_SECONDS - _EPS))
    start = end - length
    if cycle is None or not math.isfinite(cycle) or cycle <= 0:
        return int(np.sum((start <= takeoff + _EPS) & (end >= takeoff - _EPS)))
    next_takeoff = takeoff + cycle * np.ceil((start - takeoff) / cycle - _EPS)  # the first at or after start
    return int(np.sum(next_takeoff <= end + _EPS))
