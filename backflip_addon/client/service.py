"""Start, find and stop the trainer service process. Nothing here blocks Blender for long: the process is
started with Popen and `start_service` waits (bounded) for its `service.json`."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from ..core.errors import BackflipError
from .http import ServiceClient, ServiceUnreachableError

SERVICE_FILE = "service.json"
LOG_FILE = "service.log"


def read_service_file(state_dir: str | os.PathLike) -> dict | None:
    try:
        return json.loads((Path(state_dir) / SERVICE_FILE).read_text())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def connect(state_dir: str | os.PathLike, timeout: float = 2.0) -> ServiceClient | None:
    """A client of the service running for `state_dir`, or None when none answers."""
    info = read_service_file(state_dir)
    if not info or not _alive(int(info.get("pid", 0))):
        return None
    host = info.get("host", "127.0.0.1")
    client = ServiceClient(info["port"], info["token"], "127.0.0.1" if host in ("0.0.0.0", "::") else host,
                           timeout=timeout)
    try:
        client.health()
    except ServiceUnreachableError:
        return None
    client.timeout = 30.0
    return client


def start_service(python: str | os.PathLike, state_dir: str | os.PathLike, *, extra_roots: tuple = (),
                  timeout: float = 60.0, env: dict | None = None) -> ServiceClient:
    """The running service for `state_dir`, or a new one: `python -m trainer_service serve` started in the
    background, its output in `state_dir/service.log`. Raises BackflipError (with the log's path) if it
    does not answer within `timeout` seconds."""
    existing = connect(state_dir)
    if existing is not None:
        return existing
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / SERVICE_FILE).unlink(missing_ok=True)  # a stale one from a service that died
    log_path = state_dir / LOG_FILE
    command = [str(python), "-m", "trainer_service", "serve", "--state-dir", str(state_dir)]
    for root in extra_roots:
        command += ["--allow-root", str(root)]
    try:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    env=env, start_new_session=True)
    except OSError as exc:
        raise BackflipError(f"cannot start the trainer service with {python}: {exc}",
                            "set Trainer Python in the add-on preferences to the trainer venv's python") from exc
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BackflipError(f"the trainer service exited at start (code {proc.returncode})",
                                f"see its log: {log_path}")
        info = read_service_file(state_dir)
        if info and info.get("pid") == proc.pid:
            client = connect(state_dir)
            if client is not None:
                return client
        time.sleep(0.1)
    proc.kill()
    proc.wait(timeout=10)
    raise BackflipError(f"the trainer service did not start within {timeout:.0f} s", f"see its log: {log_path}")


def stop_service(state_dir: str | os.PathLike, timeout: float = 30.0) -> bool:
    """Ask the service for `state_dir` to stop (SIGTERM; its trainings keep their checkpoints and resume at the
    next start); True if one was running."""
    info = read_service_file(state_dir)
    if not info or not _alive(int(info.get("pid", 0))):
        return False
    pid = int(info["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child: reap it
                break
        except ChildProcessError:
            pass
        time.sleep(0.05)
    if _alive(pid) and read_service_file(state_dir):
        os.kill(pid, signal.SIGKILL)
    return True
