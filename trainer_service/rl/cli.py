"""`python -m trainer_service train --clip FILE --out DIR [--minutes N] [--samples N] [--resume]`."""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

from backflip_addon.core.config import from_dict
from backflip_addon.core.errors import InvalidInputError
from trainer_service.arguments import check_output_folder, finite_float, read_json_config

from . import stages
from .config import TrainConfig

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clip", type=Path, default=None,
                        help="reference clip (DeepMimic .txt or .npz); default: DeepMimic's backflip")
    parser.add_argument("--out", type=Path, required=True, help="run folder (stages, checkpoints, logs)")
    parser.add_argument("--minutes", type=finite_float, default=None, help="stop after this many minutes of this session")
    parser.add_argument("--samples", type=finite_float, default=None,
                        help="stop at this many samples in total (default 7e6, about 2 h on 2 cores); "
                             "the learning rate decays to zero over them")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--ray-address", default=None,
                        help="run the rollout workers as Ray actors on this cluster (auto or HOST:PORT)")
    parser.add_argument("--config", type=Path, default=None,
                        help="JSON file with TrainConfig overrides, e.g. {\"ppo\": {\"num_steps\": 256}}")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="start a new run from this run or stage folder's policy (TrainConfig.init_from)")
    parser.add_argument("--no-bar", action="store_true", help="no progress bar (JSON lines still go to the run folder)")


def build_config(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig from --config plus the budget flags (for a new run)."""
    data = read_json_config(args.config) if args.config else {}
    config = from_dict(TrainConfig, data)
    if args.init_from is not None:
        config.init_from = str(args.init_from.resolve())
    apply_budget(config, args)
    config.validate()
    return config


def apply_budget(config: TrainConfig, args: argparse.Namespace) -> None:
    """--minutes / --samples, the only settings a resumed run may change."""
    if args.minutes is not None:
        if args.minutes < 0:
            raise InvalidInputError(f"--minutes must be >= 0, got {args.minutes}", "pass e.g. --minutes 60")
        config.minutes = args.minutes
    if args.samples is not None:
        if args.samples <= 0:
            raise InvalidInputError(f"--samples must be positive, got {args.samples}", "pass e.g. --samples 2e7")
        config.total_samples = int(args.samples)


def _as_dict(entry: stages.StageEntry | None) -> dict | None:
    return None if entry is None else dataclasses.asdict(entry)


def run(args: argparse.Namespace) -> int:
    from trainer_service.paths import default_clip

    from .trainer import Trainer

    check_output_folder(args.out)
    if args.resume:
        if args.config is not None or args.init_from is not None:
            raise InvalidInputError("--config and --init-from cannot change a run being resumed",
                                    "resume without them, or start a new run in another --out folder")
        trainer = Trainer(None, args.out, resume=True, ray_address=args.ray_address, show_bar=not args.no_bar)
        apply_budget(trainer.config, args)
    else:
        trainer = Trainer(args.clip or default_clip(), args.out, build_config(args), ray_address=args.ray_address,
                          show_bar=not args.no_bar)
    try:
        state = trainer.run()
    except KeyboardInterrupt:
        print(f"interrupted; continue with: --out {args.out} --resume", file=sys.stderr)
        return 130
    summary = {"samples": state.samples, "iterations": state.iterations, "jumps": state.attempts, "episodes": state.episodes,
               "wall_seconds": round(state.wall_seconds, 1), "stages": len(state.stages),
               "first_landing": _as_dict(stages.first_landing(state.stages)), "out": str(args.out)}
    print(json.dumps(summary))
    return 0
