"""The suite bench's bookkeeping: where renders are kept, and results merged case by case."""
from __future__ import annotations

import json
from pathlib import Path

from bench import video_suite as vs


def _line(case: str, pa: float, resolution: str = "1280x720") -> dict:
    c = next(c for c in vs.cases(list(vs.MOTIONS), list(vs.VIEWS), True) if c.name == case)
    return {"bench": "video_suite", "case": case, "motion": c.motion, "view": c.view, "blur": c.blur > 1,
            "camera": c.camera, "video": f"{case}_{resolution}.mp4", "ours_pa_mpjpe_mm": pa, "ours_inverted_mm": None,
            "raw_mediapipe_pa_mpjpe_mm": 80.0, "worse_than_raw": pa > 80.0, "root_path_length_ratio": 1.0,
            "root_trajectory_error_mm": 10.0, "pose_rate": 1.0}


def test_cache_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(vs.CACHE_ENV, str(tmp_path))
    assert vs.cache_dir() == tmp_path
    monkeypatch.delenv(vs.CACHE_ENV)
    assert vs.cache_dir() == vs.ROOT / "out" / "bench" / "video_suite"


def test_merge_replaces_the_same_cases_and_summarises_the_whole_file(tmp_path: Path):
    everything = vs.cases(list(vs.MOTIONS), list(vs.VIEWS), True)
    path = tmp_path / "suite.jsonl"
    old = [_line("backflip_side", 50.0), _line("walk_side", 90.0), _line("walk_side", 70.0, "640x360")]
    path.write_text("".join(json.dumps(x) + "\n" for x in old) + json.dumps({"bench": "video_suite_summary", "resolution": "1280x720"}) + "\n")
    total = vs.merge_results(path, [_line("walk_side", 60.0), _line("jump_front", 70.0)], "1280x720", everything)
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    at_720 = [r for r in rows if r["bench"] == "video_suite" and r["video"].endswith("_1280x720.mp4")]
    assert sorted((r["case"], r["ours_pa_mpjpe_mm"]) for r in at_720) == [("backflip_side", 50.0), ("jump_front", 70.0), ("walk_side", 60.0)]
    assert [r for r in rows if r.get("video", "").endswith("_640x360.mp4")] == [old[2]]  # other runs kept
    assert rows[-1] == total and sum(r["bench"] == "video_suite_summary" for r in rows) == 1
    assert total["cases"] == 3 and total["median_pa_mpjpe_mm"] == 60.0 and total["worse_than_raw"] == []
    assert "walk_front" in total["missing_cases"] and "walk_side" not in total["missing_cases"]
