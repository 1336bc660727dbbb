"""Curve maths: Euler XYZ as Blender's, the Euler filter, key reduction within its tolerance."""
from __future__ import annotations

import math

import numpy as np
import pytest

from backflip_addon.core import curves
from backflip_addon.core import rotations as rot
from backflip_addon.core.errors import InvalidInputError


def test_euler_xyz_matches_blender_order() -> None:
    rng = np.random.default_rng(0)
    q = rot.normalize(rng.normal(size=(50, 4)))
    e = curves.quaternion_to_euler_xyz(q)
    rx = rot.from_axis_angle(np.array([1.0, 0, 0]), e[:, 0])
    ry = rot.from_axis_angle(np.array([0, 1.0, 0]), e[:, 1])
    rz = rot.from_axis_angle(np.array([0, 0, 1.0]), e[:, 2])
    back = rot.multiply(rz, rot.multiply(ry, rx))  # X first, then Y, then Z
    assert np.max(rot.angle_between(back, q)) < 1e-6  # arccos near 1 resolves ~1e-8


def test_euler_filter_removes_wraps_of_a_full_turn() -> None:
    # A full turn about Z plus a wobble about X, through the gimbal-free axis: raw atan2 wraps at ±π.
    t = np.linspace(0, 1, 120)
    q = rot.multiply(rot.from_axis_angle(np.array([0, 0, 1.0]), 2 * np.pi * t),
                     rot.from_axis_angle(np.array([1.0, 0, 0]), 0.3 * np.sin(6 * t)))
    raw = curves.quaternion_to_euler_xyz(q)
    assert np.max(np.abs(np.diff(raw, axis=0))) > np.pi  # the jump the filter must remove
    filtered = curves.euler_filter(raw)
    assert np.max(np.abs(np.diff(filtered, axis=0))) < 0.2
    assert filtered[-1, 2] - filtered[0, 2] == pytest.approx(2 * np.pi, abs=1e-6)


def test_reduce_keys_stays_within_tolerance_and_drops_keys() -> None:
    frames = np.arange(300, dtype=float)
    values = np.sin(frames / 17.0) + 0.2 * np.sin(frames / 3.0) + (frames > 150) * 0.5
    counts = []
    for tolerance in (1e-2, 1e-3, 1e-4):
        keep = curves.reduce_keys(values, tolerance)
        assert keep[0] == 0 and keep[-1] == 299
        played = np.interp(frames, frames[keep], values[keep])
        assert np.max(np.abs(played - values)) <= tolerance
        counts.append(len(keep))
    assert counts[0] < counts[1] < counts[2] <= 300
    assert len(curves.reduce_keys(values, 0.0)) == 300
    # A straight line needs its two ends only.
    assert curves.reduce_keys(2 * frames + 1, 1e-9).tolist() == [0, 299]


def test_key_options_check_their_input() -> None:
    with pytest.raises(InvalidInputError):
        curves.KeyOptions(rotation_mode="ZYX")
    with pytest.raises(InvalidInputError):
        curves.KeyOptions(interpolation="CONSTANT")
    with pytest.raises(InvalidInputError):
        curves.KeyOptions(rotation_tolerance_deg=-1)
    options = curves.KeyOptions(rotation_tolerance_deg=2.0, location_tolerance_mm=3.0)
    assert options.channel_tolerance("location") == pytest.approx(0.003 / math.sqrt(3))
    assert options.channel_tolerance("rotation") == pytest.approx(math.radians(2.0) / 4)


def test_between_takes_directions_onto_each_other() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    a[0], b[0] = [0, 0, 1.0], [0, 0, -2.0]  # opposite
    q = rot.between(a, b)
    got = rot.rotate(q, a / np.linalg.norm(a, axis=-1, keepdims=True))
    np.testing.assert_allclose(got, b / np.linalg.norm(b, axis=-1, keepdims=True), atol=1e-9)
