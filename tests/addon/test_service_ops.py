"""Service-backed operators against the real trainer service (started by the test, loopback only)."""
from __future__ import annotations

import json
import os
import shutil
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


def copy_run_outside(tmp_path: Path) -> Path:
    """The shipped run's index and one stage, in a folder the service may not read."""
    run = tmp_path / "elsewhere" / "backflip"
    run.mkdir(parents=True)
    shutil.copy(RUN / "stages.json", run / "stages.json")
    shutil.copytree(RUN / "stage_0015", run / "stage_0015")
    return run


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
    training.budget, training.samples, training.until_landing = "SAMPLES", 0.01, True
    assert bpy.ops.backflip.train_start() == {"FINISHED"}
    assert training.job_id and training.state == "queued"
    folder = Path(service_link.client().training(training.job_id).job.folder)
    assert json.loads((folder / "config.json").read_text()) == {"until_landing": True}
    polling.poll_scene(bpy.context)
    assert training.state == "queued"  # the service runs no training here (BACKFLIP_MAX_TRAININGS=0)
    with pytest.raises(RuntimeError, match="No training that is running"):
        bpy.ops.backflip.train_pause()
    assert bpy.ops.backflip.train_cancel() == {"FINISHED"}
    polling.poll_scene(bpy.context)
    assert training.state == "cancelled"

    # A stage outside the service's allowed folders: the service refuses, the operator says why, nothing changes.
    empty_scene.backflip.stages.run_dir = str(copy_run_outside(tmp_path))
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


def test_a_training_starts_from_the_selected_stage(empty_scene, service, tmp_path: Path) -> None:
    """Train From This Stage queues a training whose config starts from the stage's policy: the shipped stages
    are readable by the service; a stage outside its folders is refused with the reason and queues nothing."""
    import bpy

    from backflip_addon import service_link

    stages = empty_scene.backflip.stages
    with pytest.raises(RuntimeError, match="Select a stage"):
        bpy.ops.backflip.train_from_stage()

    stages.run_dir = str(copy_run_outside(tmp_path))
    assert bpy.ops.backflip.load_stages() == {"FINISHED"}
    with pytest.raises(RuntimeError, match="outside the folders this service may use"):
        bpy.ops.backflip.train_from_stage()
    training = empty_scene.backflip.training
    assert not training.job_id and service_link.client().trainings() == []

    stages.run_dir = str(RUN)
    assert bpy.ops.backflip.load_stages() == {"FINISHED"}
    stages.active = [e.index for e in stages.entries].index(15)
    training.budget, training.minutes, training.until_landing = "MINUTES", 10.0, True
    assert bpy.ops.backflip.train_from_stage() == {"FINISHED"}
    assert training.job_id and training.state == "queued"
    folder = Path(service_link.client().training(training.job_id).job.folder)
    config = json.loads((folder / "config.json").read_text())
    assert config == {"until_landing": True, "init_from": str((RUN / "stage_0015").resolve())}
    with pytest.raises(RuntimeError, match="A training is queued"):
        bpy.ops.backflip.train_from_stage()


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


def test_a_bake_from_the_poll_is_one_undo_step_of_its_own(empty_scene, tmp_path: Path) -> None:
    import bpy

    from backflip_addon import polling
    from backflip_addon.core.protocol import JobStatus

    events = write_rollout(tmp_path)
    bpy.ops.ed.undo_push(message="before")
    bpy.ops.object.empty_add()  # the user's last edit before the rollout finished
    bpy.ops.ed.undo_push(message="Add Empty")
    edited, _ = objects_and_actions()
    polling._apply_rollout(bpy.context, JobStatus("r1", "rollout", "done", 1.0, result={"events": str(events)}))
    baked, _ = objects_and_actions()
    assert len(baked) > len(edited)
    bpy.ops.ed.undo()  # takes back the bake, keeps the user's edit
    assert objects_and_actions()[0] == edited
    bpy.ops.ed.redo()
    assert objects_and_actions()[0] == baked


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
    # A finished extract that warns keys the reference too, and says what to check.
    settings.job_id = "x2"
    unsure = "60 of 100 frames (60%) were refilled or seen with low confidence"
    polling._apply_extract(bpy.context, JobStatus("x2", "extract", "done", 1.0,
                                                  result={"clip": str(backflip_clip_path), "warnings": [unsure]}))
    assert len(takes(armature)) == 2 and settings.message == f"Reference keyed. Check: {unsure}"


def test_bake_stage_to_scene_end_to_end(empty_scene, service) -> None:
    """The shipped landing stage, rolled out by the service in a floor + box set, baked with 2 attempts,
    starting from the attempt the stage shows (here one of its check's noisy rollouts: seed 2, std 0.05)."""
    import time

    import bpy

    from backflip_addon import polling
    from backflip_addon.blender import colliders
    from backflip_addon.blender.takes import takes

    state, _ = service
    run = state / "runs" / "backflip"  # inside the service's state folder: an allowed root
    run.mkdir(parents=True)
    for name in ("clip.txt", "config.json", "sim_config.json"):
        shutil.copy(RUN / name, run / name)
    shutil.copytree(RUN / "stage_0015", run / "stage_0015")
    index = json.loads((RUN / "stages.json").read_text())
    for entry in index["stages"]:
        if entry["index"] == 15:
            entry.update(rollout_seed=2, rollout_perturb=0.05)  # the check's first noisy rollout (it landed)
    (run / "stages.json").write_text(json.dumps(index))
    bpy.ops.mesh.primitive_plane_add(size=20.0)
    colliders.mark_collider(bpy.context.active_object, "PLANE")
    bpy.ops.mesh.primitive_cube_add(size=0.5, location=(0.0, 3.0, 0.25))  # beside the flip, out of its way
    colliders.mark_collider(bpy.context.active_object, "BOX")

    stages = empty_scene.backflip.stages
    stages.run_dir = str(run)
    assert bpy.ops.backflip.load_stages() == {"FINISHED"}
    stages.active = [e.index for e in stages.entries].index(15)
    bake = empty_scene.backflip.bake
    bake.attempts, bake.frame_start = 2, 1
    assert bpy.ops.backflip.bake_stage() == {"FINISHED"} and bake.job_id
    deadline = time.monotonic() + 300
    while bake.job_id and time.monotonic() < deadline:
        polling.poll_scene(bpy.context)
        time.sleep(0.5)
    assert bake.message == "Baked 2 attempt(s)", bake.message
    collection = bpy.data.collections["Stage 15 – lands and holds"]
    armatures = sorted((o for o in collection.objects if o.type == "ARMATURE"), key=lambda o: o.name)
    assert [takes(a)[0].name for a in armatures] == ["Stage 15 · attempt 1 · seed 2", "Stage 15 · attempt 2 · seed 3"]
    names = {m.name for m in empty_scene.timeline_markers}
    assert {"attempt 1 takeoff", "attempt 2 takeoff"} <= names
    assert all(isinstance(a["backflip_label"], str) and a["backflip_label"] for a in armatures)
    assert [a["backflip_perturb"] for a in armatures] == [0.05, 0.05]
    # The box stands aside: the landing stage lands as it did on the plain floor it was trained on.
    assert bool(armatures[0]["backflip_landed"]) and armatures[0]["backflip_rotation_deg"] > 300
