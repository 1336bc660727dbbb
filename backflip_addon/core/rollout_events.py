"""Reader of a rollout's `OUT.events.json` (see the rollout contract): stage, attempts, events.

Standard library only. Unknown keys are ignored so a newer trainer can add fields; a missing or
ill-typed required field is an error naming the file and the field.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InvalidInputError, NotFoundError

EVENT_NAMES = ("takeoff", "apex", "touchdown", "first_fall")
_HINT = "run the rollout again; the events file is written by `python -m trainer_service rollout`"


@dataclass
class Attempt:
    """One seeded attempt: its clip and the judge's verdict."""

    attempt: int
    seed: int
    clip: Path
    """absolute path of the attempt's DeepMimic clip"""
    label: str
    landed: bool
    rotation_deg: float
    events: dict[str, float | None] = field(default_factory=dict)
    """seconds from the clip's first frame; None when it did not happen"""
    contacts: list[list[str]] = field(default_factory=list)
    """per clip frame, the bodies touching a collider (empty when the file has none)"""


@dataclass
class RolloutEvents:
    """A whole `OUT.events.json`."""

    stage_index: int
    stage_label: str
    fps: float
    attempts: list[Attempt]
    seed: int = 0
    perturb: float = 0.0


def _field(data: dict, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    value = data.get(key)
    # JSON true/false load as bool, a subclass of int: not a number here.
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise InvalidInputError(f"{where}: field {key!r} is missing or not {names}", _HINT)
    return value


def _event_time(value: Any, where: str, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InvalidInputError(f"{where}: event {name!r} is {value!r}, expected seconds >= 0 or null", _HINT)
    return float(value)


def _contacts(value: Any, where: str) -> list[list[str]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(c, list) and all(isinstance(n, str) for n in c) for c in value):
        raise InvalidInputError(f"{where}: field 'contacts' is not a list of body-name lists", _HINT)
    return value


def _attempt(data: Any, folder: Path, where: str) -> Attempt:
    if not isinstance(data, dict):
        raise InvalidInputError(f"{where} is not an object", _HINT)
    events = data.get("events") or {}
    if not isinstance(events, dict):
        raise InvalidInputError(f"{where}: field 'events' is not an object", _HINT)
    clip = folder / _field(data, "clip", str, where)
    if not clip.is_file():
        raise NotFoundError(f"{where}: clip {clip} does not exist", _HINT)
    return Attempt(
        attempt=_field(data, "attempt", int, where),
        seed=_field(data, "seed", int, where),
        clip=clip,
        label=str(data.get("label") or ""),
        landed=bool(data.get("landed", False)),
        rotation_deg=float(_field(data, "rotation_deg", (int, float), where)),
        events={name: _event_time(events.get(name), where, name) for name in EVENT_NAMES},
        contacts=_contacts(data.get("contacts"), where),
    )


def read_events(path: str | Path) -> RolloutEvents:
    """Parse and check a rollout's events file; clip paths come back absolute."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NotFoundError(f"{path}: no such rollout events file", "check the path or run the rollout again") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"{path}: not a readable events file: {exc}", _HINT) from exc
    if not isinstance(data, dict):
        raise InvalidInputError(f"{path}: expected a JSON object", _HINT)
    where = str(path)
    fps = float(_field(data, "fps", (int, float), where))
    if not (math.isfinite(fps) and fps > 0):
        raise InvalidInputError(f"{path}: field 'fps' is {fps}, expected a positive frame rate", _HINT)
    attempts = _field(data, "attempts", list, where)
    if not attempts:
        raise InvalidInputError(f"{path}: no attempts", _HINT)
    return RolloutEvents(
        stage_index=_field(data, "stage_index", int, where),
        stage_label=str(data.get("stage_label") or ""),
        fps=fps,
        attempts=[_attempt(a, path.parent, f"{path}: attempts[{i}]") for i, a in enumerate(attempts)],
        seed=int(data.get("seed") or 0),
        perturb=float(data.get("perturb") or 0.0),
    )
