"""The training loop: rollouts → PPO updates → stages, with checkpoints that survive SIGKILL.

Run folder layout:
  config.json        the TrainConfig this run uses (read back on --resume); sim_config.json: the
                     simulator's SimConfig with every default resolved
  clip.txt           the reference clip, as trained on
  checkpoint.pt      networks, optimisers, counters, RNG states, the stage list (written atomically)
  stages.json        index of the stage folders; stage_NNNN/ (see stages.py)
  progress.jsonl     one record per iteration / evaluation; tensorboard/; learning_curve.png

Crash consistency: a stage is first recorded as "pending" in a checkpoint taken with exactly the
stage's policy, then its folder is assembled and renamed into place, then stages.json is rewritten.
A resumed run finishes a pending stage whose folder is missing by re-evaluating that policy, so no
stage is lost and stages.json never names a folder that does not exist.
"""
from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from backflip_addon.core.clip import MotionClip, dumps_deepmimic, load_clip
from backflip_addon.core.files import atomic_write_text, write_atomic
from backflip_addon.core.config import from_dict
from backflip_addon.core.errors import InvalidInputError, NotFoundError

from . import ppo, progress, stages
from .config import TrainConfig, to_dict
from .networks import DeterministicPolicy, PolicySnapshot

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = 1


@dataclass
class RunState:
    """Counters and bookkeeping saved in every checkpoint."""

    samples: int = 0
    iterations: int = 0
    episodes: int = 0
    wall_seconds: float = 0.0
    next_stage_samples: int = 0
    next_eval_samples: int = 0
    stage_count: int = 0
    stages: list[dict] = field(default_factory=list)
    pending_stage: dict | None = None
    milestones: dict = field(default_factory=lambda: dataclasses.asdict(stages.Milestones()))


def sim_config_for(overrides: dict):
    """The simulator's SimConfig with this run's overrides (it rejects unknown keys)."""
    from trainer_service.sim.config import SimConfig

    return SimConfig.from_dict({**SimConfig().to_dict(), **overrides}) if overrides else SimConfig()


def eval_sim_config(sim_config, seconds: float):
    """The evaluation variant of the training SimConfig: start at the clip's start, no early
    termination, long enough to see what happens after the clip ends."""
    return dataclasses.replace(sim_config, rsi=False, fall_termination=False, pose_termination_distance=0.0,
                               episode_seconds=seconds)


def with_hold(clip: MotionClip, seconds: float) -> MotionClip:
    """The clip played once and then its last pose held for `seconds` (see TrainConfig.hold_seconds)."""
    if seconds <= 0:
        return clip
    dt = 1.0 / 30.0
    count = int(round(seconds / dt))
    frames = clip.frames.copy()
    frames[-1, 0] = dt
    tail = np.repeat(frames[-1:], count, axis=0)
    return MotionClip(np.concatenate([frames, tail]), loop="none", extras=dict(clip.extras), name=clip.name)


class Trainer:
    """One run in one folder; `run()` trains until the sample or time budget is spent."""

    def __init__(self, clip_path: Path | None, run_dir: Path, config: TrainConfig | None = None,
                 resume: bool = False, ray_address: str | None = None, show_bar: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.ray_address = ray_address
        self.show_bar = show_bar
        checkpoint = self.run_dir / CHECKPOINT_NAME
        if resume:
            if not checkpoint.exists():
                raise NotFoundError(f"{self.run_dir}: no checkpoint to resume from",
                                    "start the run without --resume first")
            # A resumed run keeps its config; callers may change its budget on `self.config` afterwards.
            self.config = from_dict(TrainConfig, json.loads((self.run_dir / "config.json").read_text()))
            self.clip = load_clip(self.run_dir / "clip.txt")
        else:
            if checkpoint.exists():
                raise InvalidInputError(f"{self.run_dir} already holds a run",
                                        "pass --resume to continue it, or choose another --out folder")
            if clip_path is None:
                raise InvalidInputError("no reference clip given", "pass --clip FILE")
            self.config = config or TrainConfig()
            self.clip = load_clip(clip_path)
            self.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.run_dir / "config.json", json.dumps(to_dict(self.config), indent=1))
            atomic_write_text(self.run_dir / "clip.txt", dumps_deepmimic(self.clip))
        if resume:  # exactly the simulator the run started with, whatever the defaults are today
            from trainer_service.sim.config import SimConfig

            self.sim_config = SimConfig.from_dict(json.loads((self.run_dir / "sim_config.json").read_text()))
        else:  # the simulator's full config, defaults resolved, beside the run's own
            self.sim_config = sim_config_for(self._sim_defaults() | self.config.sim)
            atomic_write_text(self.run_dir / "sim_config.json", json.dumps(self.sim_config.to_dict(), indent=1))
        self.train_clip = with_hold(self.clip, self.config.hold_seconds)
        self.state = RunState()
        self.agent: ppo.Agent | None = None
        self._last_eval: tuple[int, dict, stages.Rollout] | None = None
        self._resume = resume

    def _sim_defaults(self) -> dict:
        """What training asks of the simulator unless `TrainConfig.sim` says otherwise: the reference
        pose in the observation, and with a held last pose, episodes that start only inside the clip
        itself (starts in the hold were otherwise 2 of every 3 samples: standing still, learnt early
        and then wasted)."""
        held = {"rsi_window": self.clip.duration} if self.config.hold_seconds > 0 else {}
        return {"target_obs": True, **held}

    # --- checkpoints -------------------------------------------------------------------------
    def _save_checkpoint(self) -> None:
        payload = {
            "format": CHECKPOINT_FORMAT,
            "agent": self.agent.state_dict(),
            "optimizers": self.agent.optimizer_state(),
            "state": dataclasses.asdict(self.state),
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
                    "generator": self.generator.get_state()},
        }
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        write_atomic(self.run_dir / CHECKPOINT_NAME, buffer.getvalue())
        self._last_checkpoint = time.monotonic()

    def _load_checkpoint(self) -> None:
        data = torch.load(self.run_dir / CHECKPOINT_NAME, map_location="cpu", weights_only=False)
        if data.get("format") != CHECKPOINT_FORMAT:
            raise InvalidInputError(f"checkpoint format {data.get('format')}, expected {CHECKPOINT_FORMAT}",
                                    "start a new run")
        self.agent.load_state_dict(data["agent"])
        self.agent.load_optimizer_state(data["optimizers"])
        # Checkpoints of the first sessions also hold "first_landing", now read off the stage list.
        self.state = RunState(**{k: v for k, v in data["state"].items() if k != "first_landing"})
        # Checkpoints from before the "first landing that holds" milestone: read it off the stage list.
        self.state.milestones.setdefault("first_hold", stages.first_hold(self.state.stages) is not None)
        torch.set_rng_state(data["rng"]["torch"])
        np.random.set_state(data["rng"]["numpy"])
        random.setstate(data["rng"]["python"])
        self.generator.set_state(data["rng"]["generator"])

    def _recover_stages(self) -> None:
        """After a kill: drop half-built folders, finish a pending stage, rewrite stages.json."""
        for tmp in self.run_dir.glob(".stage_*.tmp"):
            shutil.rmtree(tmp, ignore_errors=True)
        pending = self.state.pending_stage
        if pending is not None:
            folder = self.run_dir / stages.stage_folder_name(pending["index"])
            if folder.exists():
                metrics = json.loads((folder / "metrics.json").read_text())
            else:
                log.info("finishing stage %d, interrupted by the kill", pending["index"])
                metrics = self._write_stage(pending["index"], pending["metrics"], self._evaluate()[1])
            if all(s["index"] != pending["index"] for s in self.state.stages):
                self.state.stages.append(stages.index_entry(pending["index"], metrics))
            self.state.pending_stage = None
        if self.state.stages:  # a checkpoint taken inside a stage already counts that stage's schedule point
            last = max(st["samples"] for st in self.state.stages)
            self.state.next_stage_samples = max(self.state.next_stage_samples,
                                                stages.scheduled_samples(self.config.stages, last))
        # A kept stage's folder is in place before the stage enters the list, so a missing one was removed
        # by hand (a run pruned for shipping, a stage the user did not want): stages.json must not name it.
        removed = [s for s in self.state.stages if not (self.run_dir / s["folder"]).is_dir()]
        for entry in removed:
            log.warning("%s was removed from the run folder; dropped from stages.json", entry["folder"])
        self.state.stages = [s for s in self.state.stages if s not in removed]
        # Folders a killed session made past the checkpoint cannot exist (see module docstring),
        # but a stage index beyond the checkpoint's count would be a stranger's: leave it, warn.
        known = {s["folder"] for s in self.state.stages}
        for folder in self.run_dir.glob("stage_*"):
            if folder.name not in known:
                log.warning("%s is not part of this run's checkpoint; left alone", folder)
        stages.write_index(self.run_dir, self.state.stages)

    # --- stages ------------------------------------------------------------------------------
    def _evaluate(self, perturbed: bool = True) -> tuple[dict, stages.Rollout]:
        policy = DeterministicPolicy(self.agent.actor)
        return stages.evaluate(self.eval_env, policy, self.clip.duration, self.config.stages,
                               seed=self.config.ppo.seed, perturbed=perturbed)

    def _evaluate_perturbed(self) -> dict:
        policy = DeterministicPolicy(self.agent.actor)
        return stages.evaluate_perturbed(self.eval_env, policy, self.clip.duration, self.config.stages,
                                         seed=self.config.ppo.seed)

    def _counters(self) -> dict:
        s = self.state
        return {"samples": s.samples, "iterations": s.iterations, "episodes": s.episodes,
                "wall_seconds": round(s.wall_seconds, 1)}

    def _write_stage(self, index: int, metrics: dict, rollout: stages.Rollout) -> dict:
        snapshot = PolicySnapshot.of(self.agent.actor).to_bytes()
        config = {"train": to_dict(self.config), "sim": self.sim_config.to_dict(),
                  "clip": self.clip.name}
        stages.write_stage(self.run_dir, index, snapshot, config, metrics, rollout, self.config.stages.preview_frames)
        return metrics

    def _make_stage(self, reasons: list[str], metrics: dict, rollout: stages.Rollout) -> None:
        index = self.state.stage_count
        metrics = {**metrics, **self._counters(), "reasons": reasons, "index": index}
        self.state.stage_count += 1
        self.state.pending_stage = {"index": index, "metrics": metrics}
        self._save_checkpoint()  # holds exactly this stage's policy
        self._write_stage(index, metrics, rollout)
        self.state.stages.append(stages.index_entry(index, metrics))
        self.state.pending_stage = None
        stages.write_index(self.run_dir, self.state.stages)
        log.info("stage %d at %s samples (%s): %s, return %.3f, rotation %.0f°", index, f"{self.state.samples:,}",
                 ", ".join(reasons), metrics["label"], metrics["normalised_return"], metrics["rotation_deg"])

    def _maybe_stage(self, force_reason: str | None = None) -> None:
        s, cfg = self.state, self.config.stages
        scheduled = s.samples >= s.next_stage_samples
        if not (scheduled or s.samples >= s.next_eval_samples or force_reason):
            return
        if self._last_eval is not None and self._last_eval[0] == s.samples:
            if not force_reason or (s.stages and s.stages[-1]["samples"] == s.samples):
                return  # this policy was judged (and kept if it earned it) a moment ago
            metrics, rollout = self._last_eval[1:]
            fresh = False
        else:
            fresh = True
            metrics, rollout = self._evaluate(perturbed=False)  # the perturbed ones only for a kept stage
            self._last_eval = (s.samples, metrics, rollout)
        reached = stages.Milestones(**s.milestones)
        reasons = stages.milestone_reasons(metrics, reached, cfg.best_return_margin)
        s.milestones = dataclasses.asdict(reached)
        if scheduled:
            reasons.insert(0, "schedule")
        if force_reason:
            reasons.insert(0, force_reason)
        if fresh:
            self.progress.record({"event": "eval", **self._counters(), "eval/normalised_return": metrics["normalised_return"],
                                  "eval/rotation_deg": metrics["rotation_deg"], "eval/landed": float(metrics["landed"]),
                                  "eval/label": metrics["label"]})
        # Advance the schedule before the stage's checkpoint, so a resumed run does not keep it twice.
        while s.next_eval_samples <= s.samples:
            s.next_eval_samples += cfg.eval_every_samples
        s.next_stage_samples = stages.scheduled_samples(cfg, s.samples)
        if reasons:
            if "perturbed" not in metrics:
                metrics.update(self._evaluate_perturbed())
            self._make_stage(reasons, metrics, rollout)
            progress.draw_learning_curve(self.run_dir, s.stages, self.sim_config.control_hz)

    # --- the loop ----------------------------------------------------------------------------
    def _build(self) -> None:
        """Evaluation env, agent and (on resume) the checkpoint; the rollout workers come after."""
        from trainer_service.sim.env import ImitationEnv

        cfg = self.config.ppo
        torch.set_num_threads(cfg.torch_threads)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
        random.seed(cfg.seed)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        seconds = self.clip.duration + self.config.stages.extra_seconds + 0.5
        self.eval_env = ImitationEnv(self.train_clip, eval_sim_config(self.sim_config, seconds), seed=cfg.seed)
        self.agent = ppo.Agent(self.eval_env.observation_size, self.eval_env.action_size, cfg)
        seconds = min(self.sim_config.episode_seconds, self.train_clip.duration if self.train_clip.loop == "none" else 1e9)
        self.max_episode_steps = max(1, int(round(seconds * self.sim_config.control_hz)))
        if self._resume:
            self._load_checkpoint()

    def run(self) -> RunState:
        """Train until `total_samples` or `minutes`; returns the final counters."""
        self._build()
        self.envs = None
        try:
            # Worker seeds depend on the iteration so a resumed run does not replay the same episodes.
            self.envs = make_vec_env(self.train_clip, self.sim_config, self.config.ppo.num_envs or 8 * (os.cpu_count() or 1),
                                     self.config.ppo.seed + 7919 * self.state.iterations, self.ray_address)
            if self._resume:  # before Progress opens the file for appending
                progress.truncate_progress(self.run_dir, self.state.samples)
            self.progress = progress.Progress(self.run_dir, self.config.total_samples, self.state.samples,
                                              self.show_bar)
            try:
                if self._resume:
                    self._recover_stages()
                else:
                    self._maybe_stage(force_reason="initial")
                    self._save_checkpoint()
                self._loop()
            except KeyboardInterrupt:
                log.info("interrupted: saving a checkpoint (resume with --resume)")
                self._save_checkpoint()
                raise
            finally:
                self.progress.close()
        finally:
            if self.envs is not None:
                self.envs.close()
            self.eval_env.close()
        return self.state

    def _loop(self) -> None:
        cfg = self.config.ppo
        s = self.state
        self.update_threads = UpdateThreads(cfg.update_threads, os.cpu_count() or 1)
        session_start = time.monotonic()
        self._last_checkpoint = time.monotonic()
        obs = self.envs.reset()
        num_envs = obs.shape[0]
        while s.samples < self.config.total_samples:
            if self.config.minutes and time.monotonic() - session_start >= self.config.minutes * 60:
                break
            t0 = time.monotonic()
            if cfg.anneal_lr:
                self.agent.set_learning_rate_fraction(max(0.0, 1.0 - s.samples / self.config.total_samples))
            rollout, obs = ppo.collect(self.envs, self.agent, obs, cfg.num_steps)
            t1 = time.monotonic()
            advantages, returns = ppo.compute_gae(rollout.rewards, rollout.values, rollout.dones,
                                                  rollout.last_values, cfg.gamma, cfg.gae_lambda)
            threads = self.update_threads.pick()
            torch.set_num_threads(threads)
            started = time.monotonic()
            metrics = ppo.update(self.agent, rollout, advantages, returns, self.generator)
            self.update_threads.record(threads, (time.monotonic() - started) / max(1.0, metrics["losses/steps"]))
            torch.set_num_threads(cfg.torch_threads)
            self.agent.actor.norm.update(rollout.obs)
            t2 = time.monotonic()
            s.samples += cfg.num_steps * num_envs
            s.iterations += 1
            s.episodes += len(rollout.episode_returns)
            s.wall_seconds += t2 - t0
            record = {**self._counters(), **metrics,
                      "charts/reward_per_step": rollout.raw_reward_sum / (cfg.num_steps * num_envs),
                      "charts/samples_per_second": cfg.num_steps * num_envs / (t2 - t0),
                      "charts/rollout_seconds": t1 - t0, "charts/update_seconds": t2 - t1,
                      "charts/update_threads": threads, "machine/load_1min": os.getloadavg()[0]}
            if rollout.episode_returns:
                record["charts/episode_return"] = float(np.mean(rollout.episode_returns))
                record["charts/episode_length"] = float(np.mean(rollout.episode_lengths))
                record["charts/episode_return_normalised"] = record["charts/episode_return"] / self.max_episode_steps
                record["charts/fall_fraction"] = rollout.terminations / len(rollout.episode_returns)
            self.progress.record(record)
            self._maybe_stage()
            if time.monotonic() - self._last_checkpoint >= self.config.checkpoint_seconds:
                self._save_checkpoint()
                progress.draw_learning_curve(self.run_dir, s.stages, self.sim_config.control_hz)
            s.wall_seconds += time.monotonic() - t2  # evaluation, stages and checkpoints count as training time
        self._maybe_stage(force_reason="final")
        self._save_checkpoint()
        progress.draw_learning_curve(self.run_dir, s.stages, self.sim_config.control_hz)


class UpdateThreads:
    """The torch thread count of each update: the configured one, or (0) the faster of one per core and
    one, measured as seconds per gradient step and re-measured now and then as the machine's load changes."""

    PROBE_EVERY = 25

    def __init__(self, configured: int, cores: int) -> None:
        self.fixed = configured or (1 if cores == 1 else 0)
        self.choices = (cores, 1)
        self.seconds: dict[int, float] = {}
        self.updates = 0

    def pick(self) -> int:
        if self.fixed:
            return self.fixed
        self.updates += 1
        untried = [n for n in self.choices if n not in self.seconds]
        if untried:
            return untried[0]
        best = min(self.choices, key=self.seconds.__getitem__)
        if self.updates % self.PROBE_EVERY == 0:
            return next(n for n in self.choices if n != best)
        return best

    def record(self, threads: int, seconds_per_step: float) -> None:
        old = self.seconds.get(threads)
        self.seconds[threads] = seconds_per_step if old is None else 0.5 * (old + seconds_per_step)


def make_vec_env(clip: MotionClip, sim_config, num_envs: int, seed: int, ray_address: str | None):
    """Local worker processes, or Ray actors when a cluster address is given."""
    if ray_address:
        from .ray_backend import RayVecEnv

        return RayVecEnv(clip, sim_config, num_envs=num_envs, seed=seed, address=ray_address)
    from trainer_service.sim.vec import VecEnv

    return VecEnv(clip, sim_config, num_envs=num_envs, seed=seed)


def train(clip_path: Path | None, run_dir: Path, config: TrainConfig | None = None, resume: bool = False,
          ray_address: str | None = None, show_bar: bool = True) -> RunState:
    """Train (or resume) the run in `run_dir`; see Trainer."""
    return Trainer(clip_path, run_dir, config, resume, ray_address, show_bar).run()
