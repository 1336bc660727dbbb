"""`python -m trainer_service rollouts start|list|events ...`: rollouts in a set as service jobs
(`python -m trainer_service rollout` runs one directly, without the service)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.protocol import RolloutRequest

from .common import actions, add_state_dir, client, emit, with_id


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = actions(parser)
    start = sub.add_parser("start", help="queue a rollout of a stage in a set")
    start.add_argument("--training", default=None, help="training id (with --stage)")
    start.add_argument("--stage", type=int, default=None, help="stage index of that training")
    start.add_argument("--stage-dir", default=None, help="or a stage folder inside the service's roots")
    start.add_argument("--colliders", type=Path, default=None, help="SET.json (default: a plain floor)")
    start.add_argument("--seed", type=int, default=0)
    start.add_argument("--attempts", type=int, default=1)
    start.add_argument("--perturb", type=float, default=0.0)
    start.add_argument("--start", default="0,0,0", help="X,Y,HEADING_DEG")
    start.add_argument("--fps", type=float, default=30.0)
    start.add_argument("--seconds", type=float, default=1.5)
    add_state_dir(start)
    add_state_dir(sub.add_parser("list", help="every rollout job"))
    with_id(sub, "events", "a finished rollout's events (OUT.events.json)")


def run(args: argparse.Namespace) -> int:
    service = client(args)
    if args.action == "list":
        return emit(service.rollouts())
    if args.action == "events":
        return emit(service.rollout_events(args.id))
    try:
        colliders = json.loads(args.colliders.read_text()) if args.colliders else [{"kind": "plane"}]
        start = [float(v) for v in args.start.split(",")]
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read the set or --start: {exc}",
                                "pass a JSON list of colliders and --start X,Y,HEADING_DEG") from exc
    return emit(service.create_rollout(RolloutRequest(
        colliders=colliders, training=args.training, stage=args.stage, stage_dir=args.stage_dir, seed=args.seed,
        attempts=args.attempts, perturb=args.perturb, start=start, fps=args.fps, seconds=args.seconds)))
