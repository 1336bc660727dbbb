"""Runs of True over frames (backflip_addon/core/runs.py): the edges, the longest, none."""
from __future__ import annotations

import numpy as np

from backflip_addon.core.runs import longest_run, true_runs


def test_runs_are_half_open_and_include_both_ends():
    mask = np.array([1, 1, 0, 1, 0, 0, 1, 1, 1], dtype=bool)
    assert true_runs(mask) == [(0, 2), (3, 4), (6, 9)]
    assert longest_run(mask) == 3


def test_no_run_in_an_empty_or_all_false_mask():
    assert true_runs(np.zeros(5, dtype=bool)) == [] and longest_run(np.zeros(5, dtype=bool)) == 0
    assert true_runs(np.zeros(0, dtype=bool)) == [] and longest_run(np.zeros(0, dtype=bool)) == 0
    assert true_runs(np.ones(4, dtype=bool)) == [(0, 4)]
