"""Every number the trainer uses, as typed dataclasses with one docstring per field.

`PPOConfig` holds the learning algorithm (CleanRL's ppo_continuous_action.py layout); `StageConfig`
says when learning stages are kept and how they are judged; `TrainConfig` bundles both with the run's
budget. A run folder holds `config.json` = `asdict(TrainConfig)`; `backflip_addon.core.config.from_dict`
reads it back and rejects unknown keys so a typo never silently falls back to a default.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from backflip_addon.core.config import check_types
from backflip_addon.core.errors import InvalidInputError
from trainer_service.sim.config import SimConfig


TRAINING_PHYSICS_HZ = 240
"""Hz: physics rate of training's rollouts. 120 Hz trains 1.3x more samples per second (2-minute runs,
alternating, quiet cores), but learns less per minute: seed 1 for 15 min reached return 0.34 and ~120° of
rotation at 120 Hz against 0.43 and 264° at 240 Hz (bench/results/backflip_training.jsonl), so the rate the
backflip was shown to land with stays. A config may set `sim.physics_hz` 120; the milestone checks and kept
stages run at `StageConfig.eval_physics_hz` either way"""


def training_sim_config() -> SimConfig:
    """The simulator as training uses it unless a config says otherwise: the reference pose of the coming
    step in the observation (see sim/observation.py), physics at `TRAINING_PHYSICS_HZ`."""
    return SimConfig(target_obs=True, physics_hz=TRAINING_PHYSICS_HZ)


@dataclass
class PPOConfig:
    """Proximal Policy Optimisation with GAE; defaults chosen by the experiments in the README."""

    num_envs: int = 0
    """simulated characters stepped in parallel (0 = 8 per CPU core: each round trip to a worker costs
    ~1 ms of wake-up on this VM, so more characters per trip pay off: +15% over 4 per core)"""
    num_steps: int = 64
    """control steps collected per character between two updates; batch = num_envs * num_steps"""
    hidden_sizes: tuple[int, ...] = (1024, 512)
    """hidden layer widths of both the policy and the value MLP (DeepMimic: 1024-512, ReLU)"""
    init_log_std: float = -2.0
    """initial log standard deviation of the Gaussian policy (rad of residual joint target; e^-2 = 0.135)"""
    min_log_std: float = -3.0
    """floor on the learned log standard deviation so exploration never collapses to zero"""
    learning_rate: float = 5e-5
    """Adam step size of the policy"""
    critic_learning_rate: float = 1e-3
    """Adam step size of the value function"""
    anneal_lr: bool = True
    """decay both step sizes linearly to zero over `TrainConfig.total_samples` (the policy settles instead of
    jittering around its plateau: on the backflip, median normalised return +0.02-0.03 from 2M samples on)"""
    gamma: float = 0.95
    """discount factor per control step (DeepMimic: 0.95 at 30 Hz, a horizon of ~0.7 s)"""
    gae_lambda: float = 0.95
    """GAE lambda: bias/variance trade-off of the advantage estimate"""
    update_epochs: int = 4
    """passes over each batch"""
    minibatch_size: int = 256
    """samples per gradient step"""
    clip_coef: float = 0.2
    """PPO ratio clipping epsilon"""
    clip_vloss: bool = False
    """clip the value loss around the old value estimate as well"""
    ent_coef: float = 0.0
    """entropy bonus weight (the log-std floor keeps exploring instead)"""
    max_grad_norm: float = 1.0
    """gradient clipping by global norm, per network"""
    target_kl: float = 0.05
    """stop the policy's steps of one update once its approximate KL to the collecting policy exceeds
    1.5 times this (checked per minibatch; the critic keeps training; 0 = never)"""
    norm_adv: bool = True
    """normalise advantages per minibatch"""
    obs_clip: float = 10.0
    """clip normalised observations to +-this many standard deviations"""
    action_bound_coef: float = 10.0
    """penalty on policy means beyond +-`action_bound` (keeps the mean inside the joint range)"""
    action_bound: float = 1.5
    """bound on the residual action mean (rad) used by the penalty above"""
    seed: int = 1
    """seed of torch, numpy and the simulators"""
    torch_threads: int = 1
    """torch intra-op threads of the learner while it collects (the simulator workers use the cores then)"""
    update_threads: int = 0
    """torch intra-op threads of the update; 0 = whichever of one per core (1.5x faster on 2 free cores:
    the workers wait meanwhile) and one is faster lately (on cores busy with other work, threads that
    wait on each other made an update 12x slower)"""


@dataclass
class StageConfig:
    """When learning stages are kept and how each is judged."""

    first_stage_samples: int = 100_000
    """samples at the first log-spaced stage after the initial one (stage 0 = untrained policy)"""
    stages_per_decade: int = 4
    """log-spaced stages per factor of ten in samples (4: 100k, 178k, 316k, 562k, 1M, ...)"""
    eval_every_samples: int = 50_000
    """samples between milestone checks (first full rotation, first landing, best landing, best return); a
    check is the median of the deterministic rollout and the `perturbed_rollouts` perturbed ones (~1.2 s):
    one deterministic rollout alone wandered by +-0.03 from one check to the next"""
    eval_physics_hz: int = 240
    """Hz: physics rate of the milestone checks and of the simulator a kept stage records for its rollouts
    (training may run coarser, see `TRAINING_PHYSICS_HZ`): a stage is rolled out where it was shown to
    land, and 240 Hz lands open-loop replays that 120 Hz does not (DESIGN.md); 0 = the training rate"""
    best_return_margin: float = 0.03
    """a new best normalised return becomes a stage only if it beats the last best-return stage by this
    (a better landing is kept without this margin: see the "best landing" milestone)"""
    extra_seconds: float = 1.5
    """how long the evaluation rollout continues past the clip's end (s)"""
    perturbed_rollouts: int = 3
    """seeded perturbed rollouts per evaluation, besides the deterministic one"""
    perturb_std: float = 0.05
    """std of the seeded Gaussian noise added to the policy's actions in perturbed rollouts (rad)"""
    preview_frames: int = 12
    """poses drawn in a stage's filmstrip preview"""


@dataclass
class TrainConfig:
    """One training run: what to imitate, for how long, how to learn and when to keep stages."""

    total_samples: int = 7_000_000
    """stop after this many simulated control steps; also the length of the learning-rate decay
    (`PPOConfig.anneal_lr`). 7M is about 2 h on 2 cores; the backflip lands from ~1.6M on"""
    minutes: float = 0.0
    """stop after this many minutes of wall-clock in this session; a resumed run gets them afresh (0 = no limit)"""
    until_landing: bool = False
    """also stop at the first kept stage whose check landed (a bench that asks only how long the first
    landing takes; the rest of the budget would train on past it)"""
    checkpoint_seconds: float = 120.0
    """wall-clock between two resumable checkpoints (a stage always writes one too)"""
    init_from: str = ""
    """a new run starts from this folder's policy instead of an untrained one: a run folder (its checkpoint:
    actor, critic and observation normaliser) or a stage folder (its policy.pt: actor and normaliser; the critic
    starts untrained); e.g. the shipped backflip for a backflip extracted from video. Its observation and action
    sizes must be this run's. Counters, optimisers and the learning-rate schedule start afresh ("" = untrained)"""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """the learning algorithm"""
    stages: StageConfig = field(default_factory=StageConfig)
    """learning-stage schedule and evaluation"""
    hold_seconds: float = 1.5
    """the clip is played once and its last pose held this long (s), so the policy learns to land and
    stay up; 0 = train on the clip as it is (a wrapping clip then repeats). A wrapping walk or run always
    repeats (`trainer.with_hold`)"""
    rsi_inside_clip: bool = True
    """with a held last pose, start episodes only inside the clip itself (sets `sim.rsi_window` to the clip's
    length when the run starts): starts in the hold were otherwise 2 of every 3 samples, standing still,
    learnt early and then wasted; False keeps `sim.rsi_window` as given"""
    sim: SimConfig = field(default_factory=training_sim_config)
    """the simulator this run trains in; a run folder's config.json holds it with every value resolved"""

    def validate(self) -> None:
        """Raise InvalidInputError unless every value has its type and a usable range (before a run
        touches its folder)."""
        check_types(self)
        p, st = self.ppo, self.stages
        positive = {"total_samples": self.total_samples, "ppo.num_steps": p.num_steps,
                    "ppo.update_epochs": p.update_epochs, "ppo.torch_threads": p.torch_threads, "ppo.minibatch_size": p.minibatch_size,
                    "ppo.learning_rate": p.learning_rate, "ppo.critic_learning_rate": p.critic_learning_rate,
                    "stages.first_stage_samples": st.first_stage_samples, "stages.stages_per_decade": st.stages_per_decade,
                    "stages.eval_every_samples": st.eval_every_samples, "stages.preview_frames": st.preview_frames,
                    **{f"ppo.hidden_sizes[{i}]": h for i, h in enumerate(p.hidden_sizes)}}
        not_negative = {"minutes": self.minutes, "checkpoint_seconds": self.checkpoint_seconds,
                        "hold_seconds": self.hold_seconds, "ppo.num_envs": p.num_envs, "ppo.clip_coef": p.clip_coef,
                        "ppo.ent_coef": p.ent_coef, "ppo.max_grad_norm": p.max_grad_norm, "ppo.target_kl": p.target_kl,
                        "ppo.update_threads": p.update_threads, "stages.eval_physics_hz": st.eval_physics_hz,
                        "stages.extra_seconds": st.extra_seconds, "stages.perturbed_rollouts": st.perturbed_rollouts,
                        "stages.perturb_std": st.perturb_std}
        for name, value in positive.items():
            if value <= 0:
                raise InvalidInputError(f"config {name} must be positive, got {value}", "fix the value in the config file")
        for name, value in not_negative.items():
            if value < 0:
                raise InvalidInputError(f"config {name} must be >= 0, got {value}", "fix the value in the config file")
        for name, value in {"ppo.gamma": p.gamma, "ppo.gae_lambda": p.gae_lambda}.items():
            if not 0.0 < value <= 1.0:
                raise InvalidInputError(f"config {name} must lie in (0, 1], got {value}", "e.g. 0.95")
        if not p.hidden_sizes:
            raise InvalidInputError("config ppo.hidden_sizes is empty", "e.g. [1024, 512]")


def to_dict(config: Any) -> dict[str, Any]:
    """JSON-ready dict of a config dataclass (tuples become lists)."""
    return dataclasses.asdict(config)
