"""Extract, train-from-reference and rollout jobs through the service, polled with poll_step."""
from __future__ import annotations

import json
from pathlib import Path

from backflip_addon.client.jobs import finished, poll_step
from backflip_addon.core.clip import load_clip
from backflip_addon.core.protocol import ReferenceRequest, RolloutRequest, TrainingRequest

from .conftest import ROOT, tiny_training_config, wait_for

VIDEO = ROOT / "assets" / "video" / "backflip_side.mp4"
STAGES = ROOT / "assets" / "stages" / "backflip"
LANDING = STAGES / "stage_0015"


def poll_until_finished(client, job_ids: list[str], seconds: float):
    return wait_for(lambda: (s := poll_step(client, job_ids)) and finished(s) and s, seconds, f"jobs {job_ids}")


def test_extract_then_train_from_the_reference(services, tmp_path):
    client = services.start(tmp_path / "state")
    upload = client.upload(VIDEO)
    reference = client.create_reference(ReferenceRequest(video=upload.path, start=0.5, end=1.2))
    assert reference.state == "queued" and reference.source == "video"
    (job,) = poll_until_finished(client, [reference.id], 240)
    assert job.state == "done", job.log_tail
    assert job.progress == 1.0 and "pose" in job.log_tail
    assert job.result["warnings"] == []  # read from the extraction's npz: a well-seen flip
    clip = load_clip(client.reference(reference.id).clip)
    assert 15 <= clip.num_frames <= 25  # 0.7 s at 30 fps

    config = tiny_training_config()
    training = client.create_training(TrainingRequest(reference=reference.id, samples=256, config=config))
    (job,) = poll_until_finished(client, [training.id], 240)
    assert job.state == "done", job.log_tail
    trained_on = load_clip(Path(job.result["run_dir"]) / "clip.txt")
    assert trained_on.num_frames == clip.num_frames
    assert client.training(training.id).progress.samples == 256


def test_an_extract_job_reports_the_warnings_its_npz_holds(tmp_path):
    import numpy as np

    from trainer_service.service.workers import extraction_warnings

    unsure = "60 of 100 frames (60%) were refilled or seen with low confidence"
    np.savez(tmp_path / "warned.npz", warnings=np.array(json.dumps([unsure])))
    np.savez(tmp_path / "older.npz", confidence=np.ones(3))  # written before warnings were stored
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    assert extraction_warnings(tmp_path / "warned.npz") == [unsure]
    assert extraction_warnings(tmp_path / "older.npz") == []
    assert extraction_warnings(tmp_path / "broken.npz") == []
    assert extraction_warnings(tmp_path / "missing.npz") == []


def test_rollout_of_the_shipped_landing_stage_on_a_floor(services, tmp_path):
    client = services.start(tmp_path / "state", (STAGES,))
    job = client.create_rollout(RolloutRequest(stage_dir=str(LANDING), colliders=[{"kind": "plane"}], attempts=2,
                                               perturb=0.02, seed=4))
    assert job.kind == "rollout" and job.state in ("queued", "running")
    (done,) = poll_until_finished(client, [job.id], 300)
    assert done.state == "done", done.log_tail
    assert "simulate: 100%|" in done.log_tail  # the bar the supervisor reads a running rollout's progress from
    events_path = Path(done.result["events"])
    assert events_path.name == "rollout.events.json"
    events = json.loads(events_path.read_text())
    assert events == client.rollout_events(job.id)
    assert [a["attempt"] for a in events["attempts"]] == [1, 2] and events["stage_index"] == 15
    for attempt in events["attempts"]:
        assert load_clip(events_path.parent / attempt["clip"]).num_frames == len(attempt["contacts"])
    assert any(a["landed"] for a in events["attempts"])
    assert done.id in [r.id for r in client.rollouts()]


def test_a_restart_keeps_finished_jobs_readable_and_runs_queued_ones(services, tmp_path, backflip_clip_path):
    state = tmp_path / "state"
    roots = (backflip_clip_path.parent,)
    client = services.start(state, roots, BACKFLIP_MAX_SIDE_JOBS="0")
    imported = client.create_reference(ReferenceRequest(clip=str(backflip_clip_path)))
    upload = client.upload(VIDEO)
    queued = client.create_reference(ReferenceRequest(video=upload.path, start=0.2, end=0.6))
    assert client.job(queued.id).state == "queued"
    services.kill(state)

    client = services.start(state, roots)
    assert client.reference(imported.id).state == "done" and Path(client.reference(imported.id).clip).exists()
    (job,) = poll_until_finished(client, [queued.id], 240)
    assert job.state == "done", job.log_tail
    assert load_clip(job.result["clip"]).num_frames > 5
