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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from backflip_addon.core.clip import MotionClip, dumps_deepmimic
from backflip_addon.core.files import atomic_write_text, write_atomic
from backflip_addon.core.kinematics import forward_kinematics
from backflip_addon.core.skeleton import ROOT_ROT, humanoid3d
from backflip_addon.core import rotations as rot

from . import judge
from .config import StageConfig

log = logging.getLogger(__name__)

INDEX_NAME = "stages.json"
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


def milestone_reasons(metrics: dict, reached: Milestones, margin: float) -> list[str]:
    """Milestones that an evaluation newly reaches (updates `reached`)."""
    reasons = []
    if not reached.first_rotation and metrics["rotation_deg"] >= judge.LANDING_ROTATION:
        reached.first_rotation = True
        reasons.append("first full rotation")
    if not reached.first_landing and metrics["landed"]:
        reached.first_landing = True
        reasons.append("first landing")
    if not reached.first_hold and metrics["landed"] and metrics["holds"]:
        reached.first_hold = True
        reasons.append("first landing that holds")
    if metrics["normalised_return"] >= reached.best_return + margin:
        reached.best_return = metrics["normalised_return"]
        reasons.append("best return")
    return reasons


# --- evaluation ----------------------------------------------------------------------------------
@dataclass
class Rollout:
    """One evaluation rollout: simulated rows at the control rate and the reward of every step."""

    rows: np.ndarray
    rewards: np.ndarray
    fell_step: int | None
    fps: float
    contacts: list[str | None] | None = None
    """per row: the simulator's first body other than the feet touching the ground (None: none)"""


def run_rollout(env, policy: Callable[[np.ndarray], np.ndarray], steps: int, noise_std: float = 0.0,
                seed: int = 0) -> Rollout:
    """Roll `policy` out from the clip's start for `steps` control steps (no early termination in
    `env`); `noise_std` > 0 perturbs the actions with seeded Gaussian noise."""
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
        if fell_step is None and (info.get("fell") or terminated):
            fell_step = t
        if terminated or truncated:
            break
    return Rollout(np.array(rows), np.array(rewards), fell_step, float(env.config.control_hz), contacts)


def rollout_metrics(ro: Rollout, clip_duration: float) -> dict:
    """Metrics of one rollout (see judge); the normalised return covers one clip from its start and,
    like DeepMimic's early termination, scores nothing after the first fall."""
    verdict = judge.judge(ro.rows, ro.fps, ro.contacts)
    episode_steps = max(1, int(round(clip_duration * ro.fps)))
    rewards = ro.rewards if ro.fell_step is None else ro.rewards[: ro.fell_step + 1]
    return {
        "normalised_return": judge.normalised_return(rewards, episode_steps),
        **dataclasses.asdict(verdict),
    }


def _rollout_steps(env, clip_duration: float, config: StageConfig) -> int:
    return int(round((clip_duration + config.extra_seconds) * env.config.control_hz)) + 1


def evaluate(env, policy: Callable[[np.ndarray], np.ndarray], clip_duration: float, config: StageConfig,
             seed: int = 0, perturbed: bool = True) -> tuple[dict, Rollout]:
    """Deterministic rollout from the clip's start, plus (with `perturbed`) the seeded noisy ones of
    `evaluate_perturbed`; milestone checks judge the deterministic one alone."""
    main = run_rollout(env, policy, _rollout_steps(env, clip_duration, config), seed=seed)
    metrics = rollout_metrics(main, clip_duration)
    if perturbed:
        metrics.update(evaluate_perturbed(env, policy, clip_duration, config, seed))
    return metrics, main


def evaluate_perturbed(env, policy: Callable[[np.ndarray], np.ndarray], clip_duration: float, config: StageConfig,
                       seed: int = 0) -> dict:
    """The metrics of `perturbed_rollouts` seeded rollouts with Gaussian noise on the actions."""
    steps = _rollout_steps(env, clip_duration, config)
    perturbed = [
        rollout_metrics(run_rollout(env, policy, steps, config.perturb_std, seed=seed + 1 + k), clip_duration)
        for k in range(config.perturbed_rollouts)
    ]
    return {
        "perturbed": [{k: m[k] for k in ("normalised_return", "rotation_deg", "landed", "label", "time_until_fall")}
                      for m in perturbed],
        "perturbed_landed": sum(m["landed"] for m in perturbed),
        "perturbed_mean_return": float(np.mean([m["normalised_return"] for m in perturbed])) if perturbed else None,
    }


# --- on disk -------------------------------------------------------------------------------------
def stage_folder_name(index: int) -> str:
    return f"stage_{index:04d}"


def write_stage(run_dir: Path, index: int, policy_bytes: bytes, config: dict, metrics: dict, rollout: Rollout,
                preview_frames: int) -> Path:
    """Assemble a stage folder under a hidden name and rename it into place (replacing a stale one)."""
    final = run_dir / stage_folder_name(index)
    tmp = run_dir / f".{final.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "policy.pt").write_bytes(policy_bytes)
    (tmp / "config.json").write_text(json.dumps(config, indent=1))
    (tmp / "metrics.json").write_text(json.dumps(metrics, indent=1))
    rows = rollout.rows.copy()
    rows[:, 0] = 1.0 / rollout.fps
    extras = {"Source": f"trainer stage {index}: {metrics.get('label', '')}"}
    if rollout.contacts is not None:
        extras[judge.CONTACTS_KEY] = rollout.contacts
    clip = MotionClip(rows, loop="none", extras=extras)
    if abs(rollout.fps - ROLLOUT_FPS) > 1e-6:
        clip = clip.resample(ROLLOUT_FPS)
        clip.extras.pop(judge.CONTACTS_KEY, None)  # per control step; no longer one per frame
    (tmp / "rollout.txt").write_text(dumps_deepmimic(clip))
    draw_preview(rollout.rows, rollout.fps, tmp / "preview.png", preview_frames,
                 title=f"stage {index} · {metrics.get('samples', 0):,} samples · {metrics.get('label', '')}")
    for child in tmp.iterdir():
        with open(child, "rb") as handle:
            os.fsync(handle.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def write_index(run_dir: Path, entries: list[dict]) -> None:
    """Rewrite `stages.json` atomically."""
    payload = {"format": INDEX_FORMAT, "stages": sorted(entries, key=lambda e: e["index"])}
    atomic_write_text(run_dir / INDEX_NAME, json.dumps(payload, indent=1))


def read_index(run_dir: Path) -> list[dict]:
    path = run_dir / INDEX_NAME
    if not path.exists():
        return []
    return json.loads(path.read_text())["stages"]


def first_landing(entries: list[dict]) -> dict | None:
    """The first landed stage of a `stages.json` index, or None."""
    return next((e for e in entries if e.get("landed")), None)


def first_hold(entries: list[dict]) -> dict | None:
    """The first stage of a `stages.json` index that landed and held, or None."""
    return next((e for e in entries if e.get("landed") and e.get("holds")), None)


def index_entry(index: int, metrics: dict) -> dict:
    """The short record of a stage kept in `stages.json`."""
    keys = ("samples", "iterations", "episodes", "wall_seconds", "reasons", "label", "normalised_return",
            "rotation_deg", "landed", "holds", "first_ground_body", "time_until_fall", "perturbed_landed")
    return {"index": index, "folder": stage_folder_name(index), **{k: metrics.get(k) for k in keys}}


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
