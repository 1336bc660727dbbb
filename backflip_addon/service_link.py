"""The add-on's one door to the trainer service: operators and the job poll call only these functions.

The service's client (`backflip_addon/client/`, stdlib urllib, built with the service) is imported
lazily in `_client_package()`. While this build has no client, or the service is not running, every
call raises ServiceUnavailableError, so operators report a clear error and leave the scene alone.
bpy-free: the state lives in this module (one service per Blender session), not in the scene.
"""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from .core.errors import BackflipError

log = logging.getLogger(__name__)

START_HINT = "start the trainer service: Preferences › Add-ons › Backflip › Start (or turn on Auto-start)"


class ServiceUnavailableError(BackflipError):
    """No trainer service to talk to (not started, stopped, or not part of this build)."""

    code = "service_unavailable"


@dataclass
class ServiceState:
    """What the preferences' status line shows."""

    status: str = "stopped"
    """stopped | starting | running | error"""
    port: int = 0
    message: str = ""
    hint: str = ""

    def line(self) -> str:
        if self.status == "running":
            return f"Running on port {self.port}"
        if self.status == "error":
            return f"Error: {self.message}" + (f" ({self.hint})" if self.hint else "")
        return self.status.capitalize()


STATE = ServiceState()
_client: Any = None


def _client_package() -> ModuleType:
    """The service client package, or ServiceUnavailableError when this build does not have it."""
    try:
        return importlib.import_module(f"{__package__}.client")
    except ImportError as exc:
        raise ServiceUnavailableError(
            "this build of the add-on has no trainer service client",
            "use the trainer's command line (python -m trainer_service extract|train|rollout), "
            "then Import Clip, Load Stages or Bake Rollout File",
        ) from exc


def _protocol() -> ModuleType:
    # Ships with the client (core/protocol.py); only reached once a client is connected.
    return importlib.import_module(f"{__package__}.core.protocol")


def unavailable_reason() -> str | None:
    """Why service operators are greyed out, or None when a service is connected (no network call)."""
    if _client is None:
        return f"The trainer service is not running: {START_HINT}"
    return None


def client() -> Any:
    """The connected client; raises ServiceUnavailableError (with what to do) when there is none."""
    if _client is None:
        raise ServiceUnavailableError("the trainer service is not running", START_HINT)
    return _client


def _set(status: str, port: int = 0, message: str = "", hint: str = "") -> None:
    STATE.status, STATE.port, STATE.message, STATE.hint = status, port, message, hint


def start(python: str, state_dir: str) -> None:
    """Start (or reconnect to) the service with the trainer's Python; never blocks on the training."""
    global _client
    if not python or not Path(python).is_file():
        raise ServiceUnavailableError(
            f"no trainer Python at {python!r}", "set Trainer Python in the preferences, or run Set Up Trainer Environment"
        )
    package = _client_package()
    _set("starting")
    try:
        _client = package.service.connect(state_dir) or package.service.start_service(python, state_dir)
    except BackflipError as exc:
        _set("error", message=exc.message, hint=exc.hint)
        raise
    _set("running", port=_client.port)


def connect(state_dir: str) -> bool:
    """Reconnect to a service already running for `state_dir` (e.g. after reopening a file)."""
    global _client
    try:
        _client = _client_package().service.connect(state_dir)
    except BackflipError as exc:
        log.info("no trainer service to reconnect to: %s", exc)
        return False
    if _client is not None:
        _set("running", port=_client.port)
    return _client is not None


def stop(state_dir: str) -> None:
    global _client
    _client_package().service.stop_service(state_dir)
    _client = None
    _set("stopped")


def forget() -> None:
    """Drop the connection (unregister); the service itself keeps running for the next session."""
    global _client
    _client = None
    _set("stopped")


def submit_extract(video: str, start: float | None, end: float | None) -> str:
    """Start an extract job for a video trimmed to [start, end] seconds; returns the job id."""
    reference = client().create_reference(_protocol().ReferenceRequest(video=video, start=start, end=end))
    return reference.job.id if reference.job else reference.id


def submit_training(reference: str | None, minutes: float | None, samples: float | None) -> str:
    training = client().create_training(_protocol().TrainingRequest(reference=reference, minutes=minutes, samples=samples))
    return training.id


def control_training(training_id: str, action: str) -> None:
    """`action`: pause | resume | cancel."""
    getattr(client(), f"{action}_training")(training_id)


def submit_rollout(stage_dir: str, colliders: list[dict], *, attempts: int, perturb: float, seed: int,
                   start: tuple[float, float, float], fps: float) -> str:
    request = _protocol().RolloutRequest(
        stage_dir=stage_dir, colliders=colliders, attempts=attempts, perturb=perturb, seed=seed, start=list(start), fps=fps
    )
    return client().create_rollout(request).id


def poll(job_ids: list[str]) -> list[Any]:
    """The jobs' current JobStatus, through the client's poll step (one request per call)."""
    return _client_package().jobs.poll_step(client(), job_ids)


def cancel_job(job_id: str) -> None:
    client().cancel_job(job_id)


def training(training_id: str) -> Any:
    """The training's protocol record (state, progress with samples, jumps, return; run folder)."""
    return client().get_training(training_id)
