"""The service's models are the protocol dataclasses themselves; the client imports with nothing but the
standard library (as inside Blender)."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
import typing

from fastapi.routing import APIRoute

from backflip_addon.core import protocol
from trainer_service.service.app import create_app
from trainer_service.service.deps import Service
from trainer_service.service.settings import Settings
from trainer_service.service.store import JobStore
from trainer_service.service.workers import Supervisor

from .conftest import ROOT


def make_app(tmp_path):
    settings = Settings(state_dir=tmp_path)
    store = JobStore(tmp_path / "jobs.sqlite")
    return create_app(Service(settings, store, Supervisor(settings, store), "token", "test"))


def test_every_json_route_speaks_protocol_dataclasses(tmp_path):
    app = make_app(tmp_path)
    seen = set()
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.path.startswith(("/docs", "/openapi")):
            continue
        model = route.response_model
        if model in (None, dict, str):
            continue  # files, the log text, and the rollout's events.json (its own versioned format)
        inner = typing.get_args(model)[0] if typing.get_origin(model) is list else model
        assert inner in protocol.PAYLOADS, (route.path, model)
        seen.add(inner)
        if route.body_field is not None:
            body = route.body_field.type_
            assert body in protocol.PAYLOADS, (route.path, body)
            seen.add(body)
    assert {protocol.JobStatus, protocol.Training, protocol.Stage, protocol.Reference, protocol.RolloutRequest,
            protocol.TrainingRequest, protocol.ReferenceRequest, protocol.Health, protocol.Upload} <= seen


def test_openapi_schemas_have_exactly_the_dataclass_fields(tmp_path):
    schemas = make_app(tmp_path).openapi()["components"]["schemas"]
    for cls in protocol.PAYLOADS:
        schema = schemas[cls.__name__]
        fields = dataclasses.fields(cls)
        assert set(schema["properties"]) == {f.name for f in fields}, cls.__name__
        required = {f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        assert set(schema.get("required", [])) == required, cls.__name__


def test_decode_round_trips_nested_payloads():
    status = protocol.JobStatus(id="a", kind="train", state="failed", error=protocol.ErrorInfo("c", "m", "h"),
                                params={"x": [1]})
    training = protocol.Training(id="a", state="running", progress=protocol.TrainingProgress(samples=5), job=status)
    data = protocol.to_json(training)
    assert protocol.decode(protocol.Training, {**data, "added_later": 1}) == training


def test_client_imports_with_only_the_standard_library():
    blocked = ("bpy", "torch", "numpy", "fastapi", "pydantic", "starlette", "uvicorn", "requests", "trainer_service")
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {blocked!r}: raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import importlib.util, pathlib\n"
        # Load backflip_addon.client without running backflip_addon/__init__ (which registers bpy classes).
        "import types; pkg = types.ModuleType('backflip_addon'); pkg.__path__ = [str(pathlib.Path('backflip_addon').resolve())]\n"
        "sys.modules['backflip_addon'] = pkg\n"
        "import backflip_addon.client.http, backflip_addon.client.service, backflip_addon.client.jobs\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
