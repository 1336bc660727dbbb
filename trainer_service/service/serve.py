"""`python -m trainer_service serve [--port P] [--state-dir D] [--host H] [--allow-root DIR ...]`.

Binds 127.0.0.1 (a free port unless one is given), writes `D/service.json` = {port, pid, token, version}
readable by this user only, and serves until SIGINT/SIGTERM. Another --host must be asked for; it still
needs the token.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import socket
from importlib import metadata
from pathlib import Path

from backflip_addon.core.errors import BackflipError, InvalidInputError
from backflip_addon.core.files import replacing

from .settings import DATABASE_FILE, SERVICE_FILE, Settings, default_state_dir

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default loopback; any other is reachable by others and still "
                             "needs the token)")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="jobs, uploads and service.json (default $BACKFLIP_STATE_DIR or ~/.local/share/backflip)")
    parser.add_argument("--allow-root", type=Path, action="append", default=[],
                        help="another folder whose files clients may name (videos, clips, sets); repeatable")
    parser.add_argument("--max-trainings", type=int, default=None, help="trainings at once (default 1)")
    parser.add_argument("--max-side-jobs", type=int, default=None, help="extract/rollout jobs at once (default 2)")


def version() -> str:
    try:
        return metadata.version("backflip")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def write_service_file(state_dir: Path, info: dict) -> None:
    """service.json, mode 0600 from the moment it has its name (it holds the token)."""
    with replacing(state_dir / SERVICE_FILE) as tmp:
        os.chmod(tmp, 0o600)
        tmp.write_text(json.dumps(info))


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise BackflipError(f"cannot listen on {host}:{port}: {exc}",
                            "pick another --port, or leave it out for a free one") from exc
    sock.listen(128)
    return sock


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app
    from .deps import Service
    from .store import JobStore
    from .workers import Supervisor

    if not 0 <= args.port < 65536:
        raise InvalidInputError(f"--port {args.port} is not a TCP port", "pass 1..65535, or leave it out")
    overrides = {k: v for k, v in (("max_trainings", args.max_trainings), ("max_side_jobs", args.max_side_jobs))
                 if v is not None}
    settings = Settings(state_dir=args.state_dir or default_state_dir(), allowed_roots=tuple(args.allow_root),
                        **overrides)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("listening on %s: reachable from other machines (the token is still required)", args.host)
    sock = bind(args.host, args.port)
    store = JobStore(settings.state_dir / DATABASE_FILE)
    service = Service(settings, store, Supervisor(settings, store), secrets.token_urlsafe(32), version())
    info = {"port": sock.getsockname()[1], "pid": os.getpid(), "token": service.token, "version": service.version,
            "host": args.host}
    write_service_file(settings.state_dir, info)
    log.info("serving on %s:%d, state in %s", args.host, info["port"], settings.state_dir)
    try:
        uvicorn.Server(uvicorn.Config(create_app(service), log_level="warning", timeout_graceful_shutdown=5)).run(
            sockets=[sock])
    finally:
        path = settings.state_dir / SERVICE_FILE
        try:
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass
        store.close()
    return 0
