"""The README's main job, end to end: clip → keyed armature in a saved .blend, plot and render."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def fake_run(folder: Path, rollout: Path) -> Path:
    """A run folder with one learning stage whose rollout is a shipped clip."""
    (folder / "stage_0003").mkdir(parents=True)
    (folder / "stage_0003" / "rollout.txt").write_text(rollout.read_text())
    stage = {"index": 3, "folder": "stage_0003", "samples": 1000, "label": "lands on knees"}
    (folder / "stages.json").write_text(json.dumps({"format": 1, "stages": [stage]}))
    return folder


def test_demo_writes_a_set_whose_armature_plays_the_backflip_and_renders_it(addon, tmp_path: Path, motions_dir: Path) -> None:
    out = tmp_path / "demo"
    run = fake_run(tmp_path / "run", motions_dir / "humanoid3d_walk.txt")
    result = subprocess.run(
        [sys.executable, "-m", "trainer_service", "demo", "--out", str(out), "--res", "48x28", "--samples", "2",
         "--stages", str(run)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    blend = out / "backflip_reference.blend"
    for name in ("backflip_reference.blend", "root_height.png", "shot/shot.mp4", "shot/contact_sheet.png"):
        assert (out / name).stat().st_size > 0, name
    assert not list(out.glob("*.tmp.blend"))
    assert len(list((out / "shot" / "frames").glob("*.png"))) == 53

    import bpy

    from backflip_addon.blender.takes import takes

    bpy.ops.wm.open_mainfile(filepath=str(blend))
    scene = bpy.context.scene
    armature = bpy.data.objects["Backflip"]
    assert len(takes(armature)) == 1
    heights = []
    for frame in range(scene.frame_start, scene.frame_end + 1):
        scene.frame_set(frame)
        heights.append((armature.matrix_world @ armature.pose.bones["root"].head).z)
    assert scene.frame_end - scene.frame_start + 1 == 53
    assert max(heights) - min(heights) == pytest.approx(0.54, abs=0.03)
    # The set: a projected floor marked as a collider, and the follow camera as the shot camera.
    assert bpy.data.objects["Floor"].backflip.collider.enabled
    assert scene.camera.backflip.follow.target == armature
    # The run's stage (no landing: its latest) is keyed onto a second character beside the reference.
    stage = bpy.data.objects["Stage 3"]
    assert [a.name for a in takes(stage)] == ["Stage 3 (lands on knees)"]
    scene.frame_set(30)
    assert (stage.matrix_world @ stage.pose.bones["root"].head).y == pytest.approx(1.6, abs=0.3)
    bpy.ops.wm.read_factory_settings(use_empty=True)


def test_demo_reports_a_broken_clip(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("{}")
    result = subprocess.run(
        [sys.executable, "-m", "trainer_service", "demo", "--out", str(tmp_path / "o"), "--clip", str(bad)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 1
    assert f"{bad}:1: no 'Frames' array" in result.stderr and "hint:" in result.stderr
    assert not (tmp_path / "o").exists()


def test_unknown_command_prints_usage() -> None:
    result = subprocess.run([sys.executable, "-m", "trainer_service", "fly"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "commands:" in result.stderr


def test_the_demo_shows_the_first_landing_that_holds_else_the_first_landing_else_the_latest_stage():
    from trainer_service.demo import shown_stage
    from trainer_service.rl.stages import StageEntry, stage_folder_name

    def entry(index: int, landed: bool, holds: bool = False) -> StageEntry:
        return StageEntry(index, stage_folder_name(index), landed=landed, holds=holds)

    falls = [entry(0, False), entry(5, False)]
    assert shown_stage(falls).index == 5
    landing = falls + [entry(9, True), entry(12, True), entry(14, False)]
    assert shown_stage(landing).index == 9
    holds = landing + [entry(15, True, True), entry(16, True, True)]
    assert shown_stage(holds).index == 15
