"""The physically consistent pre-pass on reference clips (pure numpy, no pybullet)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backflip_addon.core.clip import MotionClip, load_clip
from trainer_service.paths import pybullet_data_dir
from backflip_addon.core.runs import flight_gravity, true_runs
from trainer_service.rl.attempts import takeoff_time
from trainer_service.sim.physical import GRAVITY, PrepassConfig, detect_phases, make_physical

MOTIONS = pybullet_data_dir() / "data" / "motions"


def _mocap(name: str) -> MotionClip:
    return load_clip(MOTIONS / f"humanoid3d_{name}.txt")


# Measured: root moved mean / max (m) by the pass; the flips' flights become ballistic arcs. The get-ups' gaps
# (kneeling a few cm off the floor) do not fall like flights: as arcs they moved the root 9 / 59 cm.
@pytest.mark.parametrize("name, mean_cm, max_cm", [("backflip", 3, 13), ("walk", 1, 2), ("run", 3, 7),
                                                   ("jump", 2, 5), ("roll", 2, 10), ("getup_faceup", 3, 6),
                                                   ("getup_facedown", 3, 7)])
def test_clean_mocap_keeps_timing_and_poses_and_barely_moves_its_root(name: str, mean_cm: float, max_cm: float) -> None:
    clip = _mocap(name)
    out, report = make_physical(clip)
    np.testing.assert_array_equal(out.frames[:, 0], clip.frames[:, 0])
    np.testing.assert_array_equal(out.frames[:, 4:], clip.frames[:, 4:])  # every rotation untouched
    moved = np.linalg.norm(out.root_pos - clip.root_pos, axis=1)
    assert moved.mean() < mean_cm / 100 and moved.max() < max_cm / 100
    assert report.root_change_max == pytest.approx(moved.max())


def test_flights_become_ballistic_and_supported_frames_touch_the_ground() -> None:
    clip = _mocap("backflip")
    out, report = make_physical(clip)
    assert report.flight_seconds == pytest.approx(0.5)
    assert report.gravity_after == pytest.approx(GRAVITY, abs=1e-6) and abs(report.gravity_before - GRAVITY) > 0.2
    phases = detect_phases(out.frames, out.fps)
    lowest = phases.lowest.min(axis=1) + phases.ground
    assert np.abs(lowest[phases.support]).max() < 1e-9 and lowest.min() > -1e-9


def test_a_floating_clip_comes_down_and_an_inflated_flight_shrinks_to_what_its_time_allows() -> None:
    from bench.support.degrade import scaled_root_path

    clip = _mocap("backflip")
    clean, clean_report = make_physical(clip)
    lifted = clip.frames.copy()
    lifted[:, 2] += 0.25
    out, _ = make_physical(MotionClip(lifted, clip.loop))
    np.testing.assert_allclose(out.root_pos, clean.root_pos, atol=1e-9)
    inflated, report = make_physical(scaled_root_path(clip, 1.5, 0.3))
    assert report.rise_before > 0.7  # measured 0.74 m against the mocap's 0.29
    # Its flight lasts 0.5625 s against the mocap's 0.5 (the scaling lifts the feet a frame early and late), and
    # an arc that long rises g T^2 / 8 = 0.39 m, 0.08 m more: measured 0.48 against 0.365.
    assert clean_report.rise_after < report.rise_after < clean_report.rise_after + 0.15
    assert report.gravity_before > 15 and report.gravity_after == pytest.approx(GRAVITY)
    # Its stance before and after the flip (lifted 0.1 m off its floor by the scaling) stands on the ground:
    # one flight, the flip's, and the reference's take-off where the mocap's is.
    phases = detect_phases(inflated.frames, inflated.fps)
    lowest = phases.lowest.min(axis=1) + phases.ground
    assert np.abs(lowest[[0, -1]]).max() < 1e-9
    assert report.flight_seconds == pytest.approx(0.5625) and len(true_runs(phases.flight)) == 1
    assert takeoff_time(inflated) == pytest.approx(takeoff_time(clip), abs=0.07)  # 0.0 before


def test_flight_gravity_reads_a_parabola() -> None:
    t = np.arange(30) / 30.0
    height = 1.0 + 2.0 * t - 0.5 * 7.0 * t * t
    air = np.zeros(30, dtype=bool)
    air[5:20] = True
    assert flight_gravity(height, air, 30.0, min_frames=4) == pytest.approx(7.0)
    assert np.isnan(flight_gravity(height, np.zeros(30, dtype=bool), 30.0, min_frames=4))
    assert np.isnan(flight_gravity(height, air, 30.0, min_frames=16))  # 15 frames of flight: too short


@pytest.mark.parametrize("name", ["dance_b", "getup_faceup", "getup_facedown", "backflip", "run", "jump"])
def test_no_gap_as_long_as_a_flight_is_left_off_the_ground_unless_it_falls(name: str) -> None:
    # dance_b has a 0.43 s gap that does not fall: bridged between its edges it stayed up to 11 cm above the floor
    clip = _mocap(name)
    config = PrepassConfig()
    before = detect_phases(clip.frames, clip.fps, config)
    out, _ = make_physical(clip, config)
    after = detect_phases(out.frames, out.fps, config)
    up = after.lowest.min(axis=1) >= config.support_height
    for lo, hi in true_runs(up):
        assert (hi - lo) / clip.fps < config.min_flight_s or before.flight[lo:hi].all(), (lo, hi)


def test_the_gravity_after_the_pass_is_read_over_the_flights_it_made() -> None:
    # the run's 0.2 s flights shrink under min_flight_s once ballistic: read again they gave nan
    _, report = make_physical(_mocap("run"))
    assert report.flight_seconds == pytest.approx(0.2, abs=0.02) and report.gravity_after == pytest.approx(GRAVITY)
