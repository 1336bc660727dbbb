"""Learning stages: when to keep one, how to evaluate it, and how it is laid out on disk.

A stage is a self-contained folder `stage_0007/` holding `policy.pt` (networks.PolicySnapshot),
`config.json` (the run's config), `metrics.json` (the evaluation below plus training counters),
`preview.png` (a side-view filmstrip) and `rollout.txt` (the deterministic rollout from the clip's
start, DeepMimic text at the control rate, running `extra_seconds` past the clip's end). The run's
`stages.json` indexes them. Folders are assembled under a hidden name and renamed into place, so a
`stage_NNNN` folder is always complete.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from backflip_addon.core.clip import MotionClip, dumps_deepmimic
from backflip_addon.core.config import check_keys
from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.files import atomic_write_text, write_atomic
from backflip_addon.core.kinematics import forward_kinematics
from backflip_addon.core.skeleton import ROOT_ROT, humanoid3d
from backflip_addon.core import rotations as rot

from . import judge
from .skill import SKILL_KEY, Skill, skill_of_clip
from .config import StageConfig

log = logging.getLogger(__name__)

INDEX_NAME = "stages.json"
POLICY_NAME = "policy.pt"
"""a stage folder's policy (networks.PolicySnapshot)"""
INDEX_FORMAT = 1
ROLLOUT_FPS = 30.0
"""frame rate of a stage's rollout.txt (the control rate by default; resampled otherwise)"""


# --- schedule ------------------------------------------------------------------------------------
def scheduled_samples(config: StageConfig, after: int) -> int:
    """The first log-spaced stage point strictly after `after` samples (stage 0 sits at 0 samples)."""
    if after < config.first_stage_samples:
        return config.first_stage_samples
    k = math.floor(config.stages_per_decade * math.log10(after / config.first_stage_samples)) - 1
    while True:
        point = int(round(config.first_stage_samples * 10 ** (k / config.stages_per_decade)))
        if point > after:
            return point
        k += 1


@dataclass
class Milestones:
    """Which milestones a run has reached, and the best normalised return kept as a stage."""

    first_rotation: bool = False
    first_landing: bool = False
    first_hold: bool = False
    """first landing after which nothing but the feet touches until the rollout ends: the clean landing a
    film tells; the first landing may still fall over later"""
    best_return: float = -1.0
    best_landing: float = -1.0
    """the highest check return among the landed checks so far (-1: none landed yet)"""


def milestone_reasons(metrics: "StageMetrics", reached: Milestones, margin: float) -> list[str]:
    """Milestones that a check newly reaches (updates `reached`), judged on the check's medians (see
    `StageMetrics.check_return`); "best landing" is a landed check above every earlier landed one."""
    reasons = []
    check_return, rotation, landed = metrics.check()
    if not reached.first_rotation and rotation >= judge.LANDING_ROTATION:
        reached.first_rotation = True
        reasons.append("first full rotation")
    if landed and not reached.first_landing:
        reached.first_landing = True
        reasons.append("first landing")
    elif landed and check_return > reached.best_landing:
        reasons.append("best landing")
    if landed:
        reached.best_landing = max(reached.best_landing, check_return)
    if not reached.first_hold and metrics.landed and metrics.holds:
        reached.first_hold = True
        reasons.append("first landing that holds")
    if check_return >= reached.best_return + margin:
        reached.best_return = check_return
        reasons.append("best return")
    return reasons


# --- records ------------------------------------------------------------------------------------
@dataclass
class RolloutVerdict:
    """The verdict of one rollout of a check."""

    normalised_return: float
    rotation_deg: float
    landed: bool
    label: str
    time_until_fall: float | None


@dataclass
class StageMetrics(judge.Judgement):
    """One evaluation of a policy (the judge's verdict, its normalised return, perturbed rollouts) plus, for
    a kept stage, the training counters and why it was kept: the content of a stage's `metrics.json`."""

    normalised_return: float
    """DeepMimic's normalised return of the rollout the stage shows (see `rollout_metrics`, `shown_rollout`)"""
    perturbed: list[RolloutVerdict] | None = None
    """the perturbed rollouts of the check, in seed order"""
    deterministic: RolloutVerdict | None = None
    """the deterministic rollout, when the stage shows a perturbed one (None: it shows the deterministic one)"""
    perturbed_landed: int | None = None
    perturbed_mean_return: float | None = None
    check_return: float | None = None
    """median normalised return of the deterministic and the perturbed rollouts: what milestones judge
    (None in stages from before the median checks: the deterministic return stands in)"""
    check_rotation_deg: float | None = None
    """median rotation of the same rollouts"""
    check_landed: bool | None = None
    """at least half of the same rollouts landed"""
    rollout_seed: int = 0
    """seed of the rollout the stage shows (rollout.txt, label, preview): the environment's reset and the
    action noise, as `run_rollout` and the rollout-in-set command take it"""
    rollout_perturb: float = 0.0
    """std of the action noise of that rollout (0: the deterministic one)"""
    samples: int = 0
    iterations: int = 0
    episodes: int = 0
    wall_seconds: float = 0.0
    reasons: list[str] = field(default_factory=list)
    index: int = -1

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def landed_rollouts(self) -> int:
        """How many of the check's rollouts landed."""
        deterministic = self.landed if self.deterministic is None else self.deterministic.landed
        return int(deterministic) + (self.perturbed_landed or 0)

    def check(self) -> tuple[float, float, bool]:
        """(return, rotation, landed) of the check: the medians, or the deterministic rollout's alone in a
        record from before them."""
        if self.check_return is None:
            return self.normalised_return, self.rotation_deg, self.landed
        return self.check_return, self.check_rotation_deg, bool(self.check_landed)

    @classmethod
    def from_dict(cls, data: dict) -> "StageMetrics":
        check_keys(cls, data)
        perturbed, deterministic = data.get("perturbed"), data.get("deterministic")
        if perturbed is not None:
            perturbed = [_record(RolloutVerdict, p) for p in perturbed]
        if deterministic is not None:
            deterministic = _record(RolloutVerdict, deterministic)
        return _record(cls, {**data, "perturbed": perturbed, "deterministic": deterministic})


@dataclass
class StageEntry:
    """The short record of a kept stage in the run's `stages.json` index."""

    index: int
    folder: str
    """the stage folder's name inside the run folder; always `stage_folder_name(index)`"""
    samples: int = 0
    iterations: int = 0
    episodes: int = 0
    wall_seconds: float = 0.0
    reasons: list[str] = field(default_factory=list)
    label: str = ""
    normalised_return: float = 0.0
    rotation_deg: float = 0.0
    landed: bool = False
    holds: bool = False
    first_ground_body: str | None = None
    time_until_fall: float | None = None
    perturbed_landed: int | None = None
    check_return: float | None = None
    check_landed: bool | None = None
    rollout_seed: int = 0
    rollout_perturb: float = 0.0

    def __post_init__(self) -> None:
        # The index travels with run folders copied between machines: a folder name is never a path.
        if not isinstance(self.index, int) or self.folder != stage_folder_name(self.index):
            raise InvalidInputError(f"stage entry {self.index!r} names folder {self.folder!r}, expected "
                                    f"{stage_folder_name(self.index) if isinstance(self.index, int) else 'stage_NNNN'}",
                                    "the run folder's stages.json or checkpoint was edited or damaged: restore it")

    @property
    def checked_landed(self) -> bool:
        """Whether the check that made this stage landed (see `check_summary`); in stages from before the
        median checks, whether its deterministic rollout did."""
        return self.landed if self.check_landed is None else self.check_landed

    @property
    def checked_return(self) -> float:
        """The check's median normalised return, or the deterministic one in stages from before it."""
        return self.normalised_return if self.check_return is None else self.check_return

    @classmethod
    def of(cls, metrics: StageMetrics) -> "StageEntry":
        keep = {f.name for f in dataclasses.fields(cls)} - {"folder"}
        return cls(folder=stage_folder_name(metrics.index),
                   **{k: v for k, v in dataclasses.asdict(metrics).items() if k in keep})

    @classmethod
    def from_dict(cls, data: dict) -> "StageEntry":
        check_keys(cls, data)
        return _record(cls, data)

    def path(self, run_dir: Path) -> Path:
        return Path(run_dir) / self.folder


def _record(cls: type, data: dict):
    try:
        return cls(**data)
    except TypeError as exc:  # a missing required field
        raise InvalidInputError(f"{cls.__name__} record is incomplete: {exc}", "the file was edited or damaged") from None


def read_metrics(folder: Path) -> StageMetrics:
    """A stage folder's `metrics.json`."""
    return StageMetrics.from_dict(json.loads((Path(folder) / "metrics.json").read_text()))


# --- evaluation ----------------------------------------------------------------------------------
@dataclass
class Rollout:
    """One evaluation rollout: simulated rows at the control rate and the reward of every step."""

    rows: np.ndarray
    rewards: np.ndarray
    fell_step: int | None
    """the first step with a contact the reference does not make there (a roll's back on the floor is
    part of the roll, a knee is a fall); None: none"""
    fps: float
    contacts: list[str | None] | None = None
    """per row: the simulator's first body other than the feet touching the ground (None: none)"""
    skill: Skill | None = None
    """what the reference asks for (None: the backflip)"""


def run_rollout(env, policy: Callable[[np.ndarray], np.ndarray], steps: int, noise_std: float = 0.0,
                seed: int = 0, skill: Skill | None = None) -> Rollout:
    """Roll `policy` out from the clip's start for `steps` control steps (no early termination in
    `env`); `noise_std` > 0 perturbs the actions with seeded Gaussian noise. `skill` is the reference's
    (read off `env.clip` when not given)."""
    rng = np.random.default_rng(seed)
    obs = env.reset(seed=seed, start_time=0.0)
    rows, rewards, fell_step = [np.asarray(env.state(), dtype=np.float64)], [], None
    contacts: list[str | None] = [None]
    for t in range(steps):
        action = policy(obs[None])[0]
        if noise_std > 0:
            action = action + rng.normal(0.0, noise_std, size=action.shape)
        obs, reward, terminated, truncated, info = env.step(action)
        rows.append(np.asarray(env.state(), dtype=np.float64))
        rewards.append(float(reward))
        contacts.append(info.get("first_contact"))
        if fell_step is None and (info["unexpected_contact"] or terminated):
            fell_step = t
        if terminated or truncated:
            break
    return Rollout(np.array(rows), np.array(rewards), fell_step, float(env.config.control_hz), contacts,
                   skill or skill_of_clip(env.clip))


def rollout_metrics(ro: Rollout, clip_duration: float) -> StageMetrics:
    """Metrics of one rollout (see judge); the normalised return covers one clip from its start and,
    like DeepMimic's early termination, scores nothing after the first fall: the first contact the
    reference does not make (counting from any contact scored a roll, a cartwheel or a get-up only up to
    its first planned contact: the 30-min roll that rolled and stood up scored 0.16)."""
    verdict = judge.judge(ro.rows, ro.fps, ro.contacts, skill=ro.skill)
    episode_steps = max(1, int(round(clip_duration * ro.fps)))
    rewards = ro.rewards if ro.fell_step is None else ro.rewards[: ro.fell_step + 1]
    return StageMetrics(normalised_return=judge.normalised_return(rewards, episode_steps),
                        **dataclasses.asdict(verdict))


def _rollout_steps(env, clip_duration: float, config: StageConfig) -> int:
    return int(round((clip_duration + config.extra_seconds) * env.config.control_hz)) + 1


def evaluate(env, policy: Callable[[np.ndarray], np.ndarray], clip_duration: float, config: StageConfig,
             seed: int = 0, skill: Skill | None = None) -> tuple[StageMetrics, Rollout]:
    """One check: the deterministic rollout from the clip's start (seed `seed`) and `perturbed_rollouts`
    seeded ones with Gaussian noise on the actions (seeds `seed` + 1, + 2, ...); the check's medians over
    all of them (see `check_summary`) are what milestones judge. Returns the metrics and the rollout the
    stage shows (`shown_rollout`)."""
    steps = _rollout_steps(env, clip_duration, config)
    skill = skill or skill_of_clip(env.clip)  # once for all of the check's rollouts
    rollouts = [run_rollout(env, policy, steps, config.perturb_std if k else 0.0, seed + k, skill)
                for k in range(1 + config.perturbed_rollouts)]
    runs = [rollout_metrics(ro, clip_duration) for ro in rollouts]
    shown = shown_rollout(runs)
    metrics = dataclasses.replace(runs[shown], rollout_seed=seed + shown,
                                  rollout_perturb=config.perturb_std if shown else 0.0)
    metrics.perturbed = [_verdict(m) for m in runs[1:]]
    metrics.deterministic = _verdict(runs[0]) if shown else None
    metrics.perturbed_landed = sum(m.landed for m in runs[1:])
    metrics.perturbed_mean_return = float(np.mean([m.normalised_return for m in runs[1:]])) if len(runs) > 1 else None
    metrics.check_return, metrics.check_rotation_deg, metrics.check_landed = check_summary(runs)
    return metrics, rollouts[shown]


def _verdict(m: StageMetrics) -> RolloutVerdict:
    return RolloutVerdict(m.normalised_return, m.rotation_deg, m.landed, m.label, m.time_until_fall)


def shown_rollout(runs: list[StageMetrics]) -> int:
    """Which of a check's rollouts (0: the deterministic one, k: the k-th perturbed one) a stage shows: the
    deterministic one, unless the check landed (see `check_summary`) and it did not; then the landed one
    that earned most. So a stage kept as a "first landing" shows, is labelled as, and bakes a landing."""
    if runs[0].landed or not check_summary(runs)[2]:
        return 0
    return max((k for k, m in enumerate(runs) if m.landed), key=lambda k: runs[k].normalised_return)


def check_summary(runs: list[StageMetrics]) -> tuple[float, float, bool]:
    """(median normalised return, median rotation, landed) over a check's rollouts; landed = at least
    half of them landed (the deterministic one with one of three perturbed ones is enough)."""
    return (float(np.median([m.normalised_return for m in runs])), float(np.median([m.rotation_deg for m in runs])),
            2 * sum(m.landed for m in runs) >= len(runs))


# --- on disk -------------------------------------------------------------------------------------
def stage_folder_name(index: int) -> str:
    return f"stage_{index:04d}"


def write_stage(run_dir: Path, index: int, policy_bytes: bytes, config: dict, metrics: StageMetrics,
                rollout: Rollout, preview_frames: int) -> Path:
    """Assemble a stage folder under a hidden name and rename it into place (replacing a stale one)."""
    final = run_dir / stage_folder_name(index)
    tmp = run_dir / f".{final.name}.{os.getpid()}.tmp"  # one per process: see trainer's run lock
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / POLICY_NAME).write_bytes(policy_bytes)
    (tmp / "config.json").write_text(json.dumps(config, indent=1))
    (tmp / "metrics.json").write_text(json.dumps(metrics.to_dict(), indent=1))
    rows = rollout.rows.copy()
    rows[:, 0] = 1.0 / rollout.fps
    extras = {"Source": f"trainer stage {index}: {metrics.label}"}
    if rollout.contacts is not None:
        extras[judge.CONTACTS_KEY] = rollout.contacts
    if rollout.skill is not None:
        extras[SKILL_KEY] = rollout.skill.to_dict()
    clip = MotionClip(rows, loop="none", extras=extras)
    if abs(rollout.fps - ROLLOUT_FPS) > 1e-6:
        clip = clip.resample(ROLLOUT_FPS)
        clip.extras.pop(judge.CONTACTS_KEY, None)  # per control step; no longer one per frame
    (tmp / "rollout.txt").write_text(dumps_deepmimic(clip))
    draw_preview(rollout.rows, rollout.fps, tmp / "preview.png", preview_frames,
                 title=f"stage {index} · {metrics.samples:,} samples · {metrics.label}")
    for child in tmp.iterdir():
        with open(child, "rb") as handle:
            os.fsync(handle.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def write_index(run_dir: Path, entries: list[StageEntry]) -> None:
    """Rewrite `stages.json` atomically."""
    payload = {"format": INDEX_FORMAT, "stages": [dataclasses.asdict(e) for e in sorted(entries, key=lambda e: e.index)]}
    atomic_write_text(run_dir / INDEX_NAME, json.dumps(payload, indent=1))


def read_index(run_dir: Path) -> list[StageEntry]:
    """The stages of a run folder's `stages.json` (empty when it has none)."""
    path = Path(run_dir) / INDEX_NAME
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
        records = data["stages"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(f"{path} is not a stage index ({exc})", "restore the run folder's stages.json") from None
    if data.get("format") != INDEX_FORMAT or not isinstance(records, list):
        raise InvalidInputError(f"{path}: stage index format {data.get('format')!r}, expected {INDEX_FORMAT}",
                                "restore the run folder's stages.json")
    return [StageEntry.from_dict(r) for r in records]


def first_landing(entries: list[StageEntry]) -> StageEntry | None:
    """The first stage of a `stages.json` index whose check landed (see `check_summary`; in stages from
    before the median checks, whose deterministic rollout landed), or None."""
    return next((e for e in entries if e.checked_landed), None)


def first_hold(entries: list[StageEntry]) -> StageEntry | None:
    """The first stage of a `stages.json` index that landed and held, or None."""
    return next((e for e in entries if e.landed and e.holds), None)


# --- bookkeeping ---------------------------------------------------------------------------------
@dataclass
class PendingStage:
    """A stage whose checkpoint is written but whose folder may not be (see `StageKeeper`)."""

    index: int
    metrics: StageMetrics


@dataclass
class RunState:
    """Training counters and stage bookkeeping: what every checkpoint saves besides the networks."""

    samples: int = 0
    """simulated control steps trained on"""
    iterations: int = 0
    """PPO updates"""
    episodes: int = 0
    """training episodes finished"""
    attempts: int = 0
    """training episodes that were attempts at the move: "jumps tried" (see attempts.py)"""
    wall_seconds: float = 0.0
    """training time over all sessions (s), evaluations and checkpoints included"""
    next_stage_samples: int = 0
    """the next log-spaced schedule point (samples)"""
    next_eval_samples: int = 0
    """when the next milestone check is due (samples)"""
    stage_count: int = 0
    """stages numbered so far: the next stage's index"""
    stages: list[StageEntry] = field(default_factory=list)
    """the kept stages whose folders are in place"""
    pending_stage: PendingStage | None = None
    """a stage whose checkpoint is taken but whose folder may be missing (finished by `StageKeeper.recover`)"""
    milestones: Milestones = field(default_factory=Milestones)
    """milestones reached so far"""

    def counters(self) -> dict:
        return {"samples": self.samples, "iterations": self.iterations, "episodes": self.episodes,
                "wall_seconds": round(self.wall_seconds, 1)}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RunState":
        """Read back `to_dict`; also the states of older checkpoints."""
        data = {k: v for k, v in data.items() if k != "first_landing"}  # first sessions: now read off the stages
        check_keys(cls, data)
        entries = [StageEntry.from_dict(e) for e in data.get("stages", [])]
        pending = data.get("pending_stage")
        if pending is not None:
            pending = PendingStage(int(pending["index"]), StageMetrics.from_dict(pending["metrics"]))
        milestones = dict(data.get("milestones", {}))
        # Checkpoints from before the "first landing that holds" and "best landing" milestones: read them
        # off the stage list.
        milestones.setdefault("first_hold", first_hold(entries) is not None)
        milestones.setdefault("best_landing", max((e.checked_return for e in entries if e.checked_landed), default=-1.0))
        check_keys(Milestones, milestones)
        return _record(cls, {**data, "stages": entries, "pending_stage": pending,
                             "milestones": Milestones(**milestones)})


@dataclass
class Evaluator:
    """What judging the policy in training needs: the evaluation env (no early termination) and the policy."""

    env: Any
    policy: Callable[[np.ndarray], np.ndarray]
    """the deterministic policy; it follows the training weights as they change"""
    clip_duration: float
    config: StageConfig
    seed: int
    skill: Skill | None = None
    """what the reference asks for; read off the env's clip once, not at every check"""

    def __post_init__(self) -> None:
        self.skill = self.skill or skill_of_clip(self.env.clip)

    def evaluate(self) -> tuple[StageMetrics, Rollout]:
        return evaluate(self.env, self.policy, self.clip_duration, self.config, self.seed, self.skill)


class StageKeeper:
    """Decides after every update whether the policy becomes a stage, and writes it.

    Crash consistency: a stage is first recorded as pending in a checkpoint taken with exactly the
    stage's policy, then its folder is assembled and renamed into place, then stages.json is rewritten.
    `recover` (on resume) finishes a pending stage whose folder is missing by re-evaluating that policy,
    so no stage is lost and stages.json never names a folder that does not exist.
    """

    def __init__(self, run_dir: Path, state: RunState, evaluator: Evaluator, snapshot: Callable[[], bytes],
                 stage_config: dict, save_checkpoint: Callable[[], None], record: Callable[[dict], None],
                 control_hz: float) -> None:
        self.run_dir = Path(run_dir)
        self.state = state
        self.evaluator = evaluator
        self.config = evaluator.config
        self.snapshot = snapshot
        self.stage_config = stage_config
        self.save_checkpoint = save_checkpoint
        self.record = record
        self.control_hz = control_hz
        self._last_eval: tuple[int, StageMetrics, Rollout] | None = None

    def consider(self, force_reason: str | None = None) -> None:
        """Evaluate when due (or forced) and keep a stage for the schedule, a milestone or `force_reason`."""
        s, cfg = self.state, self.config
        scheduled = s.samples >= s.next_stage_samples
        if not (scheduled or s.samples >= s.next_eval_samples or force_reason):
            return
        fresh = self._last_eval is None or self._last_eval[0] != s.samples
        if not fresh and (not force_reason or (s.stages and s.stages[-1].samples == s.samples)):
            return  # this policy was judged (and kept if it earned it) a moment ago
        if fresh:
            metrics, rollout = self.evaluator.evaluate()
            self._last_eval = (s.samples, metrics, rollout)
            check_return, rotation, landed = metrics.check()
            self.record({"event": "eval", **s.counters(), "eval/normalised_return": check_return,
                         "eval/rotation_deg": rotation, "eval/landed": float(landed),
                         "eval/stage_return": metrics.normalised_return,
                         "eval/landed_rollouts": float(metrics.landed_rollouts),
                         "eval/label": metrics.label})
        metrics, rollout = self._last_eval[1:]
        reasons = milestone_reasons(metrics, s.milestones, cfg.best_return_margin)
        reasons[:0] = [r for r in (force_reason, "schedule" if scheduled else None) if r]
        # Advance the schedule before the stage's checkpoint, so a resumed run does not keep it twice.
        while s.next_eval_samples <= s.samples:
            s.next_eval_samples += cfg.eval_every_samples
        s.next_stage_samples = scheduled_samples(cfg, s.samples)
        if reasons:
            self._keep(reasons, metrics, rollout)

    def _keep(self, reasons: list[str], evaluation: StageMetrics, rollout: Rollout) -> None:
        s = self.state
        index = s.stage_count
        metrics = dataclasses.replace(evaluation, **s.counters(), reasons=reasons, index=index)
        s.stage_count += 1
        s.pending_stage = PendingStage(index, metrics)
        self.save_checkpoint()  # holds exactly this stage's policy
        self._write(metrics, rollout)
        s.stages.append(StageEntry.of(metrics))
        s.pending_stage = None
        write_index(self.run_dir, s.stages)
        log.info("stage %d at %s samples (%s): %s, return %.3f, rotation %.0f°", index, f"{s.samples:,}",
                 ", ".join(reasons), metrics.label, metrics.normalised_return, metrics.rotation_deg)
        self.draw_curve()

    def _write(self, metrics: StageMetrics, rollout: Rollout) -> None:
        write_stage(self.run_dir, metrics.index, self.snapshot(), self.stage_config, metrics, rollout,
                    self.config.preview_frames)

    def draw_curve(self) -> None:
        from .progress import draw_learning_curve

        draw_learning_curve(self.run_dir, self.state.stages, self.control_hz, self.evaluator.skill.kind)

    def recover(self) -> None:
        """After a kill: drop half-built folders, finish a pending stage, rewrite stages.json."""
        s = self.state
        for tmp in self.run_dir.glob(".stage_*.tmp"):
            shutil.rmtree(tmp, ignore_errors=True)
        pending = s.pending_stage
        if pending is not None:
            folder = self.run_dir / stage_folder_name(pending.index)
            if folder.exists():
                metrics = read_metrics(folder)
            else:
                log.info("finishing stage %d, interrupted by the kill", pending.index)
                metrics = pending.metrics
                _, rollout = self.evaluator.evaluate()
                self._write(metrics, rollout)
            if all(e.index != pending.index for e in s.stages):
                s.stages.append(StageEntry.of(metrics))
            s.pending_stage = None
        if s.stages:  # a checkpoint taken inside a stage already counts that stage's schedule point
            last = max(e.samples for e in s.stages)
            s.next_stage_samples = max(s.next_stage_samples, scheduled_samples(self.config, last))
        # A kept stage's folder is in place before the stage enters the list, so a missing one was removed
        # by hand (a run pruned for shipping, a stage the user did not want): stages.json must not name it.
        removed = [e for e in s.stages if not e.path(self.run_dir).is_dir()]
        for entry in removed:
            log.warning("%s was removed from the run folder; dropped from stages.json", entry.folder)
        s.stages = [e for e in s.stages if e not in removed]
        # Folders a killed session made past the checkpoint cannot exist (see above), but a stage index
        # beyond the checkpoint's count would be a stranger's: leave it, warn.
        known = {e.folder for e in s.stages}
        for folder in self.run_dir.glob("stage_*"):
            if folder.name not in known:
                log.warning("%s is not part of this run's checkpoint; left alone", folder)
        write_index(self.run_dir, s.stages)


# --- preview -------------------------------------------------------------------------------------
def draw_preview(rows: np.ndarray, fps: float, path: Path, count: int, title: str = "") -> None:
    """Side-view filmstrip of `count` poses evenly spread over the rollout (bones from core FK)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    skeleton = humanoid3d()
    pos, _ = forward_kinematics(rows, skeleton)
    q0 = rot.normalize(rows[0, ROOT_ROT])
    forward = rot.rotate(q0, np.array([1.0, 0.0, 0.0]))
    forward[1] = 0.0
    forward = forward / max(np.linalg.norm(forward), 1e-6)
    side = np.stack([pos @ forward, pos[..., 1]], axis=-1)  # (F, B, 2): along heading, height
    contacts = judge.ground_contacts(rows)
    picks = np.unique(np.linspace(0, len(rows) - 1, count).round().astype(int))
    fig, axes = plt.subplots(1, len(picks), figsize=(0.9 * len(picks), 1.7), dpi=80, squeeze=False)
    for ax, f in zip(axes[0], picks):
        centre = side[f, 0, 0]
        for i, body in enumerate(skeleton.bodies):
            if body.parent >= 0:
                a, b = side[f, body.parent], side[f, i]
                ax.plot([a[0] - centre, b[0] - centre], [a[1], b[1]], color="#333333", lw=1.6,
                        solid_capstyle="round")
        head = side[f, skeleton.index("neck")]
        ax.plot(head[0] - centre, head[1] + 0.12, "o", ms=4, color="#333333")
        hit = contacts[f]
        ax.plot(side[f, hit, 0] - centre, np.zeros(hit.sum()), "o", ms=3, color="#d62728")
        ax.axhline(0.0, color="#8c564b", lw=1)
        ax.set_xlim(-0.9, 0.9)
        ax.set_ylim(-0.05, 2.0)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{f / fps:.2f}s", fontsize=6, pad=1)
        for spine in ax.spines.values():
            spine.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=7, y=0.99)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.8, wspace=0.05)
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    write_atomic(path, buffer.getvalue())
