"""The training loop: rollouts → PPO updates → stages, with checkpoints that survive SIGKILL.

Run folder layout:
  run.lock           held by the one process training here (see runlock.py)
  config.json        the TrainConfig this run uses, its simulator included with every value resolved (read
                     back on --resume; runs from before kept the simulator in sim_config.json)
  clip.txt           the reference clip, as trained on
  checkpoint.pt      networks, optimisers, counters, RNG states, the stage list (see checkpoint.py);
                     checkpoint.prev.pt: the one before
  stages.json        index of the stage folders; stage_NNNN/ (see stages.py, whose StageKeeper keeps them
                     consistent across kills)
  progress.jsonl     one record per iteration / evaluation; tensorboard/; learning_curve.png
"""
from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
import random
import time
from pathlib import Path

import numpy as np
import torch

from backflip_addon.core.clip import MotionClip, dumps_deepmimic, load_clip
from backflip_addon.core.config import from_dict
from backflip_addon.core.errors import InvalidInputError, NotFoundError
from backflip_addon.core.files import atomic_write_text
from trainer_service.sim.reference_source import load_reference_clip

from . import attempts, checkpoint, ppo, progress, stages
from .checkpoint import CHECKPOINT_NAME
from .config import TrainConfig, to_dict
from .networks import DeterministicPolicy, PolicySnapshot
from .runlock import RunLock
from .skill import skill_of_clip
from .stages import RunState

__all__ = ["CHECKPOINT_NAME", "RunState", "Trainer", "train", "read_run_config"]

log = logging.getLogger(__name__)

OLD_SIM_CONFIG_NAME = "sim_config.json"


def read_run_config(run_dir: Path) -> TrainConfig:
    """The TrainConfig a run folder holds; older folders kept the resolved simulator in sim_config.json."""
    try:
        data = json.loads((run_dir / "config.json").read_text())
        old_sim = run_dir / OLD_SIM_CONFIG_NAME
        if old_sim.exists():
            data["sim"] = json.loads(old_sim.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"{run_dir}: cannot read the run's config ({exc})", "restore config.json") from None
    config = from_dict(TrainConfig, data)
    config.validate()
    return config


def checked_sim_config(sim_config, physics_hz: int):
    """The training SimConfig at the physics rate of the milestone checks (`StageConfig.eval_physics_hz`,
    0 = the training rate): what a kept stage's config.json records, so a stage is rolled out at the rate
    where it was shown to land."""
    return dataclasses.replace(sim_config, physics_hz=physics_hz or sim_config.physics_hz)


def eval_sim_config(sim_config, seconds: float):
    """The evaluation variant of a SimConfig: start at the clip's start, no early termination, long
    enough to see what happens after the clip ends."""
    return dataclasses.replace(sim_config, rsi=False, fall_termination=False, pose_termination_distance=0.0,
                               episode_seconds=seconds)


CYCLES = ("walk", "run")
"""skills whose wrapping clip is one cycle of a motion that goes on (see `with_hold`)"""


def with_hold(clip: MotionClip, seconds: float) -> MotionClip:
    """The clip played once and then its last pose held for `seconds` (see TrainConfig.hold_seconds).

    A wrapping walk or run is one stride cycle: it repeats instead, as the mocap did. Stopping dead in a
    mid-stride pose cannot be held (the 30-min run fell 1.0-1.5 s into its hold in every check)."""
    if seconds <= 0 or (clip.loop == "wrap" and skill_of_clip(clip).kind in CYCLES):
        return clip
    dt = 1.0 / 30.0
    count = int(round(seconds / dt))
    frames = clip.frames.copy()
    frames[-1, 0] = dt
    tail = np.repeat(frames[-1:], count, axis=0)
    return MotionClip(np.concatenate([frames, tail]), loop="none", extras=dict(clip.extras), name=clip.name)


def resolved_for_clip(config: TrainConfig, clip: MotionClip) -> TrainConfig:
    """A new run's config with what depends on its clip filled in (see `TrainConfig.rsi_inside_clip`)."""
    config = copy.deepcopy(config)
    if config.rsi_inside_clip and config.hold_seconds > 0:
        config.sim = dataclasses.replace(config.sim, rsi_window=clip.duration)
    return config


class Trainer:
    """One run in one folder; `run()` trains until the sample or time budget is spent.

    Nothing in the folder changes before `run()` holds the folder's lock; a resumed run keeps its config
    (callers may change its budget on `self.config` before `run()`)."""

    def __init__(self, clip_path: Path | None, run_dir: Path, config: TrainConfig | None = None,
                 resume: bool = False, ray_address: str | None = None, show_bar: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.ray_address = ray_address
        self.show_bar = show_bar
        self.resume = resume
        if resume:
            if not checkpoint.exists(self.run_dir):
                raise NotFoundError(f"{self.run_dir}: no checkpoint to resume from", "start the run without --resume first")
            self.config = read_run_config(self.run_dir)
            self.clip = load_clip(self.run_dir / "clip.txt")
        else:
            if clip_path is None:
                raise InvalidInputError("no reference clip given", "pass --clip FILE")
            (config or TrainConfig()).validate()
            # Extraction confidence and the physical pre-pass (SimConfig.reference_prepass) live in the clip's extras.
            self.clip = load_reference_clip(clip_path, (config or TrainConfig()).sim)
            self.config = resolved_for_clip(config or TrainConfig(), self.clip)
        self.train_clip = with_hold(self.clip, self.config.hold_seconds)
        self.state = RunState()
        self.agent: ppo.Agent | None = None
        self.generator: torch.Generator | None = None
        self.eval_env = None
        self.envs = None
        self.progress: progress.Progress | None = None
        self.keeper: stages.StageKeeper | None = None
        self.max_episode_steps = 1
        self.takeoff = attempts.takeoff_time(self.clip)
        self._last_checkpoint = 0.0

    @property
    def sim_config(self):
        """The simulator this run trains in."""
        return self.config.sim

    @property
    def checked_sim_config(self):
        """The simulator of the milestone checks and of the kept stages' rollouts."""
        return checked_sim_config(self.config.sim, self.config.stages.eval_physics_hz)

    # --- the run folder ----------------------------------------------------------------------
    def _claim_folder(self) -> None:
        """Under the lock: check the folder holds what `resume` expects, and start a new run's files."""
        checkpoint.remove_stale_temporaries(self.run_dir)
        if self.resume:
            if not checkpoint.exists(self.run_dir):
                raise NotFoundError(f"{self.run_dir}: no checkpoint to resume from", "start the run without --resume first")
            return
        if checkpoint.exists(self.run_dir):
            raise InvalidInputError(f"{self.run_dir} already holds a run",
                                    "pass --resume to continue it, or choose another --out folder")
        atomic_write_text(self.run_dir / "config.json", json.dumps(to_dict(self.config), indent=1))
        atomic_write_text(self.run_dir / "clip.txt", dumps_deepmimic(self.clip))

    def _save_checkpoint(self) -> None:
        checkpoint.save(self.run_dir, {"agent": self.agent.state_dict(), "optimizers": self.agent.optimizer_state(),
                                       "state": self.state.to_dict(), "rng": checkpoint.rng_states(self.generator)})
        self._last_checkpoint = time.monotonic()

    def _load_checkpoint(self) -> None:
        data = checkpoint.load(self.run_dir)
        self.agent.load_state_dict(data["agent"])
        self.agent.load_optimizer_state(data["optimizers"])
        self.state = RunState.from_dict(data["state"])
        checkpoint.restore_rng_states(data["rng"], self.generator)

    def _start_from(self, folder: Path) -> None:
        """Take the policy (and, from a run folder, the critic) of `folder` (TrainConfig.init_from)."""
        mine = self.agent.state_dict()
        if checkpoint.exists(folder):
            agent = checkpoint.load(folder)["agent"]
        elif (folder / stages.POLICY_NAME).exists():
            actor = PolicySnapshot.load(folder / stages.POLICY_NAME).state_dict
            agent = {**mine, **{f"actor.{k}": v for k, v in actor.items()}}  # the critic shares the actor's norm
        else:
            raise NotFoundError(f"init_from {folder}: neither a run folder ({CHECKPOINT_NAME}) nor a stage folder "
                                f"({stages.POLICY_NAME})", "pass a run or stage folder, or leave init_from empty")
        wrong = [k for k in mine if k not in agent or agent[k].shape != mine[k].shape]
        if wrong:
            raise InvalidInputError(f"init_from {folder}: its policy does not fit this run ({wrong[0]} differs)",
                                    "start from a run of the same skeleton, observation and network sizes")
        self.agent.load_state_dict({k: agent[k] for k in mine})
        log.info("starting from the policy of %s", folder)

    def _stage_config(self) -> dict:
        """A stage's config.json: the run's config, its simulator on its own (what a rollout needs) and the clip."""
        return {"train": to_dict(self.config), "sim": self.checked_sim_config.to_dict(), "clip": self.clip.name}

    # --- the loop ----------------------------------------------------------------------------
    def _build(self) -> None:
        """Evaluation env, agent, stage keeper and (on resume) the checkpoint; the rollout workers come after."""
        from trainer_service.sim.env import ImitationEnv

        cfg = self.config.ppo
        torch.set_num_threads(cfg.torch_threads)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
        random.seed(cfg.seed)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        seconds = self.clip.duration + self.config.stages.extra_seconds + 0.5
        self.eval_env = ImitationEnv(self.train_clip, eval_sim_config(self.checked_sim_config, seconds), seed=cfg.seed)
        self.agent = ppo.Agent(self.eval_env.observation_size, self.eval_env.action_size, cfg)
        seconds = min(self.sim_config.episode_seconds, self.train_clip.duration if self.train_clip.loop == "none" else 1e9)
        self.max_episode_steps = max(1, int(round(seconds * self.sim_config.control_hz)))
        if self.resume:
            self._load_checkpoint()
        elif self.config.init_from:
            self._start_from(Path(self.config.init_from))
        evaluator = stages.Evaluator(self.eval_env, DeterministicPolicy(self.agent.actor), self.clip.duration,
                                     self.config.stages, seed=cfg.seed)
        self.keeper = stages.StageKeeper(
            self.run_dir, self.state, evaluator, snapshot=lambda: PolicySnapshot.of(self.agent.actor).to_bytes(),
            stage_config=self._stage_config(), save_checkpoint=self._save_checkpoint,
            record=lambda record: self.progress.record(record), control_hz=self.sim_config.control_hz,
        )

    def run(self) -> RunState:
        """Train until `total_samples` or `minutes`; returns the final counters."""
        self.config.validate()  # a resumed run's budget may have been changed since __init__
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with RunLock(self.run_dir):
            self._claim_folder()
            try:
                self._build()
                self._run_built()
            finally:
                if self.envs is not None:
                    self.envs.close()
                if self.eval_env is not None:
                    self.eval_env.close()
        return self.state

    def _run_built(self) -> None:
        # Worker seeds depend on the iteration so a resumed run does not replay the same episodes.
        self.envs = make_vec_env(self.train_clip, self.sim_config, self.config.ppo.num_envs or 8 * (os.cpu_count() or 1),
                                 self.config.ppo.seed + 7919 * self.state.iterations, self.ray_address)
        if self.resume:  # before Progress opens the file for appending
            progress.truncate_progress(self.run_dir, self.state.samples)
        self.progress = progress.Progress(self.run_dir, self.config.total_samples, self.state.samples, self.show_bar)
        try:
            if self.resume:
                self.keeper.recover()
                self._save_checkpoint()  # in this trainer's format from now on
            else:
                self.keeper.consider(force_reason="initial")
                self._save_checkpoint()
            self._loop()
        except KeyboardInterrupt:
            log.info("interrupted: saving a checkpoint (resume with --resume)")
            self._save_checkpoint()
            raise
        finally:
            self.progress.close()

    def _loop(self) -> None:
        cfg = self.config.ppo
        s = self.state
        update_threads = UpdateThreads(cfg.update_threads, os.cpu_count() or 1)
        session_start = time.monotonic()
        self._last_checkpoint = time.monotonic()
        obs = self.envs.reset()
        num_envs = obs.shape[0]
        while s.samples < self.config.total_samples:
            if self.config.minutes and time.monotonic() - session_start >= self.config.minutes * 60:
                break
            if self.config.until_landing and stages.first_landing(s.stages) is not None:
                break
            t0 = time.monotonic()
            if cfg.anneal_lr:
                self.agent.set_learning_rate_fraction(max(0.0, 1.0 - s.samples / self.config.total_samples))
            rollout, obs = ppo.collect(self.envs, self.agent, obs, cfg.num_steps)
            t1 = time.monotonic()
            advantages, returns = ppo.compute_gae(rollout.rewards, rollout.values, rollout.dones,
                                                  rollout.last_values, cfg.gamma, cfg.gae_lambda)
            threads = update_threads.pick()
            torch.set_num_threads(threads)
            started = time.monotonic()
            metrics = ppo.update(self.agent, rollout, advantages, returns, self.generator)
            update_threads.record(threads, (time.monotonic() - started) / max(1.0, metrics["losses/steps"]))
            torch.set_num_threads(cfg.torch_threads)
            self.agent.actor.norm.update(rollout.obs)
            t2 = time.monotonic()
            s.samples += cfg.num_steps * num_envs
            s.iterations += 1
            s.episodes += len(rollout.episode_returns)
            s.attempts += attempts.count_attempts(
                rollout.episode_end_times, np.asarray(rollout.episode_lengths) / self.sim_config.control_hz,
                self.takeoff, self.clip.duration if self.train_clip.loop == "wrap" else None)
            s.wall_seconds += t2 - t0
            record = {**s.counters(), **metrics,
                      "charts/reward_per_step": rollout.raw_reward_sum / (cfg.num_steps * num_envs),
                      "charts/samples_per_second": cfg.num_steps * num_envs / (t2 - t0),
                      "attempts": s.attempts, "charts/jumps_per_hour": 3600.0 * s.attempts / max(s.wall_seconds, 1e-9),
                      "charts/rollout_seconds": t1 - t0, "charts/update_seconds": t2 - t1,
                      "charts/update_threads": threads, "machine/load_1min": os.getloadavg()[0]}
            if rollout.episode_returns:
                record["charts/episode_return"] = float(np.mean(rollout.episode_returns))
                record["charts/episode_length"] = float(np.mean(rollout.episode_lengths))
                record["charts/episode_return_normalised"] = record["charts/episode_return"] / self.max_episode_steps
                record["charts/fall_fraction"] = rollout.terminations / len(rollout.episode_returns)
            self.progress.record(record)
            self.keeper.consider()
            if time.monotonic() - self._last_checkpoint >= self.config.checkpoint_seconds:
                self._save_checkpoint()
                self.keeper.draw_curve()
            s.wall_seconds += time.monotonic() - t2  # evaluation, stages and checkpoints count as training time
        self.keeper.consider(force_reason="final")
        self._save_checkpoint()
        self.keeper.draw_curve()


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
