"""Stretches of frames where a condition holds (a foot planted, a flight, standing still), and the
gravity a flight's height reads: shared by the add-on's foot lock, the extraction, the pre-pass and the judge."""
from __future__ import annotations

import math

import numpy as np


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in `mask` (F,), in order."""
    edges = np.diff(np.concatenate([[0], np.asarray(mask, dtype=bool).astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of True in `mask` (0 if none)."""
    return max((end - start for start, end in true_runs(mask)), default=0)


def flight_gravity(height: np.ndarray, flight: np.ndarray, fps: float, min_frames: int, min_rise: float = 0.0,
                   long_s: float = math.inf) -> float:
    """m/s^2 read from a parabola fitted to `height` (F,) over the longest run of `flight` (the first of
    equals); nan if it is shorter than `min_frames`, or shorter than `long_s` seconds and rising less than
    `min_rise` (m) above its ends (a curve within the data's jitter)."""
    runs = true_runs(flight)
    if not runs:
        return float("nan")
    lo, hi = max(runs, key=lambda run: run[1] - run[0])
    if hi - lo < min_frames:
        return float("nan")
    arc = height[lo:hi]
    if arc.max() - max(arc[0], arc[-1]) < min_rise and (hi - lo) / fps < long_s:
        return float("nan")
    return parabola_gravity(arc, fps)


def parabola_gravity(height: np.ndarray, fps: float) -> float:
    """m/s^2 at which `height` (at least 3 frames) curves down: minus twice a fitted parabola's t^2 term."""
    return float(-2.0 * np.polyfit(np.arange(len(height)) / fps, height, 2)[0])
