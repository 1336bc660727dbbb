"""When an episode ends, as pure maths beside the reward (no pybullet): DeepMimic's early termination on a
fall contact, MimicKit's pose-distance termination, and truncation at the time limit or the clip's end."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .character import FOOT_LINKS, LINK_NAMES
from .config import SimConfig


@dataclass(frozen=True)
class Ending:
    """How one control step leaves the episode."""

    terminated: bool
    """ended by a failure (a fall contact with `fall_termination`, or too far from the reference)"""
    truncated: bool
    """ended by time (the episode's limit or the reference's last row) without failing"""
    fell: bool
    """a body other than the feet touched something, whether or not that ends the episode"""
    unexpected: bool
    """one of those contacts is not part of the motion (the reference does not put that body down around
    now): what `fall_termination` ends on, and where a check's normalised return stops counting"""
    first_contact: str | None
    """the name of that body (the first one pybullet reports), None when nothing but the feet touch"""


def first_fall_contact(contacts: list[tuple[int, int]]) -> str | None:
    """The first body other than the feet among (our link index, other body id) contacts."""
    for link, _other in contacts:
        if link not in FOOT_LINKS:
            return LINK_NAMES[max(link, 0)]
    return None


def episode_ending(contacts: list[tuple[int, int]], pose_distance: float, row: int, start_row: int,
                   reference_rows: int, config: SimConfig, grounded: np.ndarray | None = None) -> Ending:
    """The ending after a step to reference row `row` of an episode started at `start_row`.

    `pose_distance` (m) is `rewards.pose_distance` of the step; `reference_rows` the reference's length;
    `grounded` (B,) the bodies the reference has down around this row (`ReferenceTables.grounded`), whose
    contacts are part of the motion rather than a fall."""
    first_contact = first_fall_contact(contacts)
    fell = first_contact is not None
    unexpected = fell if grounded is None else first_fall_contact(
        [(link, other) for link, other in contacts if not grounded[max(link, 0)]]) is not None
    too_far = 0.0 < config.pose_termination_distance < pose_distance
    terminated = (unexpected and config.fall_termination) or too_far
    episode_rows = int(round(config.episode_seconds * config.physics_hz))
    out_of_time = row - start_row >= episode_rows or row + config.substeps >= reference_rows
    return Ending(terminated, not terminated and out_of_time, fell, unexpected, first_contact)
