from __future__ import annotations

from fastapi import APIRouter, Depends

from backflip_addon.core.protocol import Health

from ..deps import Service, service
from .common import ERRORS

router = APIRouter(tags=["health"], responses=ERRORS)


@router.get("/health")
def health(svc: Service = Depends(service)) -> Health:
    """Whether the service answers, and its version."""
    return Health(status="ok", version=svc.version, max_upload_bytes=svc.settings.max_upload_bytes)
