"""Trainings as service jobs, end to end on the real trainer: progress, stages, pause/resume, queueing,
cancel, and the CLI commands that reach the same actions."""
from __future__ import annotations

import json
import subprocess
import sys

from backflip_addon.client.jobs import poll_step
from backflip_addon.core.protocol import TrainingRequest
from trainer_service.rl.networks import PolicySnapshot

from .conftest import ROOT, service_env, tiny_training_config, wait_for


def cli(state_dir, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trainer_service", *args, "--state-dir", str(state_dir)], cwd=ROOT,
                          env=service_env(), capture_output=True, text=True, timeout=120)


def test_training_lifecycle_over_http(services, tmp_path):
    state = tmp_path / "state"
    client = services.start(state)
    first = client.create_training(TrainingRequest(samples=200_000, config=tiny_training_config()))
    second = client.create_training(TrainingRequest(samples=1000, config=tiny_training_config()))
    assert first.state == "queued" and first.job.kind == "train"

    def two_stages():
        training = client.training(first.id)
        return training if training.progress.stages >= 2 and training.progress.learning_curve else None

    training = wait_for(two_stages, 240, "two stages")
    assert training.state == "running"
    assert client.training(second.id).state == "queued", "one training at a time"
    progress = training.progress
    assert progress.samples > 0 and progress.iterations > 0 and progress.jumps >= 0
    assert progress.jumps_per_hour is not None, "jumps tried per hour comes from progress.jsonl"
    assert progress.total_samples == 200_000 and progress.normalised_return is not None
    job = poll_step(client, [first.id])[0]
    assert 0 < job.progress < 1 and "samples" in job.message and "train" in job.log_tail

    stages = client.stages(first.id)
    assert [s.index for s in stages][:2] == [0, 1] and stages[0].reasons[0] == "initial"
    assert stages[0].label and stages[1].samples > 0
    PolicySnapshot.load(f"{stages[1].path}/policy.pt").build()
    assert client.stage(first.id, 1).folder == "stage_0001"
    assert client.stage_preview(first.id, 1)[:4] == b"\x89PNG"
    assert client.learning_curve(first.id)[:4] == b"\x89PNG"
    assert client.stage_rollout(first.id, 0).lstrip().startswith("{")

    # Pause: the trainer saves a checkpoint and exits; the queued training may then run.
    client.pause_training(first.id)
    paused = wait_for(lambda: (t := client.training(first.id)).state == "paused" and t, 120, "the pause")
    assert (tmp_path / "state" / "jobs" / first.id / "run" / "checkpoint.pt").exists()
    wait_for(lambda: client.training(second.id).state in ("running", "done"), 60, "the queued training to start")
    wait_for(lambda: client.training(second.id).state == "done", 240, "the short training to finish")
    assert client.job(second.id).result["run_dir"].endswith("run")

    # CLI parity: the same jobs through `python -m trainer_service jobs|trainings ...`.
    listed = cli(state, "jobs", "list")
    assert listed.returncode == 0, listed.stderr
    assert first.id in listed.stdout and second.id in listed.stdout
    shown = json.loads(cli(state, "trainings", "show", first.id).stdout)
    assert shown["state"] == "paused" and shown["progress"]["samples"] == paused.progress.samples
    resumed = cli(state, "trainings", "resume", first.id)
    assert resumed.returncode == 0, resumed.stderr

    wait_for(lambda: client.training(first.id).progress.samples > paused.progress.samples, 240,
             "the resumed training to go on")
    assert "--resume" in client.job_log(first.id)
    cancelled = cli(state, "jobs", "cancel", first.id)
    assert cancelled.returncode == 0, cancelled.stderr
    wait_for(lambda: client.training(first.id).state == "cancelled", 60, "the cancel")
    assert len(client.stages(first.id)) >= 2, "a cancelled training keeps its stages"
    missing = cli(state, "jobs", "show", "nope")
    assert missing.returncode == 1 and "hint:" in missing.stderr


def test_stopping_the_service_checkpoints_the_training_and_the_next_start_resumes_it(services, tmp_path):
    from backflip_addon.client.service import stop_service
    from trainer_service.rl import checkpoint

    state = tmp_path / "state"
    client = services.start(state)
    config = tiny_training_config()
    config["checkpoint_seconds"] = 3600.0  # only stages (256, 2560, 25600 samples) and the stop checkpoint
    config["stages"].update(stages_per_decade=1, eval_every_samples=10**9)
    training = client.create_training(TrainingRequest(samples=10**6, config=config))
    seen = wait_for(lambda: (n := client.training(training.id).progress.samples) >= 4000 and n, 240, "4000 samples")
    assert stop_service(state)
    assert not (state / "service.json").exists(), "a service that stops removes its service.json"
    run = state / "jobs" / training.id / "run"
    saved = checkpoint.read(run / "checkpoint.pt")["state"]["samples"]
    assert saved >= seen, "the stop saved a checkpoint past the last stage's"
    client = services.start(state)
    wait_for(lambda: client.training(training.id).progress.samples > saved, 240, "the training to resume")
    assert "--resume" in client.job_log(training.id).rsplit("$ ", 1)[-1]
