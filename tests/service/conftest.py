"""The real service process on a free loopback port, used over HTTP through the add-on's client."""
from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from backflip_addon.client.service import read_service_file, start_service, stop_service
from trainer_service.rl.config import PPOConfig, StageConfig, TrainConfig, to_dict

ROOT = Path(__file__).resolve().parents[2]


def service_env(**extra: str) -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            **extra}


def tiny_training_config() -> dict:
    """A training that spends its seconds in the simulator: 2 envs, small networks, frequent stages."""
    config = TrainConfig(
        checkpoint_seconds=0.0,
        hold_seconds=0.5,
        ppo=PPOConfig(num_envs=2, num_steps=64, hidden_sizes=(64, 32), minibatch_size=64, update_epochs=2),
        stages=StageConfig(first_stage_samples=256, stages_per_decade=4, eval_every_samples=256,
                           perturbed_rollouts=0, extra_seconds=0.5, preview_frames=4),
    )
    data = to_dict(config)
    data["ppo"]["hidden_sizes"] = list(data["ppo"]["hidden_sizes"])
    return data


class Services:
    """Starts services for a test and stops every one of them, with their workers, afterwards."""

    def __init__(self) -> None:
        self.started: list[Path] = []

    def start(self, state_dir: Path, roots: tuple = (), **env: str):
        client = start_service(sys.executable, state_dir, extra_roots=roots, env=service_env(**env), timeout=90)
        self.started.append(state_dir)
        return client

    def kill(self, state_dir: Path) -> int:
        """SIGKILL the service and every worker it started (their sessions); the service's pid."""
        info = read_service_file(state_dir)
        pid = int(info["pid"])
        for worker in worker_pids(state_dir):
            _killpg(worker)
        os.kill(pid, signal.SIGKILL)
        wait_gone(pid)
        return pid

    def stop_all(self) -> None:
        for state_dir in self.started:
            workers = worker_pids(state_dir)
            stop_service(state_dir)
            for worker in workers:  # a service that was killed leaves none, a stopped one stops its own
                _killpg(worker)


def worker_pids(state_dir: Path) -> list[int]:
    import sqlite3

    db = state_dir / "jobs.sqlite"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT pid FROM jobs WHERE pid IS NOT NULL")]


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def wait_gone(pid: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def wait_for(predicate, seconds: float, what: str, step: float = 0.3):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


@pytest.fixture
def services():
    s = Services()
    yield s
    s.stop_all()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One service for a module's quick checks, with an extra allowed root."""
    s = Services()
    base = tmp_path_factory.mktemp("svc")
    roots = base / "roots"
    roots.mkdir()
    client = s.start(base / "state", (roots,), BACKFLIP_MAX_UPLOAD_BYTES="4096", BACKFLIP_MAX_TRAININGS="0")
    yield client, base / "state", roots
    s.stop_all()


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path
