"""`python -m trainer_service references list|show|add ...`: reference clips on the service."""
from __future__ import annotations

import argparse
from pathlib import Path

from backflip_addon.core.protocol import ReferenceRequest

from .common import actions, add_state_dir, client, emit, with_id


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = actions(parser)
    add_state_dir(sub.add_parser("list", help="every reference"))
    with_id(sub, "show", "one reference")
    add = sub.add_parser("add", help="a reference from a video (an extract job) or a clip file")
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", type=Path, help="video to extract the motion from")
    source.add_argument("--clip", type=Path, help="DeepMimic .txt or .npz clip")
    add.add_argument("--start", type=float, default=None, help="first second of the video to use")
    add.add_argument("--end", type=float, default=None, help="second of the video to stop at")
    add.add_argument("--name", default="")
    add.add_argument("--upload", action="store_true",
                     help="send the file to the service first (for files outside its allowed folders)")
    add_state_dir(add)


def run(args: argparse.Namespace) -> int:
    service = client(args)
    if args.action == "list":
        return emit(service.references())
    if args.action == "show":
        return emit(service.reference(args.id))
    path = args.video or args.clip
    name = str(service.upload(path).path) if args.upload else str(path.resolve())
    request = ReferenceRequest(video=name if args.video else None, clip=name if args.clip else None,
                               start=args.start, end=args.end, name=args.name)
    return emit(service.create_reference(request))
