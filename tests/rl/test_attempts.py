"""Jumps tried: take-off read off the reference, and which episodes count as attempts."""
from __future__ import annotations

import numpy as np
import pytest

from backflip_addon.core.clip import load_clip
from trainer_service.rl import attempts


def test_takeoff_is_read_off_the_reference_and_a_walk_has_none(backflip_clip_path, motions_dir):
    takeoff = attempts.takeoff_time(load_clip(backflip_clip_path))
    assert takeoff == pytest.approx(0.667, abs=0.02)  # the mocap's feet leave the floor at frame 20 of 30 fps
    assert attempts.takeoff_time(load_clip(motions_dir / "humanoid3d_walk.txt")) is None


def test_an_attempt_starts_before_takeoff_and_lasts_until_it():
    # episodes (end time, length): fell before take-off; reached it; started mid-flight; exactly at it
    end = np.array([0.5, 1.2, 1.5, 0.7])
    length = np.array([0.4, 1.0, 0.3, 0.2])
    assert attempts.count_attempts(end, length, takeoff=0.7) == 2


def test_a_wrapping_clip_takes_off_again_every_cycle():
    # cycle 1 s, take-off at 0.6: an episode from 0.8 to 1.7 reaches the second take-off (1.6)
    assert attempts.count_attempts([1.7, 1.5], [0.9, 0.7], takeoff=0.6, cycle=1.0) == 1


def test_without_flight_an_episode_counts_once_it_lasts_the_minimum():
    seconds = attempts.NO_FLIGHT_SECONDS
    assert attempts.count_attempts([5.0, 5.0, 5.0], [seconds - 0.05, seconds, 2.0], takeoff=None) == 2
