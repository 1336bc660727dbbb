"""The learning stages of a training: typed list with metrics, preview image, rollout clip."""
from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from backflip_addon.core.errors import NotFoundError
from backflip_addon.core.protocol import Stage

from ..deps import Service, service
from ..workers import run_dir
from .common import ERRORS

router = APIRouter(prefix="/trainings/{training_id}/stages", tags=["stages"], responses=ERRORS)


def read_stages(run: Path) -> list[Stage]:
    try:
        entries = json.loads((run / "stages.json").read_text())["stages"]
    except FileNotFoundError:
        return []
    fields = set(Stage.__dataclass_fields__) - {"path"}
    return [Stage(**{k: v for k, v in e.items() if k in fields and v is not None}, path=str(run / e["folder"]))
            for e in entries]


def find_stage(svc: Service, training_id: str, index: int) -> Stage:
    job = svc.job_of_kind(training_id, ("train",), "training")
    for stage in read_stages(run_dir(job)):
        if stage.index == index:
            return stage
    raise NotFoundError(f"training {training_id} has no stage {index}",
                        f"list its stages with GET /trainings/{training_id}/stages")


@router.get("")
def list_stages(training_id: str, svc: Service = Depends(service)) -> list[Stage]:
    return read_stages(run_dir(svc.job_of_kind(training_id, ("train",), "training")))


@router.get("/{index}")
def get_stage(training_id: str, index: int, svc: Service = Depends(service)) -> Stage:
    return find_stage(svc, training_id, index)


@router.get("/{index}/preview.png", response_class=FileResponse, responses={200: {"content": {"image/png": {}}}})
def stage_preview(training_id: str, index: int, svc: Service = Depends(service)) -> FileResponse:
    return FileResponse(Path(find_stage(svc, training_id, index).path) / "preview.png", media_type="image/png")


@router.get("/{index}/rollout.txt", response_class=FileResponse, responses={200: {"content": {"text/plain": {}}}})
def stage_rollout(training_id: str, index: int, svc: Service = Depends(service)) -> FileResponse:
    """The stage's deterministic rollout on the flat floor (DeepMimic text, Y up)."""
    return FileResponse(Path(find_stage(svc, training_id, index).path) / "rollout.txt", media_type="text/plain")
