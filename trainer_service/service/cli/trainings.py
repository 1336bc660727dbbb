"""`python -m trainer_service trainings start|list|show|pause|resume|cancel|stages|curve|preview ...`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.protocol import TrainingRequest

from .common import actions, add_state_dir, client, emit, with_id


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = actions(parser)
    start = sub.add_parser("start", help="queue a training")
    start.add_argument("--reference", default=None, help="reference id (default: DeepMimic's backflip)")
    start.add_argument("--minutes", type=float, default=None)
    start.add_argument("--samples", type=float, default=None)
    start.add_argument("--config", type=Path, default=None, help="JSON file of TrainConfig overrides")
    start.add_argument("--ray-address", default=None)
    add_state_dir(start)
    add_state_dir(sub.add_parser("list", help="every training"))
    for name, text in (("show", "state and progress"), ("pause", "stop at a checkpoint"),
                       ("resume", "continue from the last checkpoint"), ("cancel", "stop for good"),
                       ("stages", "the learning stages so far")):
        with_id(sub, name, text)
    curve = with_id(sub, "curve", "save the learning curve image")
    curve.add_argument("--out", type=Path, required=True)
    preview = with_id(sub, "preview", "save a stage's preview image")
    preview.add_argument("index", type=int)
    preview.add_argument("--out", type=Path, required=True)


def run(args: argparse.Namespace) -> int:
    service = client(args)
    if args.action == "start":
        try:
            config = json.loads(args.config.read_text()) if args.config else {}
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"{args.config}: cannot read the config: {exc}", "pass a JSON object") from exc
        return emit(service.create_training(TrainingRequest(reference=args.reference, minutes=args.minutes,
                                                            samples=args.samples, config=config,
                                                            ray_address=args.ray_address)))
    if args.action == "list":
        return emit(service.trainings())
    if args.action in ("show", "pause", "resume", "cancel"):
        method = service.training if args.action == "show" else getattr(service, f"{args.action}_training")
        return emit(method(args.id))
    if args.action == "stages":
        return emit(service.stages(args.id))
    data = service.learning_curve(args.id) if args.action == "curve" else service.stage_preview(args.id, args.index)
    args.out.write_bytes(data)
    print(args.out, file=sys.stderr)
    return 0
