"""Benchmark: the film's other skills, trained with the backflip's defaults (no per-clip tuning).

    .venv/bin/python bench/skills.py --minutes 30                 # all seven clips, 30 min each
    .venv/bin/python bench/skills.py --minutes 2 --clips walk jump
    .venv/bin/python bench/skills.py --clips roll --init-from assets/stages/backflip --out out/bench_skills_warm

Each clip (pybullet_data's humanoid3d_<clip>.txt) trains in its own run folder under --out for --minutes
of the trainer's wall-clock; a folder that already holds a run is resumed until it has had its minutes
(so an interrupted bench picks up where it stopped), and one that has had them is only reported.
Prints one JSON line per clip (the last and best evaluated normalised return, the judge's label of the
last and best kept stage, the first success, samples, samples/s, the skill the judge read from the clip,
the folder a run started from when --init-from gave one)
and a summary line, and appends them to bench/results/skills.jsonl. The summary's `met` reads each clip's
last check within the target's 30 minutes, so a run resumed for longer does not meet it with later samples.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backflip_addon.core.clip import load_clip  # noqa: E402
from trainer_service.paths import pybullet_data_dir  # noqa: E402
from bench.support.budget import train_for  # noqa: E402
from bench.support.results import emit  # noqa: E402
from trainer_service.rl import progress, stages  # noqa: E402
from trainer_service.rl.skill import skill_of_clip  # noqa: E402

CLIPS = ("walk", "run", "jump", "roll", "cartwheel", "spinkick", "getup_faceup")
TARGET_CLIPS = ("walk", "run", "jump", "roll")
"""the issue's target: these reach a normalised return >= TARGET_RETURN and a sensible label in 30 min"""
TARGET_RETURN = 0.7
TARGET_MINUTES = 30.0
RESULTS = ROOT / "bench" / "results" / "skills.jsonl"


def clip_path(name: str) -> Path:
    return pybullet_data_dir() / "data" / "motions" / f"humanoid3d_{name}.txt"


def train(name: str, run_dir: Path, minutes: float, init_from: Path | None = None) -> None:
    """Train `name` in `run_dir` until the run has had `minutes` (resuming what is there); a new run starts
    from `init_from`'s policy when given (TrainConfig.init_from)."""
    from trainer_service.rl.config import TrainConfig

    train_for(clip_path(name), run_dir, minutes, TrainConfig(init_from=str(init_from.resolve()) if init_from else ""))


def report(name: str, run_dir: Path, minutes: float) -> dict:
    records = progress.read_progress(run_dir)
    evals = [r for r in records if r.get("event") == "eval"]
    train_records = [r for r in records if r.get("event") != "eval"]
    last = train_records[-1] if train_records else {"samples": 0, "wall_seconds": 0.0}
    index = stages.read_index(run_dir)
    best_stage = max(index, key=lambda s: s.normalised_return, default=None)
    success = stages.first_landing(index)
    best_eval = max(evals, key=lambda r: r["eval/normalised_return"], default=None)
    in_budget = [r for r in evals if r["wall_seconds"] <= TARGET_MINUTES * 60]
    loads = sorted(r["machine/load_1min"] for r in train_records if "machine/load_1min" in r)
    config_path = run_dir / "config.json"
    init_from = json.loads(config_path.read_text()).get("init_from", "") if config_path.exists() else ""
    return {
        "bench": "skills", "clip": name, "skill": skill_of_clip(load_clip(clip_path(name))).kind,
        "init_from": init_from, "minutes_budget": minutes, "wall_minutes": round(last["wall_seconds"] / 60, 2),
        "samples": last["samples"], "samples_per_second": round(last["samples"] / max(last["wall_seconds"], 1e-9), 1),
        "normalised_return": None if not evals else round(evals[-1]["eval/normalised_return"], 3),
        "label": None if not evals else evals[-1]["eval/label"],
        # what the target reads: a run resumed past the target's minutes must not meet it with later samples
        "normalised_return_at_target_minutes": None if not in_budget
        else round(in_budget[-1]["eval/normalised_return"], 3),
        "best_normalised_return": None if best_eval is None else round(best_eval["eval/normalised_return"], 3),
        "best_label": None if best_eval is None else best_eval["eval/label"],
        "last_stage": None if not index else {"index": index[-1].index, "label": index[-1].label,
                                              "normalised_return": round(index[-1].normalised_return, 3)},
        "best_stage": None if best_stage is None else {"index": best_stage.index, "label": best_stage.label,
                                                      "normalised_return": round(best_stage.normalised_return, 3)},
        "first_success": None if success is None else {"stage": success.index, "samples": success.samples,
                                                       "minutes": round(success.wall_seconds / 60, 2),
                                                       "label": success.label},
        "median_load_1min": None if not loads else round(loads[len(loads) // 2], 2),
        "machine": f"{os.cpu_count()} cores",
        "run": str(run_dir),
    }


def summary(lines: list[dict], minutes: float) -> dict:
    met = {line["clip"]: (line["normalised_return_at_target_minutes"] or 0.0) >= TARGET_RETURN
           for line in lines if line["clip"] in TARGET_CLIPS}
    return {
        "bench": "skills_summary", "minutes_each": minutes, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "clips": {line["clip"]: [line["normalised_return"], line["label"]] for line in lines},
        "successes": sum(line["first_success"] is not None for line in lines),
        "target": {"clips": list(TARGET_CLIPS), "normalised_return": TARGET_RETURN, "minutes": TARGET_MINUTES,
                   "met": met},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="trainer wall-clock per clip")
    parser.add_argument("--clips", nargs="+", default=list(CLIPS), choices=CLIPS)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench_skills")
    parser.add_argument("--results", type=Path, default=RESULTS, help="JSONL file the lines are appended to")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="new runs start from this run or stage folder's policy (TrainConfig.init_from)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    lines = []
    for name in args.clips:
        run_dir = args.out / name
        train(name, run_dir, args.minutes, args.init_from)
        lines.append(report(name, run_dir, args.minutes))
        emit(lines[-1], args.results)
    emit(summary(lines, args.minutes), args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
