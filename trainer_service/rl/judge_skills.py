"""The judge for skills other than flips and cartwheels (`judge.judge` sends them here).

Success ("landed") per skill, measured like the backflip's landing from contacts and body heights:
- roll: it turns `ROTATION_SHARE` of the reference's rotation, then stands (`standing`) for `HOLD_SECONDS`;
  any body may touch the ground before it stands.
- getup: it stands for `HOLD_SECONDS` (any body may touch before).
- spin, spinkick: it turns `ROTATION_SHARE` of the reference's rotation and nothing but the feet touch the
  ground until `HOLD_SECONDS` after that.
- jump: a flight of at least `FLIGHT_SHARE` of the reference's (and `MIN_FLIGHT`), then the feet touch down
  and nothing but the feet touch the ground until `HOLD_SECONDS` after the touchdown.
- walk, run: nothing but the feet touch the ground for the whole rollout and the root travels at least
  `TRAVEL_SHARE` of the reference's speed.
- balance: nothing but the feet touch the ground for the whole rollout and it ends standing.
"""
from __future__ import annotations

import numpy as np

from backflip_addon.core.kinematics import forward_kinematics, lowest_points
from backflip_addon.core.runs import longest_run
from backflip_addon.core.skeleton import FEET, ROOT_POS, humanoid3d

from .judge import CONTACT_LABELS, HOLD_SECONDS, ROTATION_SHARE, Judgement, Contacts, rotation_about
from .skill import Skill

STAND_SHARE = 0.75
"""standing = only the feet touch and the neck is at least this share of the reference's standing height"""
FLIGHT_SHARE = 0.5
"""share of the reference's longest flight a jump's flight must reach"""
MIN_FLIGHT = 0.1
"""s: the shortest flight that counts as a jump"""
TRAVEL_SHARE = 0.5
"""share of the reference's mean speed a walk or run must keep"""

_NOUNS = {"walk": "walking", "run": "running"}


def skill_label(skill: Skill, landed: bool, holds: bool, attempted: bool, first_body: str | None,
                steps: int = 0) -> str:
    """Plain words for an attempt at `skill`: `attempted` says it did the skill's motion (rotated, jumped,
    travelled) without succeeding; `first_body` is the first body the skill does not use on the ground."""
    kind = skill.kind
    fall = None if first_body is None else CONTACT_LABELS.get(first_body, "lands on back").replace("lands", "falls")
    if kind in ("walk", "run"):
        if landed:
            return f"keeps {_NOUNS[kind]}"
        if fall is not None:
            return f"falls after {steps} step{'' if steps == 1 else 's'}"
        return "stands still"
    if kind == "getup":
        if landed:
            return "gets up" if holds else "gets up, falls again"
        return "stays down"
    if kind == "roll":
        if landed:
            return "rolls and stands up"
        return "rolls, stays down" if attempted else "no roll"
    success = {"cartwheel": "cartwheels and lands", "jump": "jumps and lands", "spinkick": "kicks and stays up",
               "spin": "spins and stays up", "balance": "stays up"}[kind]
    if landed:
        return success
    if fall is not None:
        return fall
    missing = {"cartwheel": "no cartwheel", "jump": "no jump", "spinkick": "no spin", "spin": "no spin",
               "balance": "sinks"}[kind]
    unfinished = {"cartwheel": "cartwheel, no landing", "jump": "jumps, no landing", "spinkick": "kicks, not held",
                  "spin": "spins, not held", "balance": missing}[kind]
    return unfinished if attempted else missing


def judge_skill(frames: np.ndarray, fps: float, contacts: Contacts, skill: Skill) -> Judgement:
    """Judge rows (F, 44) at `fps` as an attempt at `skill` (module docstring)."""
    hold = int(round(HOLD_SECONDS * fps))
    names = humanoid3d().names
    pos, _ = forward_kinematics(frames, humanoid3d())
    standing = ~contacts.forbidden() & (pos[:, names.index("neck"), 1] >= STAND_SHARE * skill.stand_neck)
    if skill.axis == "pitch" and skill.kind != "roll":
        turned = rotation_about(frames, Skill())  # the backflip's pitch, as for every skill that does not turn
    else:
        turned = rotation_about(frames, skill)
    rotation = float(max(0.0, turned.max()))
    rotated = np.flatnonzero(turned >= ROTATION_SHARE * skill.rotation_deg)
    success: int | None = None  # the frame the success begins
    attempted, steps = False, 0
    allowed_until = 0  # bodies may touch the ground before this frame (a roll, a get-up)
    if skill.kind in ("roll", "getup"):
        start = 0 if skill.kind == "getup" else (int(rotated[0]) if len(rotated) else len(frames))
        attempted = start < len(frames)
        success = _first_run(standing, start, hold + 1)
        allowed_until = len(frames) if success is None else success
    elif skill.kind in ("spin", "spinkick"):
        attempted = bool(len(rotated))
        if attempted and rotated[0] + hold < len(frames) and not contacts.forbidden()[: rotated[0] + hold + 1].any():
            success = int(rotated[0])
    elif skill.kind == "jump":
        success, attempted = _jump(contacts, fps, skill, hold)
    elif skill.kind in ("walk", "run"):
        travel = np.linalg.norm(frames[-1, [ROOT_POS.start, ROOT_POS.start + 2]]
                                - frames[0, [ROOT_POS.start, ROOT_POS.start + 2]])
        seconds = (len(frames) - 1) / fps
        attempted = travel >= TRAVEL_SHARE * skill.speed * (min(seconds, skill.motion_s) if skill.motion_s else seconds)
        if attempted and not contacts.forbidden().any():
            success = 0
    elif not contacts.forbidden().any() and standing[-1]:
        success = 0
    forbidden = contacts.forbidden()
    forbidden[:allowed_until] = False
    first_fall = int(np.argmax(forbidden)) if forbidden.any() else None
    first_body = None if first_fall is None else contacts.first_body(first_fall)
    if skill.kind in ("walk", "run"):
        steps = _footsteps(frames, first_fall)
    landed = success is not None
    holds = landed and first_fall is None
    landing_time = success / fps if landed and skill.kind not in ("walk", "run", "balance") else None
    return Judgement(rotation_deg=rotation, landed=landed, holds=holds, first_ground_body=first_body,
                     time_until_fall=None if first_fall is None else first_fall / fps, landing_time=landing_time,
                     label=skill_label(skill, landed, holds, attempted, first_body, steps), skill=skill.kind)


def _first_run(mask: np.ndarray, start: int, length: int) -> int | None:
    """First frame >= `start` that begins `length` frames of True in `mask`."""
    run = 0
    for f in range(start, len(mask)):
        run = run + 1 if mask[f] else 0
        if run >= length:
            return f - length + 1
    return None


def _jump(contacts: Contacts, fps: float, skill: Skill, hold: int) -> tuple[int | None, bool]:
    """(touchdown frame of a jump that lands, whether it flew at all)."""
    forbidden = contacts.forbidden()
    airborne = ~contacts.feet & ~forbidden
    needed = max(MIN_FLIGHT, FLIGHT_SHARE * skill.flight_s) * fps
    run, flew = 0, False
    for f in range(len(airborne)):
        if airborne[f]:
            run += 1
            continue
        if run >= needed:
            flew = True
            if contacts.feet[f] and f + hold < len(airborne) and not forbidden[: f + hold + 1].any():
                return f, True
        run = 0
    return None, flew or longest_run(airborne) >= needed


def _footsteps(frames: np.ndarray, until: int | None) -> int:
    """Touchdowns of either foot (from the shapes) before frame `until`."""
    names = humanoid3d().names
    down = lowest_points(frames[:until])[:, [names.index(f) for f in FEET]] <= 0.03
    return int((down[1:] & ~down[:-1]).sum())
