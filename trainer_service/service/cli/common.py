"""Shared by the API commands: the state folder flag, the client, JSON output."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from backflip_addon.client.http import ServiceClient
from backflip_addon.client.service import connect
from backflip_addon.core.errors import BackflipError
from backflip_addon.core.protocol import to_json

from ..settings import default_state_dir


def add_state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="the service's state folder (default $BACKFLIP_STATE_DIR or ~/.local/share/backflip)")


def state_dir(args: argparse.Namespace) -> Path:
    return args.state_dir or default_state_dir()


def client_or_none(args: argparse.Namespace) -> ServiceClient | None:
    return connect(state_dir(args))


def client(args: argparse.Namespace) -> ServiceClient:
    found = client_or_none(args)
    if found is None:
        raise BackflipError(f"no trainer service runs for {state_dir(args)}",
                            f"start one: python -m trainer_service serve --state-dir {state_dir(args)}")
    return found


def emit(payload: Any) -> int:
    """Print a payload (or list of them) as JSON, one document."""
    json.dump(to_json(payload) if not isinstance(payload, (dict, str)) else payload, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


def actions(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    sub = parser.add_subparsers(dest="action", required=True)
    return sub


def with_id(sub: argparse._SubParsersAction, name: str, help_text: str, what: str = "ID") -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text)
    parser.add_argument("id", metavar=what)
    add_state_dir(parser)
    return parser
