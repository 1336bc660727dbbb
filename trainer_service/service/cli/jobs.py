"""`python -m trainer_service jobs list|show|log|pause|resume|cancel [ID] [--state-dir D]`."""
from __future__ import annotations

import argparse
import sys

from ..settings import DATABASE_FILE
from .common import actions, add_state_dir, client, client_or_none, emit, state_dir, with_id


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = actions(parser)
    add_state_dir(sub.add_parser("list", help="every job, oldest first"))
    with_id(sub, "show", "one job's status")
    with_id(sub, "log", "the end of a job's log")
    for name in ("pause", "resume", "cancel"):
        with_id(sub, name, f"{name} a job (through the running service)")


def _store(args: argparse.Namespace):
    """The state folder's job table, read directly when no service runs."""
    from ..store import JobStore

    return JobStore(state_dir(args) / DATABASE_FILE)


def run(args: argparse.Namespace) -> int:
    if args.action in ("list", "show", "log"):
        found = client_or_none(args)
        if args.action == "list":
            return emit(found.jobs() if found else _store(args).list())
        if args.action == "show":
            return emit(found.job(args.id) if found else _store(args).get(args.id))
        if found:
            sys.stdout.write(found.job_log(args.id))
        else:
            from pathlib import Path

            from ..workers import LOG_NAME, read_tail

            sys.stdout.write(read_tail(Path(_store(args).get(args.id).folder) / LOG_NAME, 20000))
        return 0
    service = client(args)
    return emit(getattr(service, f"{args.action}_job")(args.id))
