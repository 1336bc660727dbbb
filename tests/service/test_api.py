"""The service over real HTTP through the client: auth, allowed roots, upload limit, bad input, references."""
from __future__ import annotations

import json
import os
import shutil
import stat
import urllib.error
import urllib.request

import pytest

from backflip_addon.client.http import ServiceClient, ServiceError
from backflip_addon.client.jobs import finished, poll_step
from backflip_addon.client.service import connect, read_service_file
from backflip_addon.core.protocol import ReferenceRequest, RolloutRequest, TrainingRequest
from tests.conftest import ROOT


def raw(client: ServiceClient, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """(status, parsed JSON) of a request sent without the client's own checks."""
    request = urllib.request.Request(client.base + path, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_service_file_is_private_and_the_service_listens_on_loopback(shared):
    client, state, _ = shared
    info = read_service_file(state)
    assert stat.S_IMODE(os.stat(state / "service.json").st_mode) == 0o600
    assert set(info) >= {"port", "pid", "token", "version"} and info["host"] == "127.0.0.1"
    assert client.health().status == "ok"
    listening = open("/proc/net/tcp").read().splitlines()[1:]
    local = {line.split()[1] for line in listening if line.split()[3] == "0A"}  # state LISTEN
    assert f"0100007F:{info['port']:04X}" in local and f"00000000:{info['port']:04X}" not in local


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}])
def test_no_token_or_a_wrong_one_is_401(shared, headers):
    client, _, _ = shared
    for method, path in (("GET", "/health"), ("GET", "/jobs"), ("GET", "/openapi.json"), ("POST", "/trainings")):
        status, body = raw(client, method, path, b"{}" if method == "POST" else None, headers)
        assert status == 401, (method, path)
        assert body["code"] == "unauthorized" and "service.json" in body["hint"]
    with pytest.raises(ServiceError) as caught:
        ServiceClient(client.base.rsplit(":", 1)[1], "wrong").health()
    assert caught.value.status == 401


def test_paths_outside_the_allowed_roots_are_403(shared, tmp_path, backflip_clip_path):
    client, state, roots = shared
    outside = tmp_path / "clip.txt"
    shutil.copy(backflip_clip_path, outside)
    link = roots / "link.txt"
    link.symlink_to(outside)  # a symlink inside a root that leads out
    inside = roots / "sub"
    inside.mkdir(exist_ok=True)
    for path in (str(outside), str(link), f"{inside}/../../{outside.name}", "relative/clip.txt", "/etc/passwd"):
        with pytest.raises(ServiceError) as caught:
            client.create_reference(ReferenceRequest(clip=path))
        assert caught.value.status == 403, path
        assert caught.value.code == "forbidden_path" and caught.value.hint
    with pytest.raises(ServiceError) as caught:
        client.create_reference(ReferenceRequest(video=str(outside)))
    assert caught.value.status == 403 and "outside" in caught.value.message
    with pytest.raises(ServiceError) as caught:
        client.create_rollout(RolloutRequest(stage_dir=str(tmp_path)))
    assert caught.value.status == 403
    with pytest.raises(ServiceError) as caught:  # a folder a training would read its first policy from
        client.create_training(TrainingRequest(minutes=0.1, config={"init_from": str(tmp_path)}))
    assert caught.value.status == 403 and "config.init_from" in caught.value.message
    with pytest.raises(ServiceError) as caught:  # inside a root, but no such folder: refused before it queues
        client.create_training(TrainingRequest(minutes=0.1, config={"init_from": str(roots / "no_such_run")}))
    assert caught.value.status == 404 and "no such folder" in caught.value.message
    # The stages this checkout ships are readable: a training may start from one.
    shipped = ROOT / "assets" / "stages" / "backflip"
    training = client.create_training(TrainingRequest(minutes=0.1, config={"init_from": str(shipped)}))
    client.cancel_training(training.id)


def test_a_clip_inside_a_root_becomes_a_reference_at_once(shared, backflip_clip_path):
    client, _, roots = shared
    path = roots / "backflip.txt"
    shutil.copy(backflip_clip_path, path)
    reference = client.create_reference(ReferenceRequest(clip=str(path), name="mocap"))
    assert reference.state == "done" and reference.source == "clip" and reference.name == "mocap"
    assert open(reference.clip).read().count("[") > 10
    assert reference.id in [r.id for r in client.references()]
    assert client.reference(reference.id).clip == reference.clip
    statuses = poll_step(client, [reference.id])
    assert statuses[0].state == "done" and finished(statuses)
    with pytest.raises(ServiceError) as caught:
        client.resume_job(reference.id)
    assert caught.value.status == 409 and "done" in caught.value.message
    with pytest.raises(ServiceError) as caught:
        client.pause_job(reference.id)
    assert caught.value.status == 400 and "only trainings pause" in caught.value.message
    assert client.cancel_job(reference.id).state == "done"  # nothing left to cancel


def test_an_extracted_clip_keeps_its_confidence_when_imported(shared, tmp_path, backflip_clip_path):
    import numpy as np

    from backflip_addon.core.clip import load_clip, save_npz

    client, _, roots = shared
    clip = load_clip(backflip_clip_path)
    path = roots / "extracted.npz"
    save_npz(clip, path, confidence=np.linspace(0.25, 1.0, clip.num_frames))
    reference = client.create_reference(ReferenceRequest(clip=str(path)))
    stored = load_clip(reference.clip)
    assert stored.extras["confidence"][0] == 0.25 and len(stored.extras["confidence"]) == clip.num_frames


def test_uploads_are_stored_and_oversize_ones_are_413(shared, tmp_path, backflip_clip_path):
    client, state, _ = shared
    small = tmp_path / "small.txt"
    small.write_bytes(b"x" * 4000)
    upload = client.upload(small)
    assert upload.size == 4000 and open(upload.path, "rb").read() == small.read_bytes()
    assert upload.path.startswith(str(state))
    big = tmp_path / "big.mp4"
    big.write_bytes(b"x" * 5000)
    with pytest.raises(ServiceError) as caught:
        client.upload(big)
    assert caught.value.status == 413 and caught.value.code == "too_large" and caught.value.hint
    for size in (5000, 3_000_000):  # the service's own answer, without the client's check
        status, body = raw(client, "POST", "/uploads?name=big.mp4", b"x" * 5000 if size == 5000 else None,
                           {"Authorization": f"Bearer {client.token}", "Content-Length": str(size)}
                           if size != 5000 else {"Authorization": f"Bearer {client.token}"})
        assert status == 413 and body["code"] == "too_large", size
    with pytest.raises(ServiceError) as caught:
        client.upload(small, name="../escape.txt")
    assert caught.value.status == 400
    assert not list((state / "uploads").rglob("big.mp4")) and not list((state / "uploads").rglob("*.part"))


def test_a_bad_clip_upload_is_refused_with_the_file_named(shared, tmp_path):
    client, _, _ = shared
    bad = tmp_path / "bad.txt"
    bad.write_text('{"Loop": "none", "Frames": [[1, 2, 3]]}')
    upload = client.upload(bad)
    with pytest.raises(ServiceError) as caught:
        client.create_reference(ReferenceRequest(clip=upload.path))
    assert caught.value.status == 400 and "bad.txt" in caught.value.message


def test_rollout_of_a_missing_stage_is_404_with_a_message(shared, tmp_path):
    client, state, roots = shared
    training = client.create_training(TrainingRequest(samples=1000))  # queued only: this service runs none
    with pytest.raises(ServiceError) as caught:
        client.create_rollout(RolloutRequest(training=training.id, stage=7))
    assert caught.value.status == 404 and "no stage 7" in caught.value.message and caught.value.hint
    empty = roots / "stage_0003"
    empty.mkdir()
    with pytest.raises(ServiceError) as caught:
        client.create_rollout(RolloutRequest(stage_dir=str(empty)))
    assert caught.value.status == 404 and "policy.pt" in caught.value.message
    with pytest.raises(ServiceError) as caught:
        client.create_rollout(RolloutRequest(training="nope", stage=0))
    assert caught.value.status == 404
    assert client.cancel_training(training.id).state == "cancelled"


def test_malformed_requests_are_4xx_with_code_message_and_hint(shared):
    client, _, _ = shared
    auth = {"Authorization": f"Bearer {client.token}", "Content-Type": "application/json"}
    cases = [
        ("POST", "/trainings", b"{not json"),
        ("POST", "/trainings", b'{"samples": "many"}'),
        ("POST", "/trainings", b'{"samples": -5}'),
        ("POST", "/trainings", b'{"config": {"ppo": {"num_envs": "x"}}}'),
        ("POST", "/trainings", b'{"config": {"nope": 1}}'),
        ("POST", "/trainings", b'{"config": {"sim": {"nope": 1}}}'),
        ("POST", "/trainings", b'{"reference": "missing"}'),
        ("POST", "/references", b"{}"),
        ("POST", "/references", b'{"video": "/x", "clip": "/y"}'),
        ("POST", "/rollouts", b'{"attempts": 0, "training": "a", "stage": 0}'),
        ("POST", "/rollouts", b'{"colliders": [{"kind": "blob"}], "training": "a", "stage": 0}'),
        ("POST", "/rollouts", b'{"start": [1, 2], "training": "a", "stage": 0}'),
        ("POST", "/rollouts", b"[]"),
        ("GET", "/jobs/missing", None),
        ("POST", "/jobs/missing/pause", None),
        ("GET", "/trainings/missing/stages", None),
        ("GET", "/trainings/x/stages/notanumber", None),
        ("DELETE", "/jobs", None),
        ("GET", "/no/such/route", None),
    ]
    for method, path, body in cases:
        status, answer = raw(client, method, path, body, auth)
        assert 400 <= status < 500, (method, path, body, status, answer)
        assert answer["code"] and answer["message"] and "hint" in answer, (method, path, answer)


def test_connect_finds_the_running_service_and_none_elsewhere(shared, tmp_path):
    client, state, _ = shared
    assert connect(state).health().version == client.health().version
    assert connect(tmp_path) is None


def test_a_second_service_for_the_same_state_folder_refuses_to_start(shared):
    import subprocess
    import sys

    from .conftest import ROOT, service_env

    _, state, _ = shared
    before = read_service_file(state)
    result = subprocess.run([sys.executable, "-m", "trainer_service", "serve", "--state-dir", str(state)], cwd=ROOT,
                            env=service_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "already runs" in result.stderr and "hint:" in result.stderr
    assert read_service_file(state) == before
