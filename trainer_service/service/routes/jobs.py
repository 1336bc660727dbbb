"""Jobs of every kind: status, progress 0-1, message, log tail, error with hint; pause, resume, cancel."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse

from backflip_addon.core.protocol import JobStatus

from ..deps import Service, service
from ..workers import LOG_NAME, read_tail
from .common import ERRORS

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=ERRORS)


@router.get("")
def list_jobs(svc: Service = Depends(service)) -> list[JobStatus]:
    return svc.store.list()


@router.get("/{job_id}")
def get_job(job_id: str, svc: Service = Depends(service)) -> JobStatus:
    return svc.store.get(job_id)


@router.get("/{job_id}/log", response_class=PlainTextResponse)
def job_log(job_id: str, tail: int = Query(20000, ge=1, le=10_000_000), svc: Service = Depends(service)) -> str:
    """The last `tail` bytes of the job's log."""
    job = svc.store.get(job_id)
    return read_tail(Path(job.folder) / LOG_NAME, tail) if job.folder else ""


@router.post("/{job_id}/pause")
def pause_job(job_id: str, svc: Service = Depends(service)) -> JobStatus:
    return svc.supervisor.pause(job_id)


@router.post("/{job_id}/resume")
def resume_job(job_id: str, svc: Service = Depends(service)) -> JobStatus:
    return svc.supervisor.resume(job_id)


@router.post("/{job_id}/cancel")
def cancel_job(job_id: str, svc: Service = Depends(service)) -> JobStatus:
    return svc.supervisor.cancel(job_id)
