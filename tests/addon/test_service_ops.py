"""Service-backed operators against the real trainer service (started by the test, loopback only)."""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from tests.addon.rollout_fixture import write_rollout
from tests.conftest import ROOT
from tests.service.conftest import wait_gone, worker_pids

RUN = ROOT / "assets" / "stages" / "backflip"


@pytest.fixture
def service(tmp_path: Path, monkeypatch):
    """A real service for tmp_path/state that queues trainings without running them (no CPU spent)."""
    from backflip_addon import service_link
    from backflip_addon.client.service import read_service_file, stop_service

    monkeypatch.setenv("BACKFLIP_MAX_TRAININGS", "0")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    state = tmp_path / "state"
    # The trainer's Python (the add-on's bpy 4.5 environment has no trainer packages).
    service_link.start(os.environ.get("BACKFLIP_TRAINER_PYTHON", sys.executable), str(state))
    info = read_service_file(state)
    yield state, info
    workers = worker_pids(state)
    stop_service(state)
    for pid in workers:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    service_link.forget()


def objects_and_actions() -> tuple[set[str], set[str]]:
    import bpy

    return set(bpy.data.objects.keys()), set(bpy.data.actions.keys())


def test_training_lifecycle_and_refusals(empty_scene, service, tmp_path: Path, monkeypatch) -> None:
    import bpy

    from backflip_addon import polling, service_link
    from backflip_addon.ui import panels
    from tests.addon.ui_check import draw_panel

    state, info = service
    assert service_link.STATE.line() == f"Running on port {info['port']}"
    # Reopening a file finds the service again (the state folder comes from the preferences).
    service_link.forget()
    monkeypatch.setenv("BACKFLIP_STATE_DIR", str(state))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    assert polling.reconnect() and service_link.STATE.status == "running"
    empty_scene = bpy.context.scene
    assert f"label: Trainer service: Running on port {info['port']} [LINKED]" in draw_panel(panels.BACKFLIP_PT_main, bpy.context)

    training = empty_scene.backflip.training
    training.budget, training.samples = "SAMPLES", 0.01
    assert bpy.ops.backflip.train_start() == {"FINISHED"}
    assert training.job_id and training.state == "queued"
    polling.poll_scene(bpy.context)
    assert training.state == "queued"  # the service runs no training here (BACKFLIP_MAX_TRAININGS=0)
    with pytest.raises(RuntimeError, match="No training that is running"):
        bpy.ops.backflip.train_pause()
    assert bpy.ops.backflip.train_cancel() == {"FINISHED"}
    polling.poll_scene(bpy.context)
    assert training.state == "cancelled"

    # A stage outside the service's allowed folders: the service refuses, the operator says why, nothing changes.
    empty_scene.backflip.stages.run_dir = str(RUN)
    assert bpy.ops.backflip.load_stages() == {"FINISHED"}
    before = objects_and_actions()
    with pytest.raises(RuntimeError, match="outside"):
        bpy.ops.backflip.bake_stage()
    assert objects_and_actions() == before and not empty_scene.backflip.bake.job_id

    # The service dies: operators report it and leave the scene unchanged.
    os.kill(info["pid"], signal.SIGKILL)
    wait_gone(info["pid"])
    with pytest.raises(RuntimeError, match="does not answer"):
        bpy.ops.backflip.train_start()
    assert objects_and_actions() == before
    # ... and the sidebar says so; service buttons grey out until it is started again.
    assert service_link.STATE.status == "error"
    assert any(line.startswith("label: Trainer service: Error: the trainer service at")
               for line in draw_panel(panels.BACKFLIP_PT_main, bpy.context))
    with pytest.raises(RuntimeError, match="trainer service is not running"):
        bpy.ops.backflip.train_start()


def test_finished_rollout_is_baked_by_the_poll(empty_scene, tmp_path: Path) -> None:
    import bpy

    from backflip_addon import polling
    from backflip_addon.core.protocol import ErrorInfo, JobStatus

    events = write_rollout(tmp_path)
    empty_scene.backflip.bake.frame_start = 5
    polling._apply_rollout(bpy.context, JobStatus("r1", "rollout", "done", 1.0, result={"events": str(events)}))
    assert empty_scene.backflip.bake.message == "Baked 2 attempt(s)"
    assert "Stage 15 · attempt 2 · seed 4" in bpy.data.actions
    error = ErrorInfo("not_found", "stage 99 does not exist", "pick a stage from the list")
    polling._apply_rollout(bpy.context, JobStatus("r2", "rollout", "failed", error=error))
    assert empty_scene.backflip.bake.message == "stage 99 does not exist (pick a stage from the list)"


def test_finished_extract_keys_a_reference_character(empty_scene, backflip_clip_path: Path) -> None:
    import bpy

    from backflip_addon import polling
    from backflip_addon.blender.takes import takes
    from backflip_addon.core.protocol import JobStatus

    settings = empty_scene.backflip.reference
    settings.job_id = "x1"
    polling._apply_extract(bpy.context, JobStatus("x1", "extract", "running", 0.5, message="posing frames"))
    assert (settings.progress, settings.message, settings.job_id) == (0.5, "posing frames", "x1")
    polling._apply_extract(bpy.context, JobStatus("x1", "extract", "done", 1.0, result={"clip": str(backflip_clip_path)}))
    armature = settings.armature
    assert armature.name == "Reference" and armature.users_collection[0].name == "Reference"
    assert len(takes(armature)) == 1 and settings.job_id == "" and settings.message == "Reference keyed"
