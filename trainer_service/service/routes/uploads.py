"""Files sent by the client (a video, a clip) land in the state folder, where requests can name them."""
from __future__ import annotations

import os
import re
import uuid

from fastapi import APIRouter, Depends, Query, Request

from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.protocol import Upload

from ..deps import Service, service
from ..errors import UploadTooLargeError
from .common import ERRORS

router = APIRouter(tags=["uploads"], responses=ERRORS)
TOO_LARGE_HINT = "trim the video first, or restart the service with a larger BACKFLIP_MAX_UPLOAD_BYTES"
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


@router.post("/uploads", openapi_extra={"requestBody": {
    "required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def upload(request: Request, name: str = Query(..., description="file name, e.g. jump.mp4"),
                 svc: Service = Depends(service)) -> Upload:
    """Store the request body as a file; answer its path. Bodies over the service's limit get 413."""
    if not SAFE_NAME.match(name):
        raise InvalidInputError(f"upload name {name!r} is not a plain file name",
                                "use letters, digits, '.', '_' and '-' only")
    limit = svc.settings.max_upload_bytes
    too_large = UploadTooLargeError(f"upload larger than the service's limit of {limit:,} bytes", TOO_LARGE_HINT)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    folder = svc.settings.uploads_dir / uuid.uuid4().hex[:12]
    folder.mkdir(parents=True)
    path, partial = folder / name, folder / f".{name}.part"
    size = 0
    try:
        with open(partial, "wb") as handle:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large
                handle.write(chunk)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
        if not path.exists():
            folder.rmdir()
    return Upload(path=str(path), size=size)
