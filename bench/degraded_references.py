"""Benchmark: train on degraded references with the mocap run's defaults and report whether each lands.

    .venv/bin/python bench/degraded_references.py --minutes 60                # the full run (issue 20: each lands in 60 min)
    .venv/bin/python bench/degraded_references.py --minutes 60 --until-landing  # the same, each case stopped at its landing
    .venv/bin/python bench/degraded_references.py --minutes 3 --out out/bench_degraded_smoke
    .venv/bin/python bench/degraded_references.py --step0                     # the untrained policy on each reference
    .venv/bin/python bench/degraded_references.py --landing-reward            # a real landing's reward per reference

The cases (bench/support/degrade.py): the mocap backflip with its root path scaled 1.5x and its apex
raised 0.3 m, with 5 degrees of joint noise, with a 10 % time warp, and the clip extracted from the sample
video by `python -m trainer_service extract`. Each case trains in its own run folder under --out, for
--minutes of training in all: running the command again resumes what is missing (a finished case is only
reported). Prints one JSON line per case (first landing minutes / samples or null, best normalised return,
labels of its stages) and a summary line; all are appended to bench/results/degraded_references.jsonl.

--landing-reward measures, without training, the reward that a simulated landing backflip (the shipped run's
stage 15 rollout) earns against each reference, with and without the pre-pass. --step0 measures the untrained policy (zero residual actions: the PD
controllers track the reference) from the clip's start, under the training episode's rules: seconds until
the episode ends and the normalised return, per case, with and without the pre-pass and per termination frame.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support.budget import train_for  # noqa: E402
from bench.support.degrade import make_references  # noqa: E402
from bench.support.results import emit  # noqa: E402
from trainer_service.paths import default_clip  # noqa: E402
from trainer_service.rl import progress, stages  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "degraded_references.jsonl"
TARGET_MINUTES = 60


def train_case(clip: Path, run_dir: Path, minutes: float, sim_overrides: dict, until_landing: bool = False,
               overrides: dict | None = None) -> None:
    """Train `run_dir` until it has trained `minutes` in all (a new run, or the rest of an interrupted one),
    or with `until_landing` until its first landing; a new run takes the TrainConfig `overrides` too."""
    from backflip_addon.core.config import from_dict
    from trainer_service.rl.config import TrainConfig

    config = from_dict(TrainConfig, {**(overrides or {}), "sim": sim_overrides, "until_landing": until_landing})
    train_for(clip, run_dir, minutes, config)


def report(name: str, clip: Path, run_dir: Path) -> dict:
    """One case's line: first landing, best normalised return, its stages' labels."""
    records = progress.read_progress(run_dir)
    evals = [r for r in records if r.get("event") == "eval"]
    train = [r for r in records if r.get("event") != "eval"]
    index = stages.read_index(run_dir)
    landed = stages.first_landing(index)
    last = train[-1] if train else {"samples": 0, "wall_seconds": 0.0}
    config = json.loads((run_dir / "config.json").read_text())
    sim = config["sim"]
    return {
        "bench": "degraded_references", "case": name, "clip": str(clip), "run": str(run_dir),
        "reference_prepass": sim.get("reference_prepass"), "pose_termination_frame": sim.get("pose_termination_frame"),
        "rsi_adaptive": sim.get("rsi_adaptive", 0.0), "until_landing": config.get("until_landing", False),
        "seed": config["ppo"]["seed"], "init_from": config.get("init_from", ""),
        "samples": last["samples"], "wall_minutes": round(last["wall_seconds"] / 60, 1),
        "median_load_1min": _median([r["machine/load_1min"] for r in train if "machine/load_1min" in r]),
        "first_landing": None if landed is None else {"stage": landed.index, "samples": landed.samples,
                                                      "minutes": round(landed.wall_seconds / 60, 1)},
        "best_normalised_return": max((round(r["eval/normalised_return"], 3) for r in evals), default=None),
        "stage_labels": [s.label for s in index],
        "target": f"lands within {TARGET_MINUTES} min",
    }


def _median(values: list[float]) -> float | None:
    values = sorted(values)
    return None if not values else round(values[len(values) // 2], 2)


def step0(name: str, clip_path: Path) -> dict:
    """The untrained policy on one reference, per pre-pass mode and termination frame (see the docstring)."""
    import numpy as np

    from trainer_service.rl.config import TrainConfig
    from trainer_service.rl.trainer import resolved_for_clip, with_hold
    from trainer_service.sim.env import ImitationEnv
    from trainer_service.sim.reference_source import load_reference_clip

    line = {"bench": "degraded_references_step0", "case": name}
    for prepass in ("off", "always"):
        for frame in ("world", "root"):
            config = TrainConfig()
            config.sim = dataclasses.replace(config.sim, reference_prepass=prepass, pose_termination_frame=frame, rsi=False)
            clip = load_reference_clip(clip_path, config.sim)
            config = resolved_for_clip(config, clip)
            train_clip = with_hold(clip, config.hold_seconds)
            with ImitationEnv(train_clip, config.sim) as env:
                env.reset(start_time=0.0)
                total, steps, end = 0.0, 0, False
                max_steps = int(round(train_clip.duration * config.sim.control_hz))
                while not end and steps < max_steps:
                    _, reward, terminated, truncated, _ = env.step(np.zeros(env.action_size))
                    total, steps, end = total + reward, steps + 1, terminated or truncated
            line[f"prepass_{prepass}/{frame}"] = {"seconds": round(steps / config.sim.control_hz, 2),
                                                  "normalised_return": round(total / max_steps, 3)}
        if "prepass" in clip.extras:
            line["prepass_report"] = clip.extras["prepass"]
    return line


LANDING_STAGE = ROOT / "assets" / "stages" / "backflip" / "stage_0015"
"""The shipped run's first landing that holds: a backflip physics can do, the yardstick of --landing-reward."""
MAX_SHIFT_SECONDS = 1.0
"""--landing-reward: the latest start in the reference it tries for the rollout's first frame (s)"""


def landing_reward(name: str, clip_path: Path) -> dict:
    """The imitation reward a physically valid landing backflip (the shipped stage 15's rollout from the
    clip's start, simulated) earns against the reference over the mocap flip's length, per control step,
    normalised; with and without the pre-pass. A reference that physics cannot follow pays a real backflip less.

    The rollout is compared with the reference from the reference's best-aligned start (the shift up to
    `MAX_SHIFT_SECONDS` that pays most, reported): a clip extracted from video starts where the video does,
    and the sample video holds the first pose 0.4 s before the take-off."""
    import numpy as np

    from backflip_addon.core.clip import load_clip
    from trainer_service.rl.config import training_sim_config
    from trainer_service.sim.character import BodyState
    from trainer_service.sim.reference import build_reference
    from trainer_service.sim.reference_source import load_reference_clip
    from trainer_service.sim.rewards import reward_terms

    line = {"bench": "degraded_references_landing_reward", "case": name, "stage": str(LANDING_STAGE.relative_to(ROOT))}
    real_clip = load_clip(LANDING_STAGE / "rollout.txt")
    flip_seconds = load_clip(default_clip()).duration  # the rollout goes on past the flip it imitated
    for prepass in ("off", "always"):
        config = dataclasses.replace(training_sim_config(), reference_prepass=prepass, episode_seconds=1.0)
        clip = load_reference_clip(clip_path, config)
        ref, real = build_reference(clip, config), build_reference(real_clip, config)
        span = min(clip.duration, flip_seconds)
        rows = range(0, int(span / ref.dt), config.substeps)
        states = [BodyState(real.root_pos[r], real.root_rot[r], real.root_vel[r], real.root_ang_vel[r],
                            real.body_pos[r], np.zeros((15, 4)), np.tile(real.com_vel[r], (15, 1)), np.zeros((15, 3)),
                            real.joint_rot[r], real.joint_angle[r], real.joint_vel[r], real.joint_ang_vel[r]) for r in rows]
        best = (-1.0, 0)
        latest = min(MAX_SHIFT_SECONDS, clip.duration - span)
        for shift in range(0, int(round(latest / ref.dt)) + 1, config.substeps):
            mean = float(np.mean([reward_terms(state, ref, min(row + shift, ref.num_rows - 1), config.reward).reward
                                  for state, row in zip(states, rows)]))
            best = max(best, (mean, shift))
        line[f"prepass_{prepass}"] = round(best[0], 3)
        line[f"prepass_{prepass}_shift_s"] = round(best[1] * ref.dt, 3)
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench_degraded")
    parser.add_argument("--minutes", type=float, default=float(TARGET_MINUTES), help="training minutes per case")
    parser.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    parser.add_argument("--prepass", choices=("off", "extracted", "always"), default=None,
                        help="SimConfig.reference_prepass for new runs (default: the trainer's)")
    parser.add_argument("--termination-frame", choices=("world", "root"), default=None,
                        help="SimConfig.pose_termination_frame for new runs (default: the trainer's)")
    parser.add_argument("--rsi-adaptive", type=float, default=None,
                        help="SimConfig.rsi_adaptive for new runs (default: the trainer's)")
    parser.add_argument("--until-landing", action="store_true",
                        help="stop a new run at its first landing (the target asks only when it lands)")
    parser.add_argument("--seed", type=int, default=None, help="PPO seed of new runs (default: the trainer's)")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="new runs start from this run or stage folder's policy (TrainConfig.init_from)")
    parser.add_argument("--step0", action="store_true", help="measure the untrained policy on each reference, no training")
    parser.add_argument("--landing-reward", action="store_true",
                        help="measure the reward a simulated landing backflip earns against each reference, no training")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    references = make_references(default_clip(), args.out / "references")
    wanted = [c for c in args.cases.split(",") if c] or list(references)
    unknown = sorted(set(wanted) - set(references))
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {sorted(references)}")
    if args.step0 or args.landing_reward:
        measure = step0 if args.step0 else landing_reward
        emit(measure("mocap_backflip", default_clip()), RESULTS)  # the clean reference, for comparison
        for name in wanted:
            emit(measure(name, references[name]), RESULTS)
        return 0
    overrides = {k: v for k, v in {"reference_prepass": args.prepass, "pose_termination_frame": args.termination_frame,
                                   "rsi_adaptive": args.rsi_adaptive}.items() if v is not None}
    start: dict = {}  # TrainConfig overrides of new runs besides the simulator's
    if args.seed is not None:
        start["ppo"] = {"seed": args.seed}
    if args.init_from is not None:
        start["init_from"] = str(args.init_from.resolve())
    lines, started = [], time.monotonic()
    for name in wanted:
        run_dir = args.out / "runs" / name
        train_case(references[name], run_dir, args.minutes, overrides, args.until_landing, start)
        lines.append(report(name, references[name], run_dir))
        emit(lines[-1], RESULTS)
    landed = [line for line in lines if line["first_landing"] is not None]
    emit({"bench": "degraded_references_summary", "minutes_per_case": args.minutes, "machine": f"{os.cpu_count()} cores",
           "cases": len(lines), "landed": len(landed),
           "landed_within_target": sum(line["first_landing"]["minutes"] <= TARGET_MINUTES for line in landed),
           "best_normalised_return": {line["case"]: line["best_normalised_return"] for line in lines},
           "session_minutes": round((time.monotonic() - started) / 60, 1)}, RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
