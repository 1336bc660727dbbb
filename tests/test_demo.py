"""The README's main job, `make demo QUICK=1`, end to end on the real service, trainer, pybullet and bpy:
video → reference → training → three stages simulated in a projected set → rendered shot; then again,
re-using every step."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT

STEP_LINE = r"^\[\d/5\] "


def demo(out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "trainer_service", "demo", "--quick", "--out", str(out), *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("demo") / "out"
    return out, demo(out, "--size", "48x26")


def test_quick_demo_goes_from_the_video_to_a_shot_with_one_line_per_step(quick_demo) -> None:
    out, done = quick_demo
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.strip().split("\n")
    assert [line.split(":")[0] for line in lines[:-1]] == [
        "[1/5] service", "[2/5] reference", "[3/5] train", "[4/5] set", "[5/5] render"], done.stdout
    assert lines[-1].startswith("demo done in") and "\r" not in done.stdout
    record = json.loads((out / "demo.json").read_text())
    assert Path(record["reference"]["clip"]).is_file()
    extract_log = (Path(record["reference"]["clip"]).parent / "log.txt").read_text()
    assert "trainer_service extract" in extract_log and "backflip_side.mp4" in extract_log
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    for name in ("demo.blend", "shot/shot.mp4", "shot/contact_sheet.png"):
        assert (out / name).stat().st_size > 0, name
    assert not list(out.glob("*.tmp*")) and not (out / "shot.tmp").exists()
    assert not (out / "state" / "service.json").exists(), "the demo stops its service"
    # The early stage is this run's own, from the extracted reference.
    assert record["training"]["early_stage"].startswith(str(out / "state" / "jobs"))


def test_the_set_holds_every_stage_twice_apart_from_the_others_on_the_floor_or_the_mat(addon, quick_demo) -> None:
    import bpy

    from backflip_addon.blender.takes import takes

    out, done = quick_demo
    assert done.returncode == 0, done.stderr[-3000:]
    bpy.ops.wm.open_mainfile(filepath=str(out / "demo.blend"))
    scene = bpy.context.scene
    characters = sorted((o for o in bpy.data.objects if "backflip_stage" in o), key=lambda o: o.name)
    stages = sorted({o["backflip_stage"] for o in characters})
    assert len(characters) == 6 and stages[1:] == [7, 15], [o.name for o in characters]
    assert all(len(takes(o)) == 1 for o in characters)
    assert scene.render.fps == 25 and scene.render.resolution_x / scene.render.resolution_y == pytest.approx(1.85, abs=0.02)
    assert {o.name for o in bpy.data.objects if o.backflip.collider.enabled} == {"Floor", "Mattress"}
    assert bpy.data.objects["Mattress"].backflip.collider.soft
    assert scene.camera.backflip.follow.target.name == "Shot centre"

    def feet(obj, frame: int) -> np.ndarray:
        scene.frame_set(frame)
        return np.array([obj.matrix_world @ obj.pose.bones[b].head for b in ("foot.R", "foot.L")])

    last = scene.frame_end
    starts = sorted(feet(o, 1)[:, 0].mean() for o in characters)
    assert min(np.diff(starts)) > 0.8, f"characters start apart across the view: {starts}"
    mattress = bpy.data.objects["Mattress"]
    half = mattress.scale.x / 2
    for obj in characters:
        assert feet(obj, 1)[:, 2].min() < 0.15, f"{obj.name} starts on the floor"
        if obj["backflip_stage"] == 15:  # comes down on the mat
            x = feet(obj, last)[:, 0]
            assert np.all(np.abs(x - mattress.location.x) < half), (obj.name, x)
    bpy.ops.wm.read_factory_settings(use_empty=True)


def test_the_demo_again_reuses_every_step(quick_demo) -> None:
    out, first = quick_demo
    assert first.returncode == 0, first.stderr[-3000:]
    blend = (out / "demo.blend").stat().st_mtime
    again = demo(out, "--size", "48x26")
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("done before") == 4, again.stdout
    assert (out / "demo.blend").stat().st_mtime == blend


def test_nothing_in_the_trainer_imports_blender_or_the_addons_blender_side() -> None:
    forbidden = ("bpy", "mathutils", "backflip_addon.operators", "backflip_addon.blender", "backflip_addon.ui")
    found = []
    for path in sorted((ROOT / "trainer_service").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            found += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names
                      if any(n == f or n.startswith(f + ".") for f in forbidden)]
    assert not found, found


def test_the_demo_shows_the_first_landing_that_holds_and_the_most_rotated_miss_before_it() -> None:
    from trainer_service.demo import SHIPPED_STAGES, near_miss, shown_stage
    from trainer_service.rl.stages import StageEntry, read_index, stage_folder_name

    def entry(index: int, landed: bool, holds: bool = False, rotation: float = 0.0) -> StageEntry:
        return StageEntry(index, stage_folder_name(index), landed=landed, holds=holds, rotation_deg=rotation)

    falls = [entry(0, False), entry(5, False, rotation=300.0), entry(6, False, rotation=200.0)]
    assert shown_stage(falls) is None
    landing = falls + [entry(9, True), entry(12, True)]
    assert shown_stage(landing).index == 9 and near_miss(landing, shown_stage(landing)).index == 5
    holds = landing + [entry(15, True, True)]
    assert shown_stage(holds).index == 15
    shipped = read_index(SHIPPED_STAGES)
    assert (near_miss(shipped, shown_stage(shipped)).index, shown_stage(shipped).index) == (7, 15)


def test_demo_refuses_a_missing_video(tmp_path: Path) -> None:
    done = demo(tmp_path / "o", "--video", str(tmp_path / "nope.mp4"))
    assert done.returncode == 1 and "video not found" in done.stderr and "hint:" in done.stderr
    assert not (tmp_path / "o").exists()


def test_unknown_command_prints_usage() -> None:
    result = subprocess.run([sys.executable, "-m", "trainer_service", "fly"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "commands:" in result.stderr
