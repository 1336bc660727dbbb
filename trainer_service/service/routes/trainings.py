"""Trainings: from a reference (or the default backflip), with a budget and config overrides; pause, resume,
cancel; progress read off the run folder."""
from __future__ import annotations

import dataclasses
import json
import math

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from backflip_addon.core.config import from_dict
from backflip_addon.core.errors import InvalidInputError, NotFoundError
from backflip_addon.core.files import atomic_write_text
from backflip_addon.core.protocol import JobStatus, Training, TrainingProgress, TrainingRequest

from ..deps import Service, service
from ..errors import ConflictError
from ..workers import run_dir, training_numbers
from .common import ERRORS, check_number

router = APIRouter(prefix="/trainings", tags=["trainings"], responses=ERRORS)


def training_of(job: JobStatus) -> Training:
    run = run_dir(job) if job.folder else None
    numbers = training_numbers(run) if run else {}
    stage_count = 0
    if run is not None and (run / "stages.json").exists():
        try:
            stage_count = len(json.loads((run / "stages.json").read_text())["stages"])
        except (OSError, ValueError, KeyError, TypeError):
            stage_count = 0  # being rewritten at this moment; the next poll reads it
    progress = TrainingProgress(**numbers, stages=stage_count,
                                learning_curve=bool(run and (run / "learning_curve.png").exists()))
    return Training(id=job.id, state=job.state, reference=job.params.get("reference"), progress=progress, job=job,
                    run_dir=str(run) if run else "")


def check_overrides(config: dict) -> dict:
    """TrainConfig overrides: known keys (from_dict), values of the defaults' types, a valid simulator part."""
    from trainer_service.rl.config import TrainConfig, to_dict
    from trainer_service.sim.config import SimConfig  # not rl.trainer's helper: that would load torch here

    def same_types(value, default, where: str) -> None:
        if where == "sim":
            return  # the simulator's own config checks its part
        if isinstance(default, dict):
            for key, item in value.items():
                same_types(item, default[key], f"{where}.{key}" if where else key)
            return
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if isinstance(default, (list, tuple)):
            ok = isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        elif isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, float):
            ok = number and math.isfinite(value)
        elif isinstance(default, int):
            ok = number and isinstance(value, int)
        else:
            ok = isinstance(value, type(default))
        if not ok:
            raise InvalidInputError(f"config.{where} must be like {default!r}, got {value!r}",
                                    "see trainer_service/rl/config.py for every field")

    from_dict(TrainConfig, config)  # unknown keys, at every level
    same_types(config, to_dict(TrainConfig()), "")
    try:
        SimConfig.from_dict({**SimConfig().to_dict(), **config.get("sim", {})})
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"config.sim: {exc}", "see trainer_service/sim/config.py") from exc
    return config


@router.post("", status_code=201)
def create_training(request: TrainingRequest, svc: Service = Depends(service)) -> Training:
    """Queue a training; it starts when no other training runs (one at a time by default)."""
    check_number("minutes", request.minutes, 0.0)
    check_number("samples", request.samples, 0.0, 1e12, low_open=True)
    config = check_overrides(dict(request.config))
    if config.get("init_from"):  # a folder the trainer reads: it must lie where this service may read
        folder = svc.settings.check_path(config["init_from"], "config.init_from")
        if not folder.is_dir():  # refused now rather than as a failed job once it is its turn
            raise NotFoundError(f"config.init_from {folder}: no such folder", "pass a run or stage folder")
        config["init_from"] = str(folder)
    clip = None
    if request.reference is not None:
        reference = svc.job_of_kind(request.reference, ("extract", "import"), "reference")
        if reference.state != "done":
            raise ConflictError(f"reference {reference.id} is {reference.state}, not ready",
                                "wait for its extract job to finish (GET /jobs/{id}), then start the training")
        clip = reference.result["clip"]
    if request.ray_address is not None and not request.ray_address.strip():
        raise InvalidInputError("ray_address is empty", "pass auto or HOST:PORT, or leave it out")
    params = {**dataclasses.asdict(request), "clip": clip}
    job_id, folder = svc.new_job_folder()
    atomic_write_text(folder / "config.json", json.dumps(config))
    return training_of(svc.store.create("train", params, folder=str(folder), job_id=job_id))


@router.get("")
def list_trainings(svc: Service = Depends(service)) -> list[Training]:
    return [training_of(job) for job in svc.store.list(kinds=("train",))]


@router.get("/{training_id}")
def get_training(training_id: str, svc: Service = Depends(service)) -> Training:
    """State and progress: samples, iterations, jumps tried, the last normalised return, stages so far."""
    return training_of(svc.job_of_kind(training_id, ("train",), "training"))


@router.post("/{training_id}/pause")
def pause_training(training_id: str, svc: Service = Depends(service)) -> Training:
    """Stop at a safe point (a checkpoint); resume continues from it."""
    svc.job_of_kind(training_id, ("train",), "training")
    return training_of(svc.supervisor.pause(training_id))


@router.post("/{training_id}/resume")
def resume_training(training_id: str, svc: Service = Depends(service)) -> Training:
    svc.job_of_kind(training_id, ("train",), "training")
    return training_of(svc.supervisor.resume(training_id))


@router.post("/{training_id}/cancel")
def cancel_training(training_id: str, svc: Service = Depends(service)) -> Training:
    svc.job_of_kind(training_id, ("train",), "training")
    return training_of(svc.supervisor.cancel(training_id))


@router.get("/{training_id}/learning_curve.png", response_class=FileResponse,
            responses={200: {"content": {"image/png": {}}}})
def learning_curve(training_id: str, svc: Service = Depends(service)) -> FileResponse:
    job = svc.job_of_kind(training_id, ("train",), "training")
    path = run_dir(job) / "learning_curve.png"
    if not path.exists():
        raise NotFoundError(f"training {training_id} has no learning curve yet", "it is drawn with the first stage")
    return FileResponse(path, media_type="image/png")
