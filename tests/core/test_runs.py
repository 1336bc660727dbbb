"""Runs of True over frames (backflip_addon/core/runs.py): the edges, the longest, none; the gravity a flight reads."""
from __future__ import annotations

import numpy as np
import pytest

from backflip_addon.core.runs import flight_gravity, longest_run, true_runs


def test_runs_are_half_open_and_include_both_ends():
    mask = np.array([1, 1, 0, 1, 0, 0, 1, 1, 1], dtype=bool)
    assert true_runs(mask) == [(0, 2), (3, 4), (6, 9)]
    assert longest_run(mask) == 3


def test_no_run_in_an_empty_or_all_false_mask():
    assert true_runs(np.zeros(5, dtype=bool)) == [] and longest_run(np.zeros(5, dtype=bool)) == 0
    assert true_runs(np.zeros(0, dtype=bool)) == [] and longest_run(np.zeros(0, dtype=bool)) == 0
    assert true_runs(np.ones(4, dtype=bool)) == [(0, 4)]


def test_the_gravity_check_reads_only_a_flight_that_rises_clear_of_the_fits_jitter():
    fps = 30.0
    t = np.arange(15) / fps
    flight = np.zeros(21, dtype=bool)
    flight[3:18] = True
    jump = np.zeros(21)
    jump[3:18] = 1.0 + 2.3 * t - 0.5 * 9.81 * t**2  # rises 0.27 m
    assert flight_gravity(jump, flight, fps, min_frames=6, min_rise=0.05) == pytest.approx(9.81, rel=1e-6)
    low = np.zeros(21)
    low[3:18] = 1.0 + 0.23 * t - 0.5 * 0.981 * t**2  # a curve of 2.7 cm: within the fit's jitter
    assert np.isnan(flight_gravity(low, flight, fps, min_frames=6, min_rise=0.05))
    assert flight_gravity(low, flight, fps, min_frames=6, min_rise=0.01) == pytest.approx(0.981, rel=1e-6)
    assert np.isnan(flight_gravity(jump, flight, fps, min_frames=16, min_rise=0.05))  # too short
    assert np.isnan(flight_gravity(jump, np.zeros(21, dtype=bool), fps, min_frames=6, min_rise=0.05))
    # ... but a body that floats flat for longer than any flight is read (and warns): a sideways video.
    flat, floating = np.zeros(40), np.ones(40, dtype=bool)
    assert flight_gravity(flat, floating, fps, min_frames=6, min_rise=0.05, long_s=0.6) == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(flight_gravity(flat, floating, fps, min_frames=6, min_rise=0.05))
