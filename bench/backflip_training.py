"""Benchmark: train on DeepMimic's backflip and report the way to the first landing.

    .venv/bin/python bench/backflip_training.py --minutes 120 --out out/bench_backflip
    .venv/bin/python bench/backflip_training.py --report-only --out out/backflip_run   # figures of a run

Prints one JSON line: samples and wall-clock to the first landed stage, the evaluated normalised
return over time, and the targets (first landing <= 10M samples and <= 60 min; normalised return
>= 0.73 within 2 h) beside the anchors they come from (DeepMimic's paper; the baseline a user would
try today, measured on this machine and recorded in ../shared/DESIGN.md). Wall-clock is the
trainer's own (summed over resumed sessions, evaluation included).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainer_service.paths import default_clip  # noqa: E402
from trainer_service.rl import progress, stages  # noqa: E402

PEERS = {
    "deepmimic_paper": {"samples_to_0729": 72_000_000, "normalised_return": 0.729,
                        "note": "paper, 16 workers, about a day"},
    "film_fork": {"landing_stage_samples": [7_600_000, 9_800_000], "note": "6-core CPU, more than a day"},
    "sb3_pybullet_deep_mimic_2cores": {"samples_in_70_min": 1_600_000, "samples_per_second": 380,
                                       "rollout_from_start": "knee down after 0.47 s, 35 deg rotation",
                                       "note": "measured on this machine, see DESIGN.md"},
}


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def report(run_dir: Path) -> dict:
    records = progress.read_progress(run_dir)
    index = stages.read_index(run_dir)
    evals = [r for r in records if r.get("event") == "eval"]
    train = [r for r in records if r.get("event") != "eval"]
    landed = stages.first_landing(index)
    reach = next((r for r in evals if r["eval/normalised_return"] >= 0.73), None)
    last = train[-1] if train else {"samples": 0, "wall_seconds": 0.0}
    best = max((r["eval/normalised_return"] for r in evals), default=None)
    best_2h = max((r["eval/normalised_return"] for r in evals if r["wall_seconds"] <= 120 * 60), default=None)
    # One evaluation is one deterministic rollout of a policy that moves every iteration; the median of
    # the checks in a window says where the policy sits, the best says what a kept stage can show.
    window_2h = [r["eval/normalised_return"] for r in evals if 100 * 60 < r["wall_seconds"] <= 120 * 60]
    config = json.loads((run_dir / "config.json").read_text())
    return {
        "bench": "backflip_training",
        "run": str(run_dir),
        "recipe": {"anneal_lr": config["ppo"]["anneal_lr"], "total_samples": config["total_samples"]},
        "machine": f"{os.cpu_count()} cores",
        # The run's own learner and workers make about 2.5 of it; more means other jobs shared the cores.
        "median_load_1min": _median([r["machine/load_1min"] for r in train if "machine/load_1min" in r]),
        "samples": last["samples"],
        "wall_minutes": round(last["wall_seconds"] / 60, 1),
        "samples_per_second": round(last["samples"] / max(last["wall_seconds"], 1e-9), 1),
        "first_landing": None if landed is None else {"stage": landed.index, "samples": landed.samples,
                                                      "minutes": round(landed.wall_seconds / 60, 1)},
        "best_normalised_return": best,
        "best_normalised_return_within_120_min": best_2h,
        "median_normalised_return_100_to_120_min": None if not window_2h else round(statistics.median(window_2h), 3),
        "normalised_return_0.73": None if reach is None else {"samples": reach["samples"],
                                                              "minutes": round(reach["wall_seconds"] / 60, 1)},
        "return_over_time": [[round(r["wall_seconds"] / 60, 1), r["samples"], round(r["eval/normalised_return"], 3),
                              r["eval/label"]] for r in evals],
        "stages": [[s.index, s.samples, s.label, round(s.normalised_return, 3)] for s in index],
        "targets": {"first_landing_samples": 10_000_000, "first_landing_minutes": 60,
                    "normalised_return": 0.73, "within_minutes": 120},
        "peers": PEERS,
        "curve": str(run_dir / progress.CURVE_NAME),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench_backflip")
    parser.add_argument("--minutes", type=float, default=120.0)
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--report-only", action="store_true", help="only report an existing run in --out")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.report_only:
        from trainer_service.rl.config import TrainConfig
        from trainer_service.rl.trainer import Trainer

        if args.resume:
            trainer = Trainer(None, args.out, resume=True, show_bar=False)
            trainer.config.minutes = args.minutes
        else:
            trainer = Trainer(default_clip(), args.out, TrainConfig(minutes=args.minutes), show_bar=False)
        trainer.run()
    print(json.dumps(report(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
