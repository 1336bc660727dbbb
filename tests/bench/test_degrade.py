"""Degraded references made from the mocap backflip (bench/support/degrade.py)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from backflip_addon.core import rotations as rot
from backflip_addon.core.clip import MotionClip, load_clip
from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.skeleton import BALL_COLUMNS, HINGE_COLUMNS
from bench.support.degrade import DEGRADATIONS, joint_noise, make_references, scaled_root_path, time_warp


def test_root_path_scaled_and_apex_raised(backflip: MotionClip) -> None:
    out = scaled_root_path(backflip, 1.5, 0.3)
    root, start = backflip.root_pos, backflip.root_pos[0]
    apex = int(np.argmax(root[:, 1]))
    assert out.root_pos[apex, 1] - start[1] == pytest.approx(1.5 * (root[apex, 1] - start[1]) + 0.3)
    np.testing.assert_allclose(out.root_pos[:, [0, 2]] - start[[0, 2]], 1.5 * (root[:, [0, 2]] - start[[0, 2]]))
    below = root[:, 1] <= start[1]
    np.testing.assert_allclose(out.root_pos[below, 1] - start[1], 1.5 * (root[below, 1] - start[1]))
    np.testing.assert_array_equal(out.frames[:, 4:], backflip.frames[:, 4:])


def test_joint_noise_is_seeded_and_about_its_size(backflip: MotionClip) -> None:
    out = joint_noise(backflip, 5.0, seed=3)
    np.testing.assert_array_equal(out.frames, joint_noise(backflip, 5.0, seed=3).frames)
    angles = np.concatenate([rot.angle_between(rot.normalize(backflip.frames[:, c : c + 4]), out.frames[:, c : c + 4])
                             for c in BALL_COLUMNS])
    hinge = (out.frames[:, HINGE_COLUMNS] - backflip.frames[:, HINGE_COLUMNS]).ravel()
    # A Gaussian angle about a random axis: rms 5 degrees per spherical joint, and per hinge.
    assert math.degrees(np.sqrt(np.mean(angles**2))) == pytest.approx(5.0, rel=0.25)
    assert math.degrees(np.sqrt(np.mean(hinge**2))) == pytest.approx(5.0, rel=0.25)
    np.testing.assert_array_equal(out.frames[:, :8], backflip.frames[:, :8])


def test_time_warp_keeps_the_length_and_ends_but_shifts_the_middle(backflip: MotionClip) -> None:
    out = time_warp(backflip, 0.1)
    np.testing.assert_array_equal(out.frames[:, 0], backflip.frames[:, 0])
    np.testing.assert_allclose(out.frames[[0, -1], 1:], backflip.frames[[0, -1], 1:], atol=1e-12)
    # At a quarter of the clip the warped one shows the pose 0.1 * T / (2 pi) later (ahead by up to 10 % speed).
    quarter = backflip.duration / 4
    i = int(np.argmin(np.abs(backflip.times - quarter)))
    shift = 0.1 * backflip.duration / (2 * math.pi) * math.sin(2 * math.pi * backflip.times[i] / backflip.duration)
    np.testing.assert_allclose(out.frames[i, 1:4], backflip.sample(backflip.times[i] + shift)[0, 1:4], atol=1e-9)
    assert np.abs(out.root_pos - backflip.root_pos).max() > 0.05
    with pytest.raises(InvalidInputError) as info:
        time_warp(backflip, 1.5)
    assert info.value.hint


def test_make_references_writes_loadable_clips(backflip_clip_path: Path, tmp_path: Path) -> None:
    paths = make_references(backflip_clip_path, tmp_path, video=None)
    assert set(paths) == set(DEGRADATIONS)
    for name, path in paths.items():
        assert load_clip(path).extras["degraded"]
