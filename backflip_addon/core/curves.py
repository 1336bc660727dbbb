"""Animation-curve maths without bpy: Euler XYZ with a filter, and key reduction to a tolerance.

Blender's "XYZ" Euler mode applies X first, then Y, then Z: R = Rz · Ry · Rx.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import rotations as rot
from .errors import InvalidInputError

ROTATION_MODES = ("QUATERNION", "XYZ")
INTERPOLATIONS = ("LINEAR", "BEZIER")


@dataclass(frozen=True)
class KeyOptions:
    """How a bake writes its keys."""

    rotation_mode: str = "QUATERNION"
    """"QUATERNION" or "XYZ" (Euler, filtered so no curve jumps by 2π)"""
    interpolation: str = "LINEAR"
    """"LINEAR" or "BEZIER", for every key"""
    rotation_tolerance_deg: float = 0.0
    """largest rotation error a dropped key may cause; 0 keeps a key on every frame"""
    location_tolerance_mm: float = 0.0
    """largest location error a dropped key may cause; 0 keeps a key on every frame"""

    def __post_init__(self) -> None:
        if self.rotation_mode not in ROTATION_MODES:
            raise InvalidInputError(f"rotation mode {self.rotation_mode!r} is not one of {ROTATION_MODES}", "pick Quaternion or Euler XYZ")
        if self.interpolation not in INTERPOLATIONS:
            raise InvalidInputError(f"interpolation {self.interpolation!r} is not one of {INTERPOLATIONS}", "pick Linear or Bezier")
        if not (self.rotation_tolerance_deg >= 0 and self.location_tolerance_mm >= 0):
            raise InvalidInputError("key reduction tolerances must be >= 0", "use 0 to keep every frame")

    def channel_tolerance(self, kind: str) -> float:
        """Largest error allowed per curve value: radians-derived for rotations, metres for locations.

        A quaternion off by e in each of its 4 components is at most ~4e rad off (2·|δ|, |δ| ≤ 2e);
        an Euler triple off by e per angle is at most 3e rad off; so the per-curve tolerance is the
        rotation tolerance divided by 4 or 3; a location off by e on each axis is √3·e off.
        """
        if kind == "location":
            return self.location_tolerance_mm / 1000.0 / math.sqrt(3.0)
        per_curve = 4.0 if self.rotation_mode == "QUATERNION" else 3.0
        return math.radians(self.rotation_tolerance_deg) / per_curve


def quaternion_to_euler_xyz(q: np.ndarray) -> np.ndarray:
    """Euler angles (..., 3) in Blender's XYZ order of unit quaternions (..., 4) (w, x, y, z)."""
    m = rot.to_matrix(q)
    x = np.arctan2(m[..., 2, 1], m[..., 2, 2])
    y = np.arcsin(np.clip(-m[..., 2, 0], -1.0, 1.0))
    z = np.arctan2(m[..., 1, 0], m[..., 0, 0])
    return np.stack([x, y, z], axis=-1)


def _wrap_near(angle: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`angle` plus the multiple of 2π that brings it nearest `target`."""
    return angle + 2.0 * np.pi * np.round((target - angle) / (2.0 * np.pi))


def euler_filter(euler: np.ndarray) -> np.ndarray:
    """Make Euler XYZ curves (F, ..., 3) continuous in time, as Blender's Euler filter does.

    Each frame takes, of the two equivalent triples (x, y, z) and (x+π, π−y, z+π), the one that,
    after adding multiples of 2π per angle, lies nearest the previous (already filtered) frame.
    """
    out = np.array(euler, dtype=np.float64)
    for f in range(1, len(out)):
        prev = out[f - 1]
        a = _wrap_near(out[f], prev)
        flipped = out[f] + np.array([np.pi, 0.0, np.pi])
        flipped[..., 1] = np.pi - out[f][..., 1]
        b = _wrap_near(flipped, prev)
        use_b = np.sum((b - prev) ** 2, axis=-1) < np.sum((a - prev) ** 2, axis=-1)
        out[f] = np.where(use_b[..., None], b, a)
    return out


def reduce_keys(values: np.ndarray, tolerance: float) -> np.ndarray:
    """Indices of the keys to keep so that linear interpolation between them stays within `tolerance`
    of every frame's value (`values` (F,) sampled one per frame); always keeps the first and last.

    Ramer–Douglas–Peucker with the error measured along the value axis (what the curve shows at a
    frame), done breadth-first so a whole clip needs no recursion.
    """
    values = np.asarray(values, dtype=np.float64)
    count = len(values)
    if count <= 2 or tolerance <= 0.0:
        return np.arange(count)
    keep = np.zeros(count, dtype=bool)
    keep[[0, count - 1]] = True
    spans = [(0, count - 1)]
    while spans:
        start, end = spans.pop()
        if end - start < 2:
            continue
        t = np.arange(start + 1, end)
        line = values[start] + (values[end] - values[start]) * (t - start) / (end - start)
        error = np.abs(values[start + 1 : end] - line)
        worst = int(np.argmax(error))
        if error[worst] > tolerance:
            split = start + 1 + worst
            keep[split] = True
            spans += [(start, split), (split, end)]
    return np.flatnonzero(keep)


def linear_between_keys(frames: np.ndarray, keep: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The values at `frames` of the linear curve through the kept keys: what a reduced curve plays."""
    return np.interp(frames, frames[keep], values[keep])
