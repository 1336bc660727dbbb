"""Crash test: the service and its workers SIGKILLed at 5 moments of a training (one of them inside a
checkpoint write), restarted each time. The training continues from its last checkpoint, every stage
written before a kill is still listed and loads, and the database passes its integrity check."""
from __future__ import annotations

import os
import random
import sqlite3
import time
from pathlib import Path


from backflip_addon.core.protocol import TrainingRequest
from trainer_service.rl import checkpoint, progress, stages
from trainer_service.rl.networks import PolicySnapshot

from .conftest import _killpg, state_processes, tiny_training_config, wait_for, worker_pids

KILLS = 5
CHECKPOINT_WRITE_KILL = 2  # which kill waits for a checkpoint being written
SERVICE_ONLY_KILL = 3  # which kill leaves the workers running: the next service must stop them


def checkpoint_samples(run: Path) -> int:
    return checkpoint.read(run / "checkpoint.pt")["state"]["samples"]


def kill_during_checkpoint_write(services, state: Path, run: Path, seconds: float = 60.0) -> bool:
    """SIGKILL the worker the moment a checkpoint's temporary file appears (then the service)."""
    pids = worker_pids(state)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(name.startswith(".checkpoint.pt.") for name in os.listdir(run)):
            for pid in pids:
                _killpg(pid)
            services.kill(state)
            return True
        time.sleep(0.0005)
    return False


def test_sigkill_service_and_workers_at_five_moments(services, tmp_path):
    rng = random.Random(15)
    state = tmp_path / "state"
    client = services.start(state)
    training = client.create_training(TrainingRequest(samples=10**7, config=tiny_training_config()))
    run = state / "jobs" / training.id / "run"
    caught_in_write = False
    last_samples = -1
    for kill in range(KILLS):
        # Let it train (and, after a restart, resume) for a while first.
        wait_for(lambda: client.training(training.id).progress.samples > max(last_samples, 0), 240,
                 f"training progress before kill {kill + 1}")
        if kill == CHECKPOINT_WRITE_KILL:
            caught_in_write = kill_during_checkpoint_write(services, state, run)
            assert caught_in_write, "no checkpoint write seen to kill into"
            leftovers = [n for n in os.listdir(run) if n.startswith(".checkpoint.pt.")]
            assert leftovers, "the kill landed inside the write: its temporary file is left"
        else:
            time.sleep(rng.uniform(0.0, 3.0))
            services.kill(state, workers=kill != SERVICE_ONLY_KILL)
        orphans = state_processes(state)
        if kill == SERVICE_ONLY_KILL:
            assert orphans, "the worker outlives its service"
        else:
            assert not orphans, "nothing of the old session runs any more"

        with sqlite3.connect(state / "jobs.sqlite") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        listed_before = {s.folder: s.samples for s in stages.read_index(run)} if (run / "stages.json").exists() else {}
        resumed_from = checkpoint_samples(run) if (run / "checkpoint.pt").exists() else 0
        last_samples = resumed_from

        client = services.start(state)  # recovers: stops orphans, queues the training again, resumes it
        assert not set(orphans) & set(state_processes(state)), "the new service stopped the old workers"
        wait_for(lambda: client.training(training.id).state == "running", 60, "the training to be restarted")
        wait_for(lambda: client.training(training.id).progress.samples > resumed_from, 240,
                 "the training to go on from its checkpoint")
        if resumed_from:
            assert "--resume" in client.job_log(training.id).rsplit("$ ", 1)[-1]
        # It went on from the checkpoint: one timeline, each iteration once, starting where the checkpoint was.
        records = [r for r in progress.read_progress(run) if r.get("event") != "eval"]
        samples = [r["samples"] for r in records]
        assert samples == sorted(set(samples)) and resumed_from in [0, *samples]
        assert [r["iterations"] for r in records] == list(range(1, len(records) + 1))
        listed = {s.folder: s for s in client.stages(training.id)}
        for folder, at in listed_before.items():
            assert folder in listed and listed[folder].samples == at, folder
            PolicySnapshot.load(Path(listed[folder].path) / "policy.pt").build()
    assert caught_in_write
    assert len(client.stages(training.id)) >= 2
    client.cancel_training(training.id)
    wait_for(lambda: client.training(training.id).state == "cancelled", 60, "the cancel")
    with sqlite3.connect(state / "jobs.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
