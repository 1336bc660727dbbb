"""Training end to end on the real simulator: learning, SIGKILL + resume, the Ray backend."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trainer_service.rl import progress, stages
from backflip_addon.core.config import from_dict
from trainer_service.rl.config import PPOConfig, StageConfig, TrainConfig, to_dict
from trainer_service.sim.config import SimConfig
from trainer_service.rl.trainer import CHECKPOINT_NAME, train

ROOT = Path(__file__).resolve().parents[2]


def tiny_config(**stage_overrides) -> TrainConfig:
    """Small networks and batches so a test spends its seconds in the simulator."""
    return TrainConfig(
        checkpoint_seconds=0.0,
        hold_seconds=0.5,
        ppo=PPOConfig(num_envs=2, num_steps=64, hidden_sizes=(64, 32), minibatch_size=64, update_epochs=2),
        stages=StageConfig(first_stage_samples=256, stages_per_decade=8, eval_every_samples=256,
                           perturbed_rollouts=0, extra_seconds=1.0, preview_frames=4, **stage_overrides),
    )


def check_run_folder(run: Path) -> list[dict]:
    """stages.json names exactly the complete stage folders, in order, with non-decreasing samples."""
    index = stages.read_index(run)
    assert [s.index for s in index] == list(range(len(index)))
    assert sorted(p.name for p in run.glob("stage_*")) == [s.folder for s in index]
    for entry in index:
        folder = run / entry.folder
        assert {p.name for p in folder.iterdir()} == {"policy.pt", "config.json", "metrics.json", "preview.png",
                                                       "rollout.txt"}
        assert json.loads((folder / "metrics.json").read_text())["samples"] == entry.samples
    assert [s.samples for s in index] == sorted(s.samples for s in index)
    assert not list(run.glob(".stage_*"))
    records = [r for r in progress.read_progress(run) if r.get("event") != "eval"]
    samples = [r["samples"] for r in records]
    assert samples == sorted(set(samples)), "progress.jsonl must describe one timeline"
    assert [r["iterations"] for r in records] == list(range(1, len(records) + 1)), "every iteration, once"
    return index


def test_short_training_on_the_walk_raises_the_normalised_return(tmp_path, motions_dir):
    config = TrainConfig(
        total_samples=24_000,
        hold_seconds=0.0,
        sim=SimConfig(target_obs=True, episode_seconds=2.0),
        # One update thread: the default picks by measured speed, so the run would depend on the machine's load.
        ppo=PPOConfig(num_envs=4, num_steps=128, hidden_sizes=(256, 128), minibatch_size=256, learning_rate=1e-4,
                      critic_learning_rate=2e-3, init_log_std=-2.0, anneal_lr=False, update_threads=1),
        stages=StageConfig(first_stage_samples=10**9, eval_every_samples=10**9, perturbed_rollouts=3),
    )
    run = tmp_path / "walk"
    state = train(motions_dir / "humanoid3d_walk.txt", run, config, show_bar=False)
    index = check_run_folder(run)
    assert state.samples >= 24_000
    # Training episodes (RSI, early termination), DeepMimic's normalised return averaged over 5 iterations
    # (~100 episodes): measured 0.261 -> 0.298 with these settings (seeds 1-4: +0.04 to +0.06) (128-64 at lr 2e-4 gave 0.293 on an
    # Intel CPU but only 0.272 on an AMD one: too small a network for a margin that holds everywhere).
    records = [r for r in progress.read_progress(run) if "charts/episode_return_normalised" in r]
    early = sum(r["charts/episode_return_normalised"] for r in records[:5]) / 5
    late = sum(r["charts/episode_return_normalised"] for r in records[-5:]) / 5
    assert late > early + 0.015
    # The check from the clip's start (median of the deterministic and 3 perturbed rollouts) is bimodal this
    # early: seeds 1, 3, 4 get past the stumble at 0.9 s (0.47 -> 0.77-0.79), seed 2 not yet (0.47 -> 0.48),
    # and which one a machine's floating point lands in differs (CI read 0.48 for seed 1). So: not worse.
    # With one update thread seed 1 reads 0.466 -> 0.811 here, idle or loaded (the speed-picked thread count
    # once made a CI run read 0.466 -> 0.454).
    first, last = index[0], index[-1]
    assert first.reasons[0] == "initial" and last.reasons[0] == "final"
    assert last.checked_return > first.checked_return
    assert last.time_until_fall is None or last.time_until_fall >= first.time_until_fall
    assert (run / progress.CURVE_NAME).read_bytes()[:4] == b"\x89PNG"
    assert list((run / "tensorboard").iterdir())
    saved = from_dict(TrainConfig, json.loads((run / "config.json").read_text()))
    assert to_dict(saved) == to_dict(config)


RUNNER = """
import argparse, os, signal, sys
from trainer_service.rl import cli, stages
if os.environ.get("KILL_AT_SCHEDULED_STAGE"):
    real = stages.write_stage
    def write_stage(run_dir, index, policy, config, metrics, *args, **kwargs):
        # The worst moment: the checkpoint is taken, the stage folder is not yet in place.
        if index >= 1 and "schedule" in metrics.reasons:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(run_dir, index, policy, config, metrics, *args, **kwargs)
    stages.write_stage = write_stage
parser = argparse.ArgumentParser()
cli.add_arguments(parser)
sys.exit(cli.run(parser.parse_args()))
"""


def start(args: list[str], env_extra: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-c", RUNNER, *args, "--no-bar"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_at_any_moment_then_resume_loses_no_stage(tmp_path, backflip_clip_path):
    run = tmp_path / "run"
    config = tiny_config()
    config.stages.stages_per_decade = 2  # schedule points 256, 810, 2560: a stage kept twice would show
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(to_dict(config)))
    base = ["--clip", str(backflip_clip_path), "--out", str(run), "--samples", "100000"]

    # 1. Killed at the worst moment: the checkpoint says a scheduled stage is pending, its folder is not there.
    proc = start([*base, "--config", str(config_file)], {"KILL_AT_SCHEDULED_STAGE": "1"})
    proc.communicate(timeout=240)
    assert proc.returncode == -signal.SIGKILL
    assert (run / CHECKPOINT_NAME).exists() and not (run / "stage_0001").exists()

    # 2. Resumed, then killed by a plain SIGKILL at an arbitrary moment a few thousand samples later.
    proc = start(["--out", str(run), "--resume", "--samples", "100000"])
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        records = progress.read_progress(run)
        if records and records[-1]["samples"] >= 3000:
            break
        time.sleep(0.2)
    time.sleep(0.7)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    before = {s.folder: s.samples for s in stages.read_index(run)}
    assert "stage_0001" in before, "the pending stage was finished on resume"

    # 3. Resumed to the end.
    proc = start(["--out", str(run), "--resume", "--samples", str(max(before.values()) + 1024)])
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    summary = json.loads(out.strip().splitlines()[-1])
    index = check_run_folder(run)
    after = {s.folder: s.samples for s in index}
    for folder, samples in before.items():
        assert after[folder] == samples
    assert summary["samples"] >= max(before.values()) + 1024
    last = [r for r in progress.read_progress(run) if r.get("event") != "eval"][-1]
    assert (last["samples"], last["iterations"]) == (summary["samples"], summary["iterations"])
    assert index[-1].reasons[0] == "final"
    # No schedule point is kept twice across the kills.
    scheduled = [s.samples for s in index if "schedule" in s.reasons]
    assert len(scheduled) >= 3
    for a, b in zip(scheduled, scheduled[1:]):
        assert b >= stages.scheduled_samples(config.stages, a), (a, b)


def test_ray_backend_trains_and_writes_the_same_outputs(tmp_path, backflip_clip_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        config = tiny_config()
        config.total_samples = 512
        run = tmp_path / "ray"
        state = train(backflip_clip_path, run, config, ray_address="auto", show_bar=False)
    finally:
        ray.shutdown()
    index = check_run_folder(run)
    assert state.samples == 512 and state.episodes > 0
    assert index[0].reasons[0] == "initial" and index[-1].samples == 512
    assert (run / CHECKPOINT_NAME).exists()


def test_held_clip_starts_episodes_inside_the_clip_and_resume_keeps_the_simulator(tmp_path, backflip_clip_path):
    from backflip_addon.core.clip import load_clip
    from trainer_service.rl.trainer import Trainer

    run = tmp_path / "run"
    config = tiny_config()
    config.total_samples = 128
    config.sim.physics_hz = 120  # a coarser training rate than the checks'
    train(backflip_clip_path, run, config, show_bar=False)
    saved = json.loads((run / "config.json").read_text())
    # Starts in the held last pose were 2 of every 3 training samples; the trainer keeps RSI to the clip.
    assert saved["sim"]["rsi_window"] == pytest.approx(load_clip(backflip_clip_path).duration)
    assert not (run / "sim_config.json").exists(), "config.json is the one record of the simulator"
    # Trained at 120 Hz; its stages record the 240 Hz of the checks that judged them (where a rollout must run).
    assert saved["sim"]["physics_hz"] == 120 and saved["stages"]["eval_physics_hz"] == 240
    stage_sim = json.loads((run / "stage_0000" / "config.json").read_text())["sim"]
    assert stage_sim == {**saved["sim"], "physics_hz": 240}
    record = [r for r in progress.read_progress(run) if r.get("event") != "eval"][-1]
    assert record["attempts"] >= 0 and record["charts/jumps_per_hour"] >= 0
    # A resumed run simulates exactly what it started with, whatever today's defaults say.
    saved["sim"]["rsi_window"] = 0.3
    (run / "config.json").write_text(json.dumps(saved))
    assert Trainer(None, run, resume=True).sim_config.rsi_window == 0.3
    explicit = tiny_config()
    explicit.rsi_inside_clip = False
    train(backflip_clip_path, tmp_path / "explicit", dataclasses.replace(explicit, total_samples=128), show_bar=False)
    assert json.loads((tmp_path / "explicit" / "config.json").read_text())["sim"]["rsi_window"] == 0.0


def test_resume_drops_stage_folders_removed_by_hand(tmp_path, backflip_clip_path):
    from trainer_service.rl.trainer import Trainer

    run = tmp_path / "run"
    config = tiny_config()
    config.total_samples = 384  # stages: initial (0), schedule (256), final (384)
    train(backflip_clip_path, run, config, show_bar=False)
    kept = [s.folder for s in stages.read_index(run)]
    assert kept == ["stage_0000", "stage_0001", "stage_0002"]
    shutil.rmtree(run / "stage_0001")  # pruned, as for shipping

    trainer = Trainer(None, run, resume=True, show_bar=False)
    trainer.config.total_samples = 512
    trainer.run()
    index = stages.read_index(run)
    assert [s.folder for s in index] == ["stage_0000", "stage_0002", "stage_0003"]
    assert sorted(p.name for p in run.glob("stage_*")) == [s.folder for s in index]
    assert index[-1].samples == 512


def test_learning_rates_decay_linearly_over_the_sample_budget(tmp_path, backflip_clip_path):
    from trainer_service.rl.trainer import Trainer

    config = tiny_config()
    config.total_samples = 512  # iterations of 128 samples start at 0, 128, 256 and 384
    trainer = Trainer(backflip_clip_path, tmp_path / "run", config, show_bar=False)
    trainer.run()
    ppo = config.ppo
    assert trainer.agent.actor_optimizer.param_groups[0]["lr"] == pytest.approx(ppo.learning_rate * 0.25)
    assert trainer.agent.critic_optimizer.param_groups[0]["lr"] == pytest.approx(ppo.critic_learning_rate * 0.25)


def test_resume_of_a_checkpoint_from_before_the_hold_milestone_reads_it_off_the_stages(tmp_path, backflip_clip_path):
    import torch

    from trainer_service.rl import checkpoint
    from trainer_service.rl.trainer import Trainer

    def resume_old_checkpoint(held_stage: bool) -> stages.Milestones:
        data = checkpoint.read(run / CHECKPOINT_NAME)
        del data["state"]["milestones"]["first_hold"]
        data["state"]["stages"][-1].update(landed=held_stage, holds=held_stage)
        torch.save(data, run / CHECKPOINT_NAME)
        trainer = Trainer(None, run, resume=True, show_bar=False)
        trainer.run()  # budget already spent: loads, recovers and stops
        return trainer.state.milestones

    run = tmp_path / "run"
    config = tiny_config()
    config.total_samples = 256
    train(backflip_clip_path, run, config, show_bar=False)
    assert resume_old_checkpoint(held_stage=False).first_hold is False
    assert resume_old_checkpoint(held_stage=True).first_hold is True


def test_until_landing_stops_at_the_first_stage_whose_check_landed(tmp_path, standing_clip_path):
    config = tiny_config()
    config.total_samples, config.until_landing = 4096, True
    state = train(standing_clip_path, tmp_path / "run", config, show_bar=False)
    index = stages.read_index(tmp_path / "run")
    landed = stages.first_landing(index)
    assert landed is not None and landed.label == "stays up"
    # It stopped at the iteration after that stage, not at the sample budget.
    assert state.samples <= landed.samples + config.ppo.num_steps * config.ppo.num_envs < config.total_samples


def test_a_run_starts_from_the_policy_of_a_run_or_a_stage_folder(tmp_path, backflip_clip_path):
    import torch

    from backflip_addon.core.errors import InvalidInputError, NotFoundError
    from trainer_service.rl.trainer import Trainer

    def first_weights(config: TrainConfig, out: Path) -> dict:
        trainer = Trainer(backflip_clip_path, out, config, show_bar=False)
        trainer.config.minutes = 1e-9  # builds, keeps its initial stage and stops before an update
        trainer.run()
        return {k: v.clone() for k, v in trainer.agent.state_dict().items()}

    config = tiny_config()
    config.total_samples = 512
    trained = Trainer(backflip_clip_path, tmp_path / "source", config, show_bar=False)
    trained.run()
    source = trained.agent.state_dict()

    from_run = first_weights(dataclasses.replace(tiny_config(), init_from=str(tmp_path / "source")), tmp_path / "a")
    assert all(torch.equal(from_run[k], source[k]) for k in source)  # critic and normaliser too
    stage = tmp_path / "source" / stages.read_index(tmp_path / "source")[-1].folder
    from_stage = first_weights(dataclasses.replace(tiny_config(), init_from=str(stage)), tmp_path / "b")
    untrained = first_weights(tiny_config(), tmp_path / "c")
    assert torch.equal(from_stage["actor.mean.0.weight"], source["actor.mean.0.weight"])
    assert torch.equal(from_stage["actor.norm.mean"], source["actor.norm.mean"])
    assert torch.equal(from_stage["critic.net.0.weight"], untrained["critic.net.0.weight"])  # a stage has no critic
    assert not torch.equal(untrained["actor.mean.0.weight"], source["actor.mean.0.weight"])

    wider = dataclasses.replace(tiny_config(), init_from=str(tmp_path / "source"))
    wider.ppo = dataclasses.replace(wider.ppo, hidden_sizes=(96, 32))
    with pytest.raises(InvalidInputError, match="does not fit this run"):
        first_weights(wider, tmp_path / "d")
    with pytest.raises(NotFoundError, match="neither a run folder"):
        first_weights(dataclasses.replace(tiny_config(), init_from=str(tmp_path / "nothing")), tmp_path / "e")
