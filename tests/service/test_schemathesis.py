"""Schemathesis against the service's own OpenAPI document: no generated request gets a 5xx."""
from __future__ import annotations

import json

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

EXAMPLES_PER_OPERATION = 25


def test_no_generated_request_gets_a_5xx(services, tmp_path):
    # Jobs queue but never run here: generated trainings must not start real work.
    client = services.start(tmp_path / "state", BACKFLIP_MAX_TRAININGS="0", BACKFLIP_MAX_SIDE_JOBS="0",
                            BACKFLIP_MAX_UPLOAD_BYTES="2048")
    document = json.loads(client.request("GET", "/openapi.json"))
    schemathesis.experimental.OPEN_API_3_1.enable()  # FastAPI writes OpenAPI 3.1
    schema = schemathesis.from_dict(document, base_url=client.base)
    auth = {"Authorization": f"Bearer {client.token}"}
    failures, calls, statuses = [], 0, set()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            nonlocal calls
            response = case.call(headers=auth, timeout=30)
            calls += 1
            statuses.add(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.body!r}: {response.status_code} "
                                f"{response.text[:200]}")

        check()
    assert calls >= 10 * len(operations)
    assert {200, 201, 400, 403, 404} <= statuses  # it reached the handlers, valid and not
    assert not failures, "\n".join(failures[:10])
    assert client.health().status == "ok"
