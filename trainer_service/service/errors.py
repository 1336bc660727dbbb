"""Service-only errors and the HTTP status of every error the API can answer with."""
from __future__ import annotations

from backflip_addon.core.errors import BackflipError, ClipFormatError, InvalidInputError, NotFoundError

from .settings import ForbiddenPathError


class UploadTooLargeError(BackflipError):
    code = "too_large"


class ConflictError(BackflipError):
    """A request that needs another job to finish first."""

    code = "conflict"


class UnauthorizedError(BackflipError):
    code = "unauthorized"


STATUS: tuple[tuple[type[BackflipError], int], ...] = (
    (UnauthorizedError, 401),
    (ForbiddenPathError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (UploadTooLargeError, 413),
    (ClipFormatError, 400),
    (InvalidInputError, 400),
    (BackflipError, 400),
)


def status_of(exc: BackflipError) -> int:
    return next(status for cls, status in STATUS if isinstance(exc, cls))
