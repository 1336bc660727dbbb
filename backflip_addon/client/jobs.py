"""Job polling as a plain function: Blender's timers call `poll_step`, tests call it directly."""
from __future__ import annotations

from collections.abc import Iterable

from ..core.protocol import FINISHED_STATES, JobStatus
from .http import ServiceClient


def poll_step(client: ServiceClient, job_ids: Iterable[str]) -> list[JobStatus]:
    """The current status of each job, in order (a BackflipError with the service's hint if one is unknown
    or the service does not answer)."""
    return [client.job(job_id) for job_id in job_ids]


def finished(statuses: Iterable[JobStatus]) -> bool:
    """Whether every job has ended (done, failed or cancelled): the timer can stop."""
    return all(s.state in FINISHED_STATES for s in statuses)
