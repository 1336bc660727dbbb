"""What every route needs: the running service (settings, job store, supervisor)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from backflip_addon.core.errors import NotFoundError
from backflip_addon.core.protocol import JobStatus

from .settings import Settings
from .store import JobStore
from .workers import Supervisor


@dataclass
class Service:
    settings: Settings
    store: JobStore
    supervisor: Supervisor
    token: str
    version: str

    def job_of_kind(self, job_id: str, kinds: tuple[str, ...], what: str) -> JobStatus:
        job = self.store.get(job_id)
        if job.kind not in kinds:
            raise NotFoundError(f"no {what} {job_id!r} (job {job_id} is a {job.kind} job)",
                                f"list the {what}s with GET /{what}s")
        return job

    def new_job_folder(self) -> tuple[str, Path]:
        """A fresh job id and its folder, made before the job enters the table (the supervisor may start
        it at once, so its files must already be there)."""
        job_id = uuid.uuid4().hex[:12]
        folder = self.settings.jobs_dir / job_id
        folder.mkdir(parents=True)
        return job_id, folder


def service(request: Request) -> Service:
    return request.app.state.service
