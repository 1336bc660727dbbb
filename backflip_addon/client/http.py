"""`ServiceClient`: the trainer service's HTTP API as methods returning `core.protocol` dataclasses.

Errors come back as `BackflipError` carrying the service's code, message and hint (`ServiceError`), or as
`ServiceUnreachableError` when nothing answers.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from ..core.errors import BackflipError
from ..core.protocol import (Health, JobStatus, Reference, ReferenceRequest, RolloutRequest, Stage, Training,
                             TrainingRequest, Upload, decode, to_json)


class ServiceError(BackflipError):
    """An error answer of the service: its `{code, message, hint}` and the HTTP status."""

    def __init__(self, status: int, code: str, message: str, hint: str = "") -> None:
        super().__init__(message, hint)
        self.status = status
        self.code = code


class ServiceUnreachableError(BackflipError):
    code = "unreachable"


class ServiceClient:
    def __init__(self, port: int, token: str, host: str = "127.0.0.1", timeout: float = 30.0) -> None:
        self.base = f"http://{host}:{port}"
        self.token = token
        self.timeout = timeout
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy

    # --- transport -----------------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None, *, data: bytes | None = None,
                content_type: str = "application/json", query: dict | None = None) -> bytes:
        """One call; the raw answer body, or ServiceError / ServiceUnreachableError."""
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        if body is not None:
            data = json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with self._opener.open(req, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                info = json.loads(raw)
                raise ServiceError(exc.code, info.get("code", "http_error"), info.get("message", raw.decode()),
                                   info.get("hint", "")) from None
            except (ValueError, AttributeError):
                raise ServiceError(exc.code, "http_error", f"HTTP {exc.code}: {raw[:200]!r}",
                                   "see the service's log") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ServiceUnreachableError(f"the trainer service at {self.base} does not answer: {exc}",
                                          "start it again (Backflip preferences › Start service)") from None

    def _json(self, method: str, path: str, body: Any = None, **kwargs) -> Any:
        return json.loads(self.request(method, path, body, **kwargs))

    # --- health and uploads --------------------------------------------------------------------
    def health(self) -> Health:
        return decode(Health, self._json("GET", "/health"))

    def upload(self, path: str | Path, name: str | None = None) -> Upload:
        """Send a file; over the service's limit it is refused here as the service would (413), since a
        service that answers before reading a large body breaks the connection instead of telling why."""
        path = Path(path)
        limit = self.health().max_upload_bytes
        size = path.stat().st_size
        if limit and size > limit:
            raise ServiceError(413, "too_large", f"{path.name} ({size:,} bytes) is larger than the service's "
                               f"upload limit of {limit:,} bytes",
                               "trim the video first, or restart the service with a larger BACKFLIP_MAX_UPLOAD_BYTES")
        return decode(Upload, self._json("POST", "/uploads", data=path.read_bytes(),
                                         content_type="application/octet-stream", query={"name": name or path.name}))

    # --- references ----------------------------------------------------------------------------
    def create_reference(self, request: ReferenceRequest) -> Reference:
        return decode(Reference, self._json("POST", "/references", to_json(request)))

    def references(self) -> list[Reference]:
        return [decode(Reference, r) for r in self._json("GET", "/references")]

    def reference(self, reference_id: str) -> Reference:
        return decode(Reference, self._json("GET", f"/references/{_q(reference_id)}"))

    # --- trainings and their stages ------------------------------------------------------------
    def create_training(self, request: TrainingRequest) -> Training:
        return decode(Training, self._json("POST", "/trainings", to_json(request)))

    def trainings(self) -> list[Training]:
        return [decode(Training, t) for t in self._json("GET", "/trainings")]

    def training(self, training_id: str) -> Training:
        return decode(Training, self._json("GET", f"/trainings/{_q(training_id)}"))

    def pause_training(self, training_id: str) -> Training:
        return decode(Training, self._json("POST", f"/trainings/{_q(training_id)}/pause"))

    def resume_training(self, training_id: str) -> Training:
        return decode(Training, self._json("POST", f"/trainings/{_q(training_id)}/resume"))

    def cancel_training(self, training_id: str) -> Training:
        return decode(Training, self._json("POST", f"/trainings/{_q(training_id)}/cancel"))

    def learning_curve(self, training_id: str) -> bytes:
        return self.request("GET", f"/trainings/{_q(training_id)}/learning_curve.png")

    def stages(self, training_id: str) -> list[Stage]:
        return [decode(Stage, s) for s in self._json("GET", f"/trainings/{_q(training_id)}/stages")]

    def stage(self, training_id: str, index: int) -> Stage:
        return decode(Stage, self._json("GET", f"/trainings/{_q(training_id)}/stages/{int(index)}"))

    def stage_preview(self, training_id: str, index: int) -> bytes:
        return self.request("GET", f"/trainings/{_q(training_id)}/stages/{int(index)}/preview.png")

    def stage_rollout(self, training_id: str, index: int) -> str:
        return self.request("GET", f"/trainings/{_q(training_id)}/stages/{int(index)}/rollout.txt").decode()

    # --- rollouts ------------------------------------------------------------------------------
    def create_rollout(self, request: RolloutRequest) -> JobStatus:
        return decode(JobStatus, self._json("POST", "/rollouts", to_json(request)))

    def rollouts(self) -> list[JobStatus]:
        return [decode(JobStatus, j) for j in self._json("GET", "/rollouts")]

    def rollout_events(self, rollout_id: str) -> dict:
        return self._json("GET", f"/rollouts/{_q(rollout_id)}/events")

    # --- jobs ----------------------------------------------------------------------------------
    def jobs(self) -> list[JobStatus]:
        return [decode(JobStatus, j) for j in self._json("GET", "/jobs")]

    def job(self, job_id: str) -> JobStatus:
        return decode(JobStatus, self._json("GET", f"/jobs/{_q(job_id)}"))

    def job_log(self, job_id: str, tail: int = 20000) -> str:
        return self.request("GET", f"/jobs/{_q(job_id)}/log", query={"tail": tail}).decode("utf-8", "replace")

    def pause_job(self, job_id: str) -> JobStatus:
        return decode(JobStatus, self._json("POST", f"/jobs/{_q(job_id)}/pause"))

    def resume_job(self, job_id: str) -> JobStatus:
        return decode(JobStatus, self._json("POST", f"/jobs/{_q(job_id)}/resume"))

    def cancel_job(self, job_id: str) -> JobStatus:
        return decode(JobStatus, self._json("POST", f"/jobs/{_q(job_id)}/cancel"))


def _q(part: str) -> str:
    return urllib.parse.quote(str(part), safe="")
