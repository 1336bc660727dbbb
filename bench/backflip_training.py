"""Benchmark: train on DeepMimic's backflip, one seed after another, and report the way to the first landing.

    .venv/bin/python bench/backflip_training.py --seeds 1,2,3 --minutes 45 --out out/bench_backflip
    .venv/bin/python bench/backflip_training.py --report-only --out out/backflip_run   # figures of one run

Each seed trains in its own run folder (`OUT/seed_N`) for `--minutes` of trainer wall-clock. Re-running the
same command continues: a seed whose run has spent its minutes is reported as it is, an unfinished one is
resumed from its last checkpoint for the minutes it has left, a missing one is started. Prints one JSON line
per seed and one summary line (median and worst first landing, worst/median, median minutes to a
normalised return of 0.73), and appends them to bench/results/backflip_training.jsonl.

The figures read a run's milestone checks (the median of the deterministic and the perturbed rollouts, at
the checks' 240 Hz physics) and its stages; wall-clock is the trainer's own (summed over resumed sessions,
evaluation included). Targets (issue 20, 2 cores): first landing <= 10 min and normalised return >= 0.73
<= 30 min, median over 3 seeds; the worst seed <= 2x the median.
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

from backflip_addon.core.errors import BackflipError  # noqa: E402
from trainer_service.paths import default_clip  # noqa: E402
from bench.support.budget import train_for  # noqa: E402
from bench.support.results import emit  # noqa: E402
from trainer_service.rl import progress, stages  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "backflip_training.jsonl"
TARGETS = {"first_landing_minutes_median": 10, "normalised_return": 0.73, "normalised_return_minutes_median": 30,
           "worst_over_median": 2.0}
PEERS = {
    "deepmimic_paper": {"samples_to_0729": 72_000_000, "normalised_return": 0.729,
                        "note": "paper, 16 workers, about a day"},
    "film_fork": {"landing_stage_samples": [7_600_000, 9_800_000], "jumps_per_hour": 360,
                  "note": "6-core CPU, more than a day"},
    "shipped_run_240hz": {"first_landing_minutes": 25.5, "first_landing_samples": 1_600_512,
                          "minutes_to_0.73": 43.2, "note": "assets/stages/backflip, seed 1, 2 quiet cores"},
}


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def report(run_dir: Path) -> dict:
    """The figures of one run folder."""
    records = progress.read_progress(run_dir)
    index = stages.read_index(run_dir)
    evals = [r for r in records if r.get("event") == "eval"]
    train = [r for r in records if r.get("event") != "eval"]
    landed = stages.first_landing(index)
    reach = next((r for r in evals if r["eval/normalised_return"] >= TARGETS["normalised_return"]), None)
    last = train[-1] if train else {"samples": 0, "wall_seconds": 0.0}
    config = json.loads((run_dir / "config.json").read_text())
    return {
        "bench": "backflip_training",
        "run": str(run_dir),
        "seed": config["ppo"]["seed"],
        "recipe": {"anneal_lr": config["ppo"]["anneal_lr"], "total_samples": config["total_samples"],
                   "learning_rate": config["ppo"]["learning_rate"],
                   "target_kl": config["ppo"]["target_kl"],
                   "physics_hz": config["sim"]["physics_hz"], "rsi_adaptive": config["sim"].get("rsi_adaptive", 0.0),
                   "check_physics_hz": config["stages"].get("eval_physics_hz", config["sim"]["physics_hz"])},
        "machine": f"{os.cpu_count()} cores",
        # The run's own learner and workers make about 2.5 of it; more means other jobs shared the cores.
        "median_load_1min": _median([r["machine/load_1min"] for r in train if "machine/load_1min" in r]),
        "samples": last["samples"],
        "wall_minutes": round(last["wall_seconds"] / 60, 1),
        "samples_per_second": round(last["samples"] / max(last["wall_seconds"], 1e-9), 1),
        "jumps_tried": last.get("attempts"),
        "jumps_per_hour": None if "charts/jumps_per_hour" not in last else round(last["charts/jumps_per_hour"]),
        "first_landing": None if landed is None else {"stage": landed.index, "samples": landed.samples,
                                                      "minutes": round(landed.wall_seconds / 60, 1)},
        "best_normalised_return": max((r["eval/normalised_return"] for r in evals), default=None),
        "normalised_return_0.73": None if reach is None else {"samples": reach["samples"],
                                                              "minutes": round(reach["wall_seconds"] / 60, 1)},
        "return_over_time": [[round(r["wall_seconds"] / 60, 1), r["samples"], round(r["eval/normalised_return"], 3),
                              r["eval/label"]] for r in evals],
        "stages": [[s.index, s.samples, s.label, round(s.normalised_return, 3), s.reasons] for s in index],
        "curve": str(run_dir / progress.CURVE_NAME),
    }


def summary(seeds: list[dict], minutes: float) -> dict:
    """Median and worst over the seeds; a seed that never got there counts as worse than every other."""
    def spread(key: str, field: str) -> dict:
        values = [s[key][field] if s.get(key) else float("inf") for s in seeds]
        median, worst = statistics.median(values), max(values)
        finite = lambda v: None if v == float("inf") else round(v, 1)  # noqa: E731
        return {"median": finite(median), "worst": finite(worst), "reached": sum(v != float("inf") for v in values),
                "worst_over_median": None if median in (0, float("inf")) or worst == float("inf")
                else round(worst / median, 2)}

    loads = [s["median_load_1min"] for s in seeds if s.get("median_load_1min") is not None]
    return {
        "bench": "backflip_training_seeds",
        "seeds": [s.get("seed") for s in seeds],
        "minutes_per_seed": minutes,
        "machine": f"{os.cpu_count()} cores",
        "median_load_1min": _median(loads),
        "first_landing_minutes": spread("first_landing", "minutes"),
        "first_landing_samples": spread("first_landing", "samples"),
        "normalised_return_0.73_minutes": spread("normalised_return_0.73", "minutes"),
        "samples_per_second_median": _median([s["samples_per_second"] for s in seeds if "samples_per_second" in s]),
        "jumps_per_hour_median": _median([s["jumps_per_hour"] for s in seeds if s.get("jumps_per_hour") is not None]),
        "targets": TARGETS,
        "peers": PEERS,
    }


def train_seed(run_dir: Path, seed: int, minutes: float, physics_hz: int | None = None,
               rsi_adaptive: float | None = None, overrides: dict | None = None) -> None:
    """Start, continue or leave the seed's run so that it has trained `minutes` in all (a new run at
    `physics_hz`, with `rsi_adaptive` and the TrainConfig `overrides`, else the trainer's)."""
    from backflip_addon.core.config import from_dict
    from trainer_service.rl.config import TrainConfig

    config = from_dict(TrainConfig, overrides or {})
    config.ppo.seed = seed
    if physics_hz is not None:
        config.sim.physics_hz = physics_hz
    if rsi_adaptive is not None:
        config.sim.rsi_adaptive = rsi_adaptive
    train_for(default_clip(), run_dir, minutes, config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench_backflip")
    parser.add_argument("--seeds", default="1", help="comma-separated seeds, trained one after another, e.g. 1,2,3")
    parser.add_argument("--minutes", type=float, default=45.0, help="trainer wall-clock per seed")
    parser.add_argument("--physics-hz", type=int, default=None,
                        help="training physics rate of new runs (default: the trainer's, see rl/config.py)")
    parser.add_argument("--rsi-adaptive", type=float, default=None,
                        help="share of RSI starts drawn towards failing phases in new runs (sim/start_states.py)")
    parser.add_argument("--overrides", type=json.loads, default=None,
                        help='TrainConfig overrides of new runs as JSON, e.g. \'{"ppo": {"target_kl": 0.1}}\'')
    parser.add_argument("--report-only", action="store_true", help="only report the existing run in --out")
    parser.add_argument("--no-append", action="store_true", help=f"do not append to {RESULTS.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    results = None if args.no_append else RESULTS
    if args.report_only:
        emit(report(args.out), results)
    else:
        try:
            seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        except ValueError:
            parser.error(f"--seeds must be integers separated by commas, got {args.seeds!r}")
        if not seeds or args.minutes <= 0:
            parser.error("give at least one seed and --minutes > 0")
        lines = []
        for seed in seeds:
            run_dir = args.out / f"seed_{seed}"
            run_dir.mkdir(parents=True, exist_ok=True)
            try:
                train_seed(run_dir, seed, args.minutes, args.physics_hz, args.rsi_adaptive, args.overrides)
                line = report(run_dir)
            except BackflipError as exc:  # one broken seed must not cost the others their figures
                line = {"bench": "backflip_training", "run": str(run_dir), "seed": seed, "error": str(exc),
                        "hint": exc.hint}
            emit(line, results)  # as measured: a later seed that crashes or is stopped keeps this one
            lines.append(line)
        totals = summary([line for line in lines if "error" not in line], args.minutes)
        totals["failed_seeds"] = [line["seed"] for line in lines if "error" in line]
        emit(totals, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
