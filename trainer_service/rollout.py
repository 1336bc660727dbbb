"""Rollout in set: a learning stage's policy simulated in the user's own colliders.

`python -m trainer_service rollout --stage STAGE_DIR --colliders SET.json --out OUT.txt [--seed N]
[--attempts K] [--perturb STD] [--start X,Y,HEADING_DEG] [--fps F] [--seconds S]`

The stage's policy acts in a world holding exactly the set's colliders (they replace the training
floor: `[{"kind": "plane"}]` is that floor), from a start point and heading given in Blender's ground
coordinates (Z up: Y-up position (X, h, -Y), h the top of the set under that point). The reference the
policy observes is placed the same way, and its root height is read relative to h, so on a plain
floor at the origin the policy sees exactly what it saw in training.

Writes, all or nothing: one DeepMimic clip per attempt (`OUT.txt`, or `OUT.a1.txt` ... `OUT.aK.txt`)
in the set's frame, and `OUT.events.json` (see `RolloutReport`), written last.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import math
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from backflip_addon.core.clip import MotionClip, dumps_deepmimic, load_clip
from backflip_addon.core.errors import InvalidInputError, NotFoundError
from backflip_addon.core.files import replacing
from backflip_addon.core.skeleton import FEET

if TYPE_CHECKING:
    from trainer_service.rl.judge import Judgement
    from trainer_service.sim.config import ColliderConfig, SimConfig

log = logging.getLogger(__name__)

REPORT_FORMAT = 1
Policy = Callable[[np.ndarray], np.ndarray]


# --- the report (events.json) ---------------------------------------------------------------------
@dataclass
class Events:
    """s from the clip's first frame; None when it did not happen."""

    takeoff: float | None
    """start of the longest stretch in which nothing touches the set"""
    apex: float | None
    """highest root position in that stretch"""
    touchdown: float | None
    """end of that stretch: the first frame touching the set again"""
    first_fall: float | None
    """first frame in which a body other than the feet touches the set"""


@dataclass
class AttemptReport:
    attempt: int
    seed: int
    clip: str
    """the clip's file name, relative to the events file's folder"""
    label: str
    landed: bool
    rotation_deg: float
    events: Events
    contacts: list[list[str]]
    """per clip frame: the bodies touching any collider"""


@dataclass
class RolloutReport:
    """What `OUT.events.json` holds."""

    stage: str
    stage_index: int
    stage_label: str
    fps: float
    seconds: float
    start: list[float]
    seed: int
    perturb: float
    attempts: list[AttemptReport] = field(default_factory=list)
    format: int = REPORT_FORMAT

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return {"format": data.pop("format"), **data}


# --- inputs ---------------------------------------------------------------------------------------
@dataclass
class Stage:
    """A stage folder read back: its policy and what it was trained with."""

    path: Path
    index: int
    label: str
    policy: Policy
    sim_config: SimConfig
    """the run's simulator config, as trained"""
    clip: MotionClip
    """the reference as trained on (the clip, then its last pose held)"""
    clip_duration: float
    """s: the reference clip alone, without the held pose"""


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise NotFoundError(f"{path}: no such file", "check the path")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                                "fix the file or export it again") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path}: cannot be read ({exc})", "check the file") from None


def load_stage(stage_dir: Path) -> Stage:
    """Policy, simulator config and reference of a stage folder (the reference is the run's clip.txt)."""
    from trainer_service.rl.networks import DeterministicPolicy, PolicySnapshot
    from trainer_service.rl.stages import POLICY_NAME
    from trainer_service.rl.trainer import with_hold
    from trainer_service.sim.config import SimConfig
    from trainer_service.sim.observation import observation_size

    stage_dir = Path(stage_dir).resolve()
    if not stage_dir.is_dir():
        raise NotFoundError(f"{stage_dir}: no such stage folder", "pass a stage folder such as run/stage_0015")
    policy_path = stage_dir / POLICY_NAME
    if not policy_path.is_file():
        raise NotFoundError(f"{policy_path}: the stage has no policy", "pass a complete stage folder (policy.pt, config.json)")
    config_path = stage_dir / "config.json"
    config = _read_json(config_path)
    if not isinstance(config, dict) or not isinstance(config.get("sim"), dict):
        raise InvalidInputError(f"{config_path}: no 'sim' section", "the stage folder was not written by the trainer")
    try:
        sim_config = SimConfig.from_dict(config["sim"])
    except InvalidInputError as exc:
        raise InvalidInputError(f"{config_path}: sim: {exc.message}", exc.hint) from None
    hold = (config.get("train") or {}).get("hold_seconds", 0.0)
    if not isinstance(hold, (int, float)) or not math.isfinite(hold) or hold < 0:
        raise InvalidInputError(f"{config_path}: train.hold_seconds must be a number >= 0, got {hold!r}",
                                "the stage folder was not written by the trainer")
    clip_path = stage_dir.parent / "clip.txt"
    if not clip_path.is_file():
        raise NotFoundError(f"{clip_path}: the run's reference clip is missing",
                            "keep the stage folder inside its run folder (beside clip.txt)")
    clip = load_clip(clip_path)
    metrics_path = stage_dir / "metrics.json"
    metrics = _read_json(metrics_path) if metrics_path.exists() else {}
    index = metrics.get("index") if isinstance(metrics, dict) else None
    if not isinstance(index, int):
        digits = stage_dir.name.rpartition("_")[2]
        index = int(digits) if digits.isdigit() else -1
    try:
        snapshot = PolicySnapshot.load(policy_path)
    except (RuntimeError, EOFError, KeyError, pickle.UnpicklingError) as exc:  # torch's ways of a broken file
        raise InvalidInputError(f"{policy_path}: not a readable policy ({exc})", "the stage folder is damaged") from None
    if snapshot.obs_size != observation_size(sim_config.target_obs):
        raise InvalidInputError(f"{policy_path}: policy observes {snapshot.obs_size} numbers, the config gives "
                                f"{observation_size(sim_config.target_obs)}", "the stage folder is inconsistent")
    return Stage(stage_dir, index, str(metrics.get("label", "")) if isinstance(metrics, dict) else "",
                 DeterministicPolicy(snapshot.build()), sim_config, with_hold(clip, float(hold)), clip.duration)


def parse_colliders(data: Any, source: str = "colliders") -> list[ColliderConfig]:
    """ColliderConfigs from the JSON list Blender exports; errors name `source` and the collider."""
    from trainer_service.sim.config import ColliderConfig

    if not isinstance(data, list):
        raise InvalidInputError(f"{source}: expected a JSON list of colliders, got {type(data).__name__}",
                                'e.g. [{"kind": "plane"}] for a plain floor')
    if not data:
        raise InvalidInputError(f"{source}: the set has no colliders", 'add a floor: [{"kind": "plane"}]')
    out = []
    for i, item in enumerate(data):
        kind = item.get("kind", "plane") if isinstance(item, dict) else None
        try:
            out.append(ColliderConfig.from_dict(item))
        except (InvalidInputError, TypeError, ValueError) as exc:  # TypeError/ValueError: a field of the wrong type
            message = exc.message if isinstance(exc, InvalidInputError) else str(exc)
            hint = exc.hint if isinstance(exc, InvalidInputError) else "export the set from Blender again"
            raise InvalidInputError(f"{source}: collider {i} ({kind}): {message}", hint) from None
    return out


def load_colliders(path: Path) -> list[dict]:
    """The collider dicts of a set file, checked (errors name the file, the collider and its field)."""
    data = _read_json(Path(path))
    parse_colliders(data, str(path))
    return data


def _finite_number(name: str, value: Any, low: float, low_inclusive: bool = True) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be a number, got {value!r}", f"pass a number >= {low}") from None
    if not math.isfinite(value) or value < low or (value == low and not low_inclusive):
        raise InvalidInputError(f"{name} must be a finite number {'>=' if low_inclusive else '>'} {low}, got {value}",
                                "check the option")
    return value


def _check_options(seed: int, attempts: int, perturb: float, fps: float, seconds: float,
                   start: tuple[float, float, float]) -> tuple[float, float, float, tuple[float, float, float]]:
    """The numeric options as floats, or an error saying which one is wrong."""
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
        raise InvalidInputError(f"attempts must be a whole number >= 1, got {attempts!r}", "pass e.g. --attempts 3")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InvalidInputError(f"seed must be a whole number >= 0, got {seed!r}", "pass e.g. --seed 0")
    if len(start) != 3:
        raise InvalidInputError(f"start needs 3 numbers (X, Y, heading in degrees), got {start!r}", "pass e.g. 0,0,0")
    x, y, heading = (_finite_number(name, v, -math.inf) for name, v in zip(("start X", "start Y", "start heading"), start))
    return (_finite_number("perturb", perturb, 0.0), _finite_number("fps", fps, 0.0, low_inclusive=False),
            _finite_number("seconds", seconds, 0.0), (x, y, heading))


def outputs(out: Path, attempts: int) -> tuple[list[Path], Path]:
    """Clip paths and the events path of a rollout written to `out` (`OUT.txt`)."""
    out = Path(out)
    if out.suffix != ".txt":
        raise InvalidInputError(f"{out}: the output must be a .txt file (DeepMimic text)", "pass e.g. --out shot.txt")
    base = out.with_suffix("")
    clips = [out] if attempts == 1 else [base.with_name(f"{base.name}.a{k}.txt") for k in range(1, attempts + 1)]
    return clips, base.with_name(f"{base.name}.events.json")


# --- simulation -----------------------------------------------------------------------------------
def set_sim_config(stage: Stage, colliders: list[ColliderConfig], start: tuple[float, float, float],
                   seconds: float) -> SimConfig:
    """The stage's simulator config in the set: its colliders instead of the training floor, the
    reference placed at the start, and the evaluation rules (from the clip's start, no termination)."""
    from trainer_service.rl.trainer import eval_sim_config
    from trainer_service.sim import world

    x, y, heading = start
    client = world.connect(stage.sim_config)
    try:
        world.add_colliders(client, colliders)
        height = world.support_height(client, x, -y)
    finally:
        client.disconnect()
    if height is None:
        raise InvalidInputError(f"nothing in the set lies under the start point ({x}, {y})",
                                'add a floor ({"kind": "plane"}) or move the start onto the set')
    config = dataclasses.replace(stage.sim_config, colliders=colliders, start_position=(x, height, -y),
                                 start_heading=math.radians(heading))
    return eval_sim_config(config, stage.clip_duration + seconds + 0.5)


def _on_support(policy: Policy, height: float) -> Policy:
    """The policy with the root height observed from the start's support, as on the training floor."""
    from trainer_service.sim.observation import ROOT_HEIGHT_INDEX

    if height == 0.0:
        return policy

    def act(obs: np.ndarray) -> np.ndarray:
        obs = np.array(obs, copy=True)
        obs[..., ROOT_HEIGHT_INDEX] -= height
        return policy(obs)

    return act


def simulate(env, policy: Policy, steps: int, perturb: float, seed: int,
             on_step: Callable[[int], None] | None = None) -> tuple[np.ndarray, list[list[str]]]:
    """Rows (control rate) and per-row touching bodies of one attempt from the clip's start; `perturb`
    > 0 adds seeded Gaussian noise to the actions (as the trainer's perturbed evaluations do)."""
    rng = np.random.default_rng(seed)
    obs = env.reset(seed=seed, start_time=0.0)
    env.detect_contacts()
    rows, contacts = [env.state()], [env.touching()]
    for t in range(steps):
        action = policy(obs[None])[0]
        if perturb > 0:
            action = action + rng.normal(0.0, perturb, size=action.shape)
        obs, _reward, terminated, truncated, _info = env.step(action)
        rows.append(env.state())
        contacts.append(env.touching())
        if on_step is not None:
            on_step(t + 1)
        if terminated or truncated:
            break
    return np.array(rows), contacts


def flight_events(rows: np.ndarray, contacts: list[list[str]], fps: float, first_fall: float | None) -> Events:
    """Takeoff, apex and touchdown of the longest flight (nothing touching the set), plus the first fall."""
    airborne = np.array([not c for c in contacts] + [False])
    best, start = (0, 0), None
    for f, up in enumerate(airborne):
        if up and start is None:
            start = f
        elif not up and start is not None:
            if start > 0 and f - start > best[1] - best[0]:  # a flight begins after a touch
                best = (start, f)
            start = None
    if best[1] <= best[0]:
        return Events(None, None, None, first_fall)
    takeoff, land = best
    apex = takeoff + int(np.argmax(rows[takeoff:land, 2]))
    return Events(takeoff / fps, apex / fps, land / fps if land < len(contacts) else None, first_fall)


def _judge_attempt(rows: np.ndarray, contacts: list[list[str]], fps: float, clip: MotionClip) -> Judgement:
    """The judge's verdict on an attempt at `clip`'s skill from the simulator's contacts alone (feet
    included): the set's support may be raised or soft, so nothing is measured from y = 0."""
    from trainer_service.rl import judge
    from trainer_service.rl.skill import skill_of_clip

    feet = set(FEET)
    first_other = [next((b for b in c if b not in feet), None) for c in contacts]
    return judge.judge(rows, fps, first_other, foot_contacts=[any(b in feet for b in c) for c in contacts],
                       skill=skill_of_clip(clip))


def _clip_text(rows: np.ndarray, control_hz: float, fps: float, source: str) -> tuple[str, list[int]]:
    """DeepMimic text at `fps` and, per written frame, the control row it is nearest to."""
    rows = rows.copy()
    rows[:, 0] = 1.0 / control_hz
    clip = MotionClip(rows, loop="none", extras={"Source": source})
    if abs(fps - control_hz) > 1e-9:
        clip = clip.resample(fps)
    nearest = np.clip(np.round(clip.times * control_hz).astype(int), 0, len(rows) - 1)
    return dumps_deepmimic(clip), nearest.tolist()


def _attempt(env, policy: Policy, steps: int, perturb: float, seed: int, fps: float, number: int, clip_name: str,
             source: str, on_step: Callable[[int], None]) -> tuple[AttemptReport, str]:
    """One attempt simulated and judged: its report and its clip as DeepMimic text."""
    began = time.perf_counter()
    control_hz = float(env.config.control_hz)
    rows, contacts = simulate(env, policy, steps, perturb, seed, on_step)
    verdict = _judge_attempt(rows, contacts, control_hz, env.clip)
    text, nearest = _clip_text(rows, control_hz, fps, f"{source}: {verdict.label}")
    report = AttemptReport(
        attempt=number, seed=seed, clip=clip_name, label=verdict.label, landed=verdict.landed,
        rotation_deg=round(verdict.rotation_deg, 2),
        events=flight_events(rows, contacts, control_hz, verdict.time_until_fall),
        contacts=[contacts[i] for i in nearest],
    )
    log.info("attempt %d (seed %d): %s, %.0f° rotation, %.2f s", number, seed, verdict.label, verdict.rotation_deg,
             time.perf_counter() - began)
    return report, text


# --- the whole job --------------------------------------------------------------------------------
def rollout_in_set(stage_dir: Path, colliders: list[dict], out: Path, *, seed: int = 0, attempts: int = 1,
                   perturb: float = 0.0, start: tuple[float, float, float] = (0.0, 0.0, 0.0), fps: float = 30.0,
                   seconds: float = 1.5, progress: Callable[[float], None] | None = None) -> RolloutReport:
    """Simulate a stage in a set for `attempts` seeded attempts and write their clips and events."""
    from trainer_service.sim.env import ImitationEnv

    perturb, fps, seconds, start = _check_options(seed, attempts, perturb, fps, seconds, start)
    clip_paths, events_path = outputs(out, attempts)
    for path in [*clip_paths, events_path]:
        if path.is_dir():
            raise InvalidInputError(f"{path} is a folder", "choose another --out")
    set_colliders = parse_colliders(colliders)
    stage = load_stage(stage_dir)
    held = stage.clip.duration - stage.clip_duration
    if stage.clip.loop != "wrap" and seconds > held + 1e-9:
        raise InvalidInputError(f"{stage.path}: this stage was trained {held:g} s past its clip; --seconds {seconds:g} "
                                "would run the policy where it never acted", f"pass --seconds {held:g} or less")
    config = set_sim_config(stage, set_colliders, start, seconds)
    steps = int(round((stage.clip_duration + seconds) * config.control_hz))
    policy = _on_support(stage.policy, config.start_position[1])
    report = RolloutReport(str(stage.path), stage.index, stage.label, fps, seconds, list(start), seed, perturb)
    texts = []
    with ImitationEnv(stage.clip, config, seed=seed) as env:
        for k in range(attempts):

            def on_step(step: int, k: int = k) -> None:
                if progress is not None:
                    progress(min(1.0, (k + step / steps) / attempts))

            attempt, text = _attempt(env, policy, steps, perturb, seed + k, fps, k + 1, clip_paths[k].name,
                                     f"rollout in set of stage {stage.index}", on_step)
            report.attempts.append(attempt)
            texts.append(text)
    _publish(clip_paths, texts, events_path, json.dumps(report.to_dict(), indent=1))
    if progress is not None:
        progress(1.0)
    return report


def _publish(clip_paths: list[Path], texts: list[str], events_path: Path, events_text: str) -> None:
    """Write every file under a temporary name, then rename them into place, the events file last:
    it is what readers look for, so it never names a clip that is not there."""
    with contextlib.ExitStack() as stack:
        events_tmp = stack.enter_context(replacing(events_path))  # entered first: renamed last
        for path, text in zip(clip_paths, texts):
            stack.enter_context(replacing(path)).write_text(text)
        events_tmp.write_text(events_text)


# --- command line ---------------------------------------------------------------------------------
def _start(text: str) -> tuple[float, float, float]:
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected X,Y,HEADING_DEG (three numbers), got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", type=Path, required=True, help="stage folder (policy.pt, config.json) inside its run")
    parser.add_argument("--colliders", type=Path, required=True,
                        help='JSON list of colliders (Y up) as Blender exports them; [{"kind": "plane"}] is a floor')
    parser.add_argument("--out", type=Path, required=True,
                        help="OUT.txt: the clip (OUT.a1.txt ... for several attempts) and OUT.events.json beside it")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first attempt (the next ones count up)")
    parser.add_argument("--attempts", type=int, default=1, help="number of seeded attempts")
    parser.add_argument("--perturb", type=float, default=0.0, help="std of Gaussian noise added to the actions")
    parser.add_argument("--start", type=_start, default=(0.0, 0.0, 0.0),
                        help="X,Y,HEADING_DEG: start on Blender's ground plane (metres) and turn about +Z (degrees)")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate of the clips written")
    parser.add_argument("--seconds", type=float, default=1.5, help="how long to go on after the clip's end (s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    colliders = load_colliders(args.colliders)
    # The bar (on stderr) is also how the service reads a rollout job's progress from its log.
    bar = None if args.quiet else tqdm(total=100, desc="simulate", unit="%")

    def progress(fraction: float) -> None:
        if bar is not None:
            bar.update(round(100 * fraction) - bar.n)

    try:
        report = rollout_in_set(args.stage, colliders, args.out, seed=args.seed, attempts=args.attempts,
                                perturb=args.perturb, start=args.start, fps=args.fps, seconds=args.seconds,
                                progress=progress)
    finally:
        if bar is not None:
            bar.close()
    _clips, events_path = outputs(args.out, args.attempts)
    print(json.dumps({"events": str(events_path), "labels": [a.label for a in report.attempts]}))
    return 0
