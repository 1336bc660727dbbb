"""Payloads of the trainer service's HTTP API, shared by the service (which builds its request and
response models from these very classes) and the Blender-side client (which decodes answers into them).

Standard library only: Blender imports this module, and so does the trainer. Field docstrings give units.
A change here changes both sides at once; `API_VERSION` says which shape a service speaks.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

API_VERSION = 1

JobState = Literal["queued", "running", "paused", "done", "failed", "cancelled"]
JobKind = Literal["extract", "import", "train", "rollout"]
FINISHED_STATES = ("done", "failed", "cancelled")


@dataclass
class ErrorInfo:
    """What went wrong, and what the user should do about it (every 4xx answer and every failed job)."""

    code: str
    message: str
    hint: str = ""


@dataclass
class Health:
    status: str
    version: str
    api_version: int = API_VERSION
    max_upload_bytes: int = 0
    """the largest upload the service accepts (larger ones get 413)"""


@dataclass
class Upload:
    """A file the client sent; `path` lies inside the service's state folder and can be named in requests."""

    path: str
    size: int
    """bytes"""


@dataclass
class JobStatus:
    """One unit of long work (extract, import, train, rollout) as stored by the service."""

    id: str
    kind: JobKind
    state: JobState
    progress: float = 0.0
    """0 to 1"""
    message: str = ""
    log_tail: str = ""
    error: Optional[ErrorInfo] = None
    params: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    """extract: {"clip": path, "warnings": [text]}; import: {"clip": path}; train: {"run_dir": path}; rollout:
    {"events": path of OUT.events.json}"""
    folder: str = ""
    created: float = 0.0
    """seconds since the epoch"""
    updated: float = 0.0


@dataclass
class ReferenceRequest:
    """A reference clip from a video (an extract job, trimmed to start/end) or from a clip file (ready at once).
    Paths must lie inside the service's allowed roots."""

    video: Optional[str] = None
    clip: Optional[str] = None
    start: Optional[float] = None
    """seconds into the video"""
    end: Optional[float] = None
    """seconds into the video"""
    name: str = ""


@dataclass
class Reference:
    id: str
    source: str
    """"video" or "clip\""""
    state: JobState
    name: str = ""
    clip: Optional[str] = None
    """path of the reference clip once it is ready"""
    job: Optional[JobStatus] = None


@dataclass
class TrainingRequest:
    """A training run; `reference` is a reference id (None: DeepMimic's backflip mocap)."""

    reference: Optional[str] = None
    minutes: Optional[float] = None
    """stop after this many minutes of each session"""
    samples: Optional[float] = None
    """stop at this many samples in total"""
    config: dict[str, Any] = field(default_factory=dict)
    """TrainConfig overrides, e.g. {"ppo": {"num_envs": 4}}; unknown keys are refused"""
    ray_address: Optional[str] = None
    """run the rollout workers on this Ray cluster (auto or HOST:PORT)"""


@dataclass
class TrainingProgress:
    samples: int = 0
    iterations: int = 0
    jumps: int = 0
    """jumps tried: episodes that reached the reference's take-off (runs from before that count: episodes)"""
    total_samples: int = 0
    normalised_return: Optional[float] = None
    """the last deterministic evaluation's normalised return (DeepMimic's measure, 0 to 1)"""
    samples_per_second: Optional[float] = None
    jumps_per_hour: Optional[float] = None
    """jumps tried per hour of training, averaged over the run so far"""
    stages: int = 0
    learning_curve: bool = False
    """whether GET /trainings/{id}/learning_curve.png has an image"""


@dataclass
class Training:
    id: str
    state: JobState
    reference: Optional[str] = None
    progress: TrainingProgress = field(default_factory=TrainingProgress)
    job: Optional[JobStatus] = None
    run_dir: str = ""


@dataclass
class Stage:
    """A learning stage of a training (see trainer_service/rl/stages.py)."""

    index: int
    folder: str
    path: str
    samples: int = 0
    iterations: int = 0
    label: str = ""
    normalised_return: float = 0.0
    rotation_deg: float = 0.0
    landed: bool = False
    holds: bool = False
    reasons: list[str] = field(default_factory=list)
    rollout_seed: int = 0
    """seed and action noise of the rollout the stage shows: pass them to a rollout to bake that attempt"""
    rollout_perturb: float = 0.0


@dataclass
class RolloutRequest:
    """A stage simulated in a set (contracts.md: rollout in set). Name the stage by training id and index,
    or by its folder."""

    colliders: list[dict[str, Any]] = field(default_factory=lambda: [{"kind": "plane"}])
    training: Optional[str] = None
    stage: Optional[int] = None
    stage_dir: Optional[str] = None
    seed: int = 0
    attempts: int = 1
    perturb: float = 0.0
    """std of the action noise (rad)"""
    start: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    """X, Y (metres, Blender ground plane) and heading (degrees, counter-clockwise from above)"""
    fps: float = 30.0
    seconds: float = 1.5
    """how long to simulate past the clip's end"""


PAYLOADS = (ErrorInfo, Health, Upload, JobStatus, ReferenceRequest, Reference, TrainingRequest, TrainingProgress,
            Training, Stage, RolloutRequest)


def to_json(obj: Any) -> Any:
    """A payload (or list of them) as plain JSON data."""
    if isinstance(obj, list):
        return [to_json(o) for o in obj]
    return dataclasses.asdict(obj)


def decode(cls: type, data: Any) -> Any:
    """Build payload `cls` from JSON data, nested payloads included; keys the class does not know are
    ignored, so a newer service can add fields without breaking an older client."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: _decode_value(hints[k], v) for k, v in data.items() if k in names})


def _decode_value(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _decode_value(inner[0], value) if len(inner) == 1 else value
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_decode_value(item, v) for v in value]
    if dataclasses.is_dataclass(hint):
        return decode(hint, value)
    return value
