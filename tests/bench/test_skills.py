"""bench/skills.py: the target reads the return within its 30 minutes, not the last one of a longer run."""
from __future__ import annotations

import json
from pathlib import Path

from bench import skills


def write_run(run_dir: Path, checks: list[tuple[float, float]]) -> None:
    """A run folder whose progress holds one training record and a check per (minutes, normalised return)."""
    run_dir.mkdir()
    records = [{"event": "eval", "wall_seconds": minutes * 60, "samples": int(minutes * 60_000),
                "eval/normalised_return": value, "eval/label": "keeps walking"} for minutes, value in checks]
    records.append({"samples": 3_600_000, "wall_seconds": checks[-1][0] * 60})
    (run_dir / "progress.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_a_return_reached_after_the_target_minutes_does_not_meet_the_target(tmp_path: Path):
    write_run(tmp_path / "late", [(10.0, 0.41), (29.5, 0.62), (55.0, 0.76)])
    write_run(tmp_path / "early", [(10.0, 0.55), (28.0, 0.71), (40.0, 0.69)])
    late = skills.report("walk", tmp_path / "late", minutes=60)
    early = skills.report("run", tmp_path / "early", minutes=60)
    assert late["normalised_return"] == 0.76 and late["normalised_return_at_target_minutes"] == 0.62
    assert early["normalised_return_at_target_minutes"] == 0.71
    met = skills.summary([late, early], minutes=60)["target"]["met"]
    assert met == {"walk": False, "run": True}


def test_the_report_names_the_folder_a_run_started_from(tmp_path: Path):
    write_run(tmp_path / "warm", [(10.0, 0.6)])
    (tmp_path / "warm" / "config.json").write_text(json.dumps({"init_from": "/stages/backflip", "ppo": {"seed": 1}}))
    write_run(tmp_path / "cold", [(10.0, 0.4)])
    assert skills.report("roll", tmp_path / "warm", minutes=30)["init_from"] == "/stages/backflip"
    assert skills.report("roll", tmp_path / "cold", minutes=30)["init_from"] == ""
