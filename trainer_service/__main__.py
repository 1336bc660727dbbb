"""Command line: python -m trainer_service COMMAND [options].

Each command lives in its own module with `add_arguments(parser)` and `run(args) -> int`; modules are
imported only when their command runs, so `extract` never loads torch's trainer and `demo` never
loads mediapipe.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from backflip_addon.core.errors import BackflipError

COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("trainer_service.demo", "run the main job end to end on the embedded defaults"),
    "extract": ("trainer_service.video.cli", "video → reference clip (mediapipe pose, cleaning, whole-clip fit)"),
    "train": ("trainer_service.rl.cli", "train a policy that imitates a clip, keeping its learning stages"),
    "rollout": ("trainer_service.rollout", "simulate a learning stage in a set of colliders (clips + events)"),
    "serve": ("trainer_service.service.serve", "run the trainer service (HTTP API on loopback, jobs in SQLite)"),
    "jobs": ("trainer_service.service.cli.jobs", "list, show, pause, resume or cancel the service's jobs"),
    "references": ("trainer_service.service.cli.references", "the service's reference clips: list, add from a video or clip"),
    "trainings": ("trainer_service.service.cli.trainings", "the service's trainings: start, list, show, pause, resume, "
                  "cancel, stages"),
    "rollouts": ("trainer_service.service.cli.rollouts", "queue a rollout of a stage in a set on the service"),
}


def _usage() -> str:
    lines = ["usage: python -m trainer_service COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_text}" for name, (_, help_text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(_usage(), file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    name = argv[0]
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"python -m trainer_service {name}", description=help_text)
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(module.run(args) or 0)
    except BackflipError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
