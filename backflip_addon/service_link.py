"""The add-on's one door to the trainer service: operators and the job poll call only these functions.

They wrap the service's client (`backflip_addon/client/`, stdlib urllib). With no service connected
every call raises ServiceUnavailableError, so operators report a clear error and leave the scene alone.
bpy-free: the connection lives in this module (one service per Blender session), not in the scene.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from .client import jobs as client_jobs
from .client import service as client_service
from .client.http import ServiceClient, ServiceUnreachableError
from .core import protocol
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
_client: ServiceClient | None = None


def unavailable_reason() -> str | None:
    """Why service operators are greyed out, or None when a service is connected (no network call)."""
    if _client is None:
        return f"The trainer service is not running: {START_HINT}"
    return None


def client() -> ServiceClient:
    """The connected client; raises ServiceUnavailableError (with what to do) when there is none."""
    if _client is None:
        raise ServiceUnavailableError("the trainer service is not running", START_HINT)
    return _client


@contextmanager
def _answering() -> Iterator[None]:
    """A service that stops answering is dropped: the status line shows why, service buttons grey out."""
    global _client
    try:
        yield
    except ServiceUnreachableError as exc:
        _client = None
        _set("error", message=exc.message, hint=exc.hint)
        raise


def _port(service: ServiceClient) -> int:
    return urllib.parse.urlsplit(service.base).port or 0


def _set(status: str, port: int = 0, message: str = "", hint: str = "") -> None:
    STATE.status, STATE.port, STATE.message, STATE.hint = status, port, message, hint


def start(python: str, state_dir: str) -> None:
    """Start (or reconnect to) the service with the trainer's Python; never blocks on the training."""
    global _client
    if not python or not Path(python).is_file():
        raise ServiceUnavailableError(
            f"no trainer Python at {python!r}", "set Trainer Python in the preferences, or run Set Up Trainer Environment"
        )
    _set("starting")
    try:
        _client = client_service.start_service(python, state_dir)
    except BackflipError as exc:
        _set("error", message=exc.message, hint=exc.hint)
        raise
    _set("running", port=_port(_client))


def connect(state_dir: str) -> bool:
    """Reconnect to a service already running for `state_dir` (e.g. after reopening a file)."""
    global _client
    try:
        _client = client_service.connect(state_dir)
    except BackflipError as exc:
        log.info("no trainer service to reconnect to: %s", exc)
        return False
    if _client is not None:
        _set("running", port=_port(_client))
    return _client is not None


def stop(state_dir: str) -> None:
    global _client
    client_service.stop_service(state_dir)
    _client = None
    _set("stopped")


def forget() -> None:
    """Drop the connection (unregister); the service itself keeps running for the next session."""
    global _client
    _client = None
    _set("stopped")


def submit_extract(video: str, start: float | None, end: float | None) -> tuple[str, str]:
    """Upload a video and start its extract job, trimmed to [start, end] seconds: (reference id, job id)."""
    with _answering():
        service = client()
        upload = service.upload(video)
        reference = service.create_reference(protocol.ReferenceRequest(video=upload.path, start=start, end=end, name=Path(video).stem))
        return reference.id, reference.job.id if reference.job else ""


def submit_training(reference_id: str | None, clip: str | None, minutes: float | None, samples: float | None,
                    until_landing: bool = False, init_from: str | None = None) -> str:
    """Start a training on a service reference, else on a local clip (uploaded), else on the default backflip;
    `until_landing` ends it at its first landing (TrainConfig.until_landing); `init_from` starts it from the
    policy of that stage or run folder (TrainConfig.init_from) instead of from scratch."""
    with _answering():
        service = client()
        if not reference_id and clip:
            reference_id = service.create_reference(protocol.ReferenceRequest(clip=service.upload(clip).path, name=Path(clip).stem)).id
        config: dict = {"until_landing": True} if until_landing else {}
        if init_from:
            config["init_from"] = init_from
        request = protocol.TrainingRequest(reference=reference_id or None, minutes=minutes, samples=samples, config=config)
        return service.create_training(request).id


def control_training(training_id: str, action: str) -> None:
    """`action`: pause | resume | cancel."""
    with _answering():
        service = client()
        {"pause": service.pause_training, "resume": service.resume_training, "cancel": service.cancel_training}[action](training_id)


def submit_rollout(stage: tuple[str, int] | str, colliders: list[dict], *, attempts: int, perturb: float, seed: int,
                   start: tuple[float, float, float], fps: float) -> str:
    """Start a rollout job of a stage, named (training id, stage index) or by its folder; returns the job id."""
    with _answering():
        named = {"training": stage[0], "stage": stage[1]} if isinstance(stage, tuple) else {"stage_dir": stage}
        request = protocol.RolloutRequest(
            colliders=colliders, attempts=attempts, perturb=perturb, seed=seed, start=list(start), fps=fps, **named
        )
        return client().create_rollout(request).id


def cancel_job(job_id: str) -> None:
    with _answering():
        client().cancel_job(job_id)


def poll(job_ids: list[str]) -> list[protocol.JobStatus]:
    """The jobs' current status, through the client's poll step (one request per job)."""
    with _answering():
        return client_jobs.poll_step(client(), job_ids)


def training(training_id: str) -> protocol.Training:
    """The training's record: state, progress (samples, jumps, return, stages), run folder."""
    with _answering():
        return client().training(training_id)
