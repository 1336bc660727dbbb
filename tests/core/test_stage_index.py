"""The stage browser's reader of stages.json is tolerant of new and missing fields, strict on broken files."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from backflip_addon.core.errors import InvalidInputError, NotFoundError
from backflip_addon.core.stage_index import best_landing, first_landing, read_stage_index
from tests.conftest import ROOT

RUN = ROOT / "assets" / "stages" / "backflip"


def test_shipped_run() -> None:
    stages = read_stage_index(RUN)
    raw = json.loads((RUN / "stages.json").read_text())["stages"]
    assert [s.index for s in stages] == sorted(e["index"] for e in raw)
    assert all(s.preview.is_file() for s in stages)
    landed = [e for e in raw if e["landed"]]
    assert first_landing(stages).index == landed[0]["index"]
    assert best_landing(stages).index == max(landed, key=lambda e: e["normalised_return"])["index"]


def test_tolerant_of_new_and_missing_fields(tmp_path: Path) -> None:
    (tmp_path / "stages.json").write_text(json.dumps({"format": 2, "stages": [
        {"index": 4, "folder": "stage_0004", "label": "lands", "landed": True, "new_metric": [1, 2]},
        {"index": 1, "folder": "stage_0001", "samples": "many", "normalised_return": None, "landed": "yes"},
    ]}))
    first, second = read_stage_index(tmp_path)
    assert (first.index, first.samples, first.landed, math.isnan(first.normalised_return)) == (1, 0, False, True)
    assert (second.label, second.landed, second.folder) == ("lands", True, tmp_path / "stage_0004")
    assert best_landing([first, second]) is second
    assert (first.rollout_seed, first.rollout_perturb) == (0, 0.0)  # older runs: the deterministic rollout


def test_the_rollout_a_stage_shows_is_read(tmp_path: Path) -> None:
    (tmp_path / "stages.json").write_text(json.dumps({"stages": [
        {"index": 1, "folder": "stage_0001", "rollout_seed": 3, "rollout_perturb": 0.05},
        {"index": 2, "folder": "stage_0002", "rollout_seed": -1, "rollout_perturb": "noisy"},
        {"index": 3, "folder": "stage_0003", "rollout_seed": True, "rollout_perturb": -0.1},
        {"index": 4, "folder": "stage_0004", "rollout_seed": 2.5, "rollout_perturb": float("inf")},
    ]}))
    shown, *damaged = read_stage_index(tmp_path)
    assert (shown.rollout_seed, shown.rollout_perturb) == (3, 0.05)
    assert all((s.rollout_seed, s.rollout_perturb) == (0, 0.0) for s in damaged)


@pytest.mark.parametrize("text, error, match", [
    (None, NotFoundError, "no stages.json"),
    ("{", InvalidInputError, "not a readable stage index"),
    ('{"stages": 3}', InvalidInputError, "no 'stages' list"),
    ('{"stages": [{"folder": "stage_0001"}]}', InvalidInputError, r"stages\[0\]: a stage entry without an integer 'index'"),
    ('{"stages": [{"index": 1}]}', InvalidInputError, "stage 1 has no 'folder'"),
])
def test_broken_index(tmp_path: Path, text, error, match) -> None:
    if text is not None:
        (tmp_path / "stages.json").write_text(text)
    with pytest.raises(error, match=match) as info:
        read_stage_index(tmp_path)
    assert info.value.hint
