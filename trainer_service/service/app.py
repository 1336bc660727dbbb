"""The FastAPI application: bearer-token auth on every request, errors as `{code, message, hint}`, one router
per resource (routes/), the job supervisor started and stopped with the app.

Request and response bodies are the dataclasses of `backflip_addon.core.protocol`, used as they are (FastAPI
builds its pydantic models and the OpenAPI document from them), so client and service cannot drift.
"""
from __future__ import annotations

import contextlib
import hmac
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from backflip_addon.core.errors import BackflipError

from .deps import Service
from .errors import status_of
from .routes import ROUTERS

log = logging.getLogger(__name__)


def _error(status: int, code: str, message: str, hint: str = "", headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "hint": hint}, status_code=status, headers=headers)


def create_app(service: Service) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        service.supervisor.recover()
        service.supervisor.start()
        try:
            yield
        finally:
            service.supervisor.stop()

    app = FastAPI(title="Backflip trainer service", version=service.version, lifespan=lifespan,
                  description="Reference clips, trainings, learning stages and rollouts in a set, as durable jobs. "
                              "Every request needs `Authorization: Bearer TOKEN` (the token is in service.json).")
    app.state.service = service
    expected = f"Bearer {service.token}".encode()

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        given = request.headers.get("authorization", "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, expected):
            return _error(401, "unauthorized", "missing or wrong bearer token",
                          "send `Authorization: Bearer TOKEN` with the token from the state folder's service.json",
                          {"WWW-Authenticate": "Bearer"})
        return await call_next(request)

    @app.exception_handler(BackflipError)
    async def backflip_error(request: Request, exc: BackflipError) -> JSONResponse:
        return _error(status_of(exc), exc.code, exc.message, exc.hint)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        return _error(422, "invalid_input", f"malformed request: {problems}", "see the API document at /docs")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail), "see the API document at /docs")

    for router in ROUTERS:
        app.include_router(router)
    return app
