"""How a stage is judged, from its rollout rows alone (pure numpy, no simulator).

Everything here works on DeepMimic rows (F, 44) at a fixed frame rate, so anyone can re-judge a
stage from its `rollout.txt`: ground contacts of bodies other than the feet are the simulator's, recorded
per frame in the file ("GroundContacts"); without them (any other clip) they come from the humanoid's
collision shapes placed by forward kinematics (a body touches the ground when its lowest point is within
`CONTACT_HEIGHT` of y = 0). Rotation is the root's pitch about the lateral axis it had in frame 0.

A rollout is judged as an attempt at a skill (`skill.Skill`, read from the reference clip by
`skill.skill_of_clip`; the default is the backflip). Flips and cartwheels are judged here (a cartwheel's
hands may touch the ground); the other skills in `judge_skills`, with "landed" as their success.

"Landed" (the product's definition): at least 330° of rotation, then the feet meet the ground with no
other body touching it, and the character stays up (no other body touches) for at least 1 s after.
No other body may have touched the ground before the touchdown either: a knee tap and then standing
up is "lands on knees", not a landing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from backflip_addon.core.clip import MotionClip
from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.kinematics import lowest_points
from backflip_addon.core.skeleton import FEET, humanoid3d

from .skill import AXES, BACKFLIP, SKILL_KEY, Skill, axis_degrees

CONTACT_HEIGHT = 0.015
"""a body touches the ground when its lowest point is below this height (m). Bodies resting on the
ground in the simulator sit within ~1 cm of y = 0; the shin capsules end just above the feet, so
standing on bent ankles brings them to ~2 cm, which must not count"""
LANDING_ROTATION = 330.0
"""degrees of rotation before a touchdown counts as a landing"""
HOLD_SECONDS = 1.0
"""how long the character must stay up after touchdown to have landed (s)"""
CONTACTS_KEY = "GroundContacts"
"""key of the per-frame simulator contacts in a stage's rollout.txt"""
MIN_ROTATION = 135.0
"""below this many degrees the stage is labelled "no rotation": tipping over backwards onto the back
is ~90-100°, which is a fall, not part of a flip"""

ROTATION_SHARE = 0.9
"""share of the reference's rotation a skill other than the backflip must reach (the backflip: 330°)"""
HANDS = frozenset({"right_wrist", "left_wrist"})
"""bodies a cartwheel puts on the ground besides the feet"""

# Which plain-words label the first body to hit the ground gives (bodies of humanoid3d).
CONTACT_LABELS = {
    "neck": "lands on head",
    "chest": "lands on back",
    "right_knee": "lands on knees",
    "left_knee": "lands on knees",
    "root": "lands on back",
    "right_hip": "lands on back",
    "left_hip": "lands on back",
    "right_shoulder": "lands on hands",
    "left_shoulder": "lands on hands",
    "right_elbow": "lands on hands",
    "left_elbow": "lands on hands",
    "right_wrist": "lands on hands",
    "left_wrist": "lands on hands",
}


def ground_contacts(frames: np.ndarray, contact_height: float = CONTACT_HEIGHT) -> np.ndarray:
    """Boolean (F, B): which bodies touch the ground in each frame."""
    return lowest_points(frames) <= contact_height


def pitch_degrees(frames: np.ndarray) -> np.ndarray:
    """Cumulative rotation (F,) of the root about the lateral axis it had in frame 0 (degrees).

    Frame-to-frame rotations are projected on that fixed axis and summed, so turning or rolling
    sideways adds nothing. Positive = backward (a backflip's direction) for humanoid3d, whose
    forward is its local +x: lateral = forward x up, and a positive turn about it tips up backwards.
    """
    return axis_degrees(frames)[:, 0]


@dataclass
class Judgement:
    """The measured outcome of one rollout. For skills other than the backflip (see `skill`), "landed" is
    the skill's success and the other fields are read the same way (`judge_skill`)."""

    rotation_deg: float
    """most rotation reached in the skill's direction about its axis (degrees; the backflip's for skills
    that do not rotate)"""
    landed: bool
    """the product's definition of a landing (module docstring), or the skill's success"""
    holds: bool
    """landed and nothing but the feet touched the ground from then until the rollout's end"""
    first_ground_body: str | None
    """first body the skill does not use to touch the ground (None: none did)"""
    time_until_fall: float | None
    """time of that first touch (s), None if it never happened"""
    landing_time: float | None
    """time the success was reached: the landing touchdown, standing up (s); None without one"""
    label: str
    """plain-words summary: see `label` and `skill_label`"""
    skill: str = field(default="backflip", kw_only=True)
    """the kind of skill judged (`skill.KINDS`)"""


@dataclass
class Contacts:
    """Per-frame ground contacts of one rollout."""

    feet: np.ndarray
    """(F,) a foot touches"""
    bodies: list[tuple[str, ...]]
    """per frame, the bodies other than the feet that touch, the one that hit the ground first first"""

    def forbidden(self, allowed: frozenset[str] = frozenset()) -> np.ndarray:
        """(F,) a body other than the feet and `allowed` touches."""
        return np.array([any(b not in allowed for b in bodies) for bodies in self.bodies], dtype=bool)

    def first_body(self, frame: int, allowed: frozenset[str] = frozenset()) -> str:
        return next(b for b in self.bodies[frame] if b not in allowed)


def _contacts(frames: np.ndarray, sim_contacts: Sequence[str | None] | None, contact_height: float,
              foot_contacts: Sequence[bool] | None) -> Contacts:
    for given in (sim_contacts, foot_contacts):
        if given is not None and len(given) != len(frames):
            raise InvalidInputError(f"{len(given)} contact entries for {len(frames)} frames",
                                    "pass one contact entry per frame")
    names = humanoid3d().names
    feet = [names.index(f) for f in FEET]
    others = [i for i in range(len(names)) if i not in feet]
    lowest = lowest_points(frames)
    touching = lowest <= contact_height
    foot = touching[:, feet].any(axis=1) if foot_contacts is None else np.asarray(foot_contacts, dtype=bool)
    if sim_contacts is not None:
        bodies = [() if c is None else (c,) for c in sim_contacts]
    else:  # the lowest body stands for the one that hit the ground
        bodies = [tuple(names[i] for i in sorted((i for i in others if touching[f, i]), key=lambda i: lowest[f, i]))
                  for f in range(len(frames))]
    return Contacts(foot, bodies)


def judge(frames: np.ndarray, fps: float, sim_contacts: Sequence[str | None] | None = None,
          contact_height: float = CONTACT_HEIGHT, foot_contacts: Sequence[bool] | None = None,
          skill: Skill | None = None) -> Judgement:
    """Judge a rollout of DeepMimic rows at `fps` frames per second as an attempt at `skill` (default:
    the backflip; see `skill.skill_of_clip` for any reference).

    `sim_contacts[f]` is the simulator's first body other than the feet touching the ground in frame
    f (None: none), as recorded by the trainer; without it contacts come from the collision shapes.
    Feet contacts come from the shapes at y = 0 (the foot boxes are exact enough on a flat floor)
    unless `foot_contacts[f]` gives the simulator's: a set whose support is raised or soft needs those.
    """
    frames = np.asarray(frames, dtype=np.float64)
    contacts = _contacts(frames, sim_contacts, contact_height, foot_contacts)
    skill = BACKFLIP if skill is None else skill
    if skill.kind in ("backflip", "frontflip", "cartwheel"):
        return _judge_flip(frames, fps, contacts, skill)
    from .judge_skills import judge_skill

    return judge_skill(frames, fps, contacts, skill)


def rotation_about(frames: np.ndarray, skill: Skill) -> np.ndarray:
    """Cumulative rotation (F,) about the skill's axis in its direction (degrees)."""
    return axis_degrees(frames)[:, AXES.index(skill.axis)] * skill.direction


def _judge_flip(frames: np.ndarray, fps: float, contacts: Contacts, skill: Skill) -> Judgement:
    """A flip (or a cartwheel, whose hands may touch): the product's landing (module docstring)."""
    allowed = HANDS if skill.kind == "cartwheel" else frozenset()
    needed = min(LANDING_ROTATION, ROTATION_SHARE * skill.rotation_deg) if allowed else LANDING_ROTATION
    foot_contact = contacts.feet
    forbidden = contacts.forbidden(allowed)
    other_contact = contacts.forbidden()
    pitch = rotation_about(frames, skill)
    rotation = float(max(0.0, np.max(pitch)))
    first_fall = int(np.argmax(forbidden)) if forbidden.any() else None
    first_body = None if first_fall is None else contacts.first_body(first_fall, allowed)

    landed, holds, landing_time = False, False, None
    rotated = np.flatnonzero(pitch >= needed)
    if len(rotated):
        # From 330° on (a real backflip touches down near 275° and turns the rest standing up), the
        # next touch is the landing.
        after = rotated[0] + 1
        touch = np.flatnonzero(foot_contact[after:] | other_contact[after:]) + after
        if len(touch):
            t0 = touch[0]
            hold_end = t0 + int(round(HOLD_SECONDS * fps)) + 1
            # Nothing but the feet touches from the start through the hold: a knee or a hand on the
            # ground on the way is a fall, even when the character gets up again.
            if hold_end <= len(frames) and (first_fall is None or first_fall >= hold_end) \
                    and not other_contact[t0:hold_end].any():
                touchdown = t0  # the feet may have been down since before 330°: go back to the touchdown
                while touchdown > 0 and foot_contact[touchdown - 1]:
                    touchdown -= 1
                landed, landing_time = True, touchdown / fps
                holds = not other_contact[touchdown:].any()
    if skill.kind == "cartwheel":
        from .judge_skills import skill_label

        words = skill_label(skill, landed, holds, rotation >= needed / 2, first_body)
    else:
        words = label(rotation, landed, holds, first_body)
    return Judgement(rotation_deg=rotation, landed=landed, holds=holds, first_ground_body=first_body,
                     time_until_fall=None if first_fall is None else first_fall / fps, landing_time=landing_time,
                     label=words, skill=skill.kind)


def judge_clip(clip: MotionClip) -> Judgement:
    """Re-judge a stage's rollout.txt (it carries the simulator's contacts as "GroundContacts" and,
    for skills other than the backflip, the skill it was judged for as "Skill")."""
    skill = Skill.from_dict(clip.extras[SKILL_KEY]) if SKILL_KEY in clip.extras else None
    return judge(clip.frames, clip.fps, clip.extras.get(CONTACTS_KEY), skill=skill)


def label(rotation_deg: float, landed: bool, holds: bool, first_ground_body: str | None) -> str:
    """Plain words for a backflip's outcome, most telling first."""
    if landed:
        return "lands and holds" if holds else "lands"
    if rotation_deg < MIN_ROTATION:
        return "no rotation"
    if first_ground_body is None:
        return "rotates, no landing" if rotation_deg >= LANDING_ROTATION else "under-rotates"
    return CONTACT_LABELS.get(first_ground_body, "falls")


def normalised_return(rewards: np.ndarray, episode_steps: int, max_step_reward: float = 1.0) -> float:
    """DeepMimic's normalised return: the episode's undiscounted return divided by the largest return
    possible in a full-length episode (0 = nothing, 1 = perfect tracking for the whole episode).
    Steps after an early termination count as zero reward."""
    r = np.asarray(rewards, dtype=np.float64)[:episode_steps]
    return float(r.sum() / (episode_steps * max_step_reward))
