"""One router per resource."""
from __future__ import annotations

from . import health, jobs, references, rollouts, stages, trainings, uploads

ROUTERS = [health.router, uploads.router, references.router, trainings.router, stages.router, rollouts.router,
           jobs.router]
