"""Rollouts in a set (contracts.md): a stage's policy simulated among the user's colliders, as a job whose
result names `OUT.events.json`."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from fastapi import APIRouter, Depends

from backflip_addon.core.errors import InvalidInputError, NotFoundError
from backflip_addon.core.files import atomic_write_text
from backflip_addon.core.protocol import JobStatus, RolloutRequest
from trainer_service.rl.stages import POLICY_NAME

from ..deps import Service, service
from .common import ERRORS, check_number
from .stages import find_stage

router = APIRouter(prefix="/rollouts", tags=["rollouts"], responses=ERRORS)


def check_colliders(colliders: list[dict]) -> None:
    from trainer_service.sim.config import ColliderConfig

    for number, collider in enumerate(colliders):
        try:
            ColliderConfig.from_dict(collider)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"colliders[{number}]: {exc}", "see backflip_addon/core/colliders.py") from exc
        except InvalidInputError as exc:
            raise InvalidInputError(f"colliders[{number}]: {exc.message}", exc.hint) from exc


def stage_dir_of(request: RolloutRequest, svc: Service) -> Path:
    if request.stage_dir is not None:
        if request.training is not None or request.stage is not None:
            raise InvalidInputError("name the stage either by stage_dir or by training and stage, not both",
                                    "send stage_dir alone, or training + stage")
        folder = svc.settings.check_path(request.stage_dir, "stage_dir")
    elif request.training is not None and request.stage is not None:
        folder = Path(find_stage(svc, request.training, request.stage).path)
    else:
        raise InvalidInputError("no stage named", "send training + stage (index), or stage_dir")
    if not (folder / POLICY_NAME).is_file():
        raise NotFoundError(f"no stage at {folder} (no policy.pt)", "list a training's stages with "
                            "GET /trainings/{id}/stages and pick one of those")
    return folder


@router.post("", status_code=201)
def create_rollout(request: RolloutRequest, svc: Service = Depends(service)) -> JobStatus:
    """Queue a rollout of a stage in the given colliders; poll GET /jobs/{id}; its result holds `events`."""
    if not 1 <= request.attempts <= 64:
        raise InvalidInputError(f"attempts must be 1..64, got {request.attempts}", "ask for fewer attempts")
    if len(request.start) != 3:
        raise InvalidInputError(f"start must be [X, Y, HEADING_DEG], got {request.start}",
                                "metres on Blender's ground plane and degrees about +Z, e.g. [0, 0, 90]")
    for value in request.start:
        check_number("start", value, -1e4, 1e4)
    check_number("perturb", request.perturb, 0.0, 10.0)
    check_number("fps", request.fps, 0.0, 1000.0, low_open=True)
    check_number("seconds", request.seconds, 0.0, 600.0)
    if not 0 <= request.seed < 2**31:
        raise InvalidInputError(f"seed must be 0..2^31-1, got {request.seed}", "pass a non-negative 32-bit seed")
    if not request.colliders:
        raise InvalidInputError("no colliders", 'send at least a floor: [{"kind": "plane"}]')
    check_colliders(request.colliders)
    stage = stage_dir_of(request, svc)
    params = {**dataclasses.asdict(request), "stage_dir": str(stage)}
    del params["colliders"]  # kept in the job folder, not in the table: meshes can be large
    job_id, folder = svc.new_job_folder()
    atomic_write_text(folder / "colliders.json", json.dumps(request.colliders))
    return svc.store.create("rollout", params, folder=str(folder), job_id=job_id)


@router.get("")
def list_rollouts(svc: Service = Depends(service)) -> list[JobStatus]:
    return svc.store.list(kinds=("rollout",))


@router.get("/{rollout_id}/events")
def rollout_events(rollout_id: str, svc: Service = Depends(service)) -> dict:
    """The rollout's OUT.events.json (contracts.md), once the job is done."""
    job = svc.job_of_kind(rollout_id, ("rollout",), "rollout")
    if job.state != "done":
        raise NotFoundError(f"rollout {rollout_id} is {job.state}; no events yet", "poll GET /jobs/{id} until done")
    return json.loads(Path(job.result["events"]).read_text())
