"""Every panel draws (checked against Blender's RNA) in each state: no service, training, stages present;
service operators are greyed out with a reason and change nothing without a service."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.addon.ui_check import draw_panel
from tests.conftest import ROOT

RUN = ROOT / "assets" / "stages" / "backflip"
PANEL_STATES = os.environ.get("BACKFLIP_PANEL_STATES")  # a path: write what each panel shows, for the docs


def draw_all() -> dict[str, list[str]]:
    import bpy

    from backflip_addon.ui import panels

    return {cls.bl_label: draw_panel(cls, bpy.context) for cls in panels.CLASSES if issubclass(cls, bpy.types.Panel)}


def _record(state: str, drawn: dict[str, list[str]]) -> None:
    if PANEL_STATES:
        path = Path(PANEL_STATES)
        data = json.loads(path.read_text()) if path.exists() else {}
        data[state] = drawn
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False))


def test_panels_without_service(empty_scene) -> None:
    drawn = draw_all()
    _record("no service", drawn)
    assert "label: Trainer service: Stopped [UNLINKED]" in drawn["Backflip"]
    assert "button: Extract Reference [IMPORT]" in drawn["Reference"]
    assert "label: No stages: load a run, or train [INFO]" in drawn["Stages"]
    assert "button: Bake Stage to Scene [ARMATURE_DATA]" in drawn["Bake"]
    assert not any(line.startswith("progress") for lines in drawn.values() for line in lines)


def test_a_long_message_wraps_over_several_labels(empty_scene) -> None:
    empty_scene.backflip.reference.message = ("Reference keyed. Check: 72 of 111 frames (65%) were refilled or "
                                              "seen with low confidence")
    drawn = draw_all()["Reference"]
    assert "label: Reference keyed. Check: 72 of 111 frames [INFO]" in drawn
    assert "label: (65%) were refilled or seen with low [BLANK1]" in drawn and "label: confidence [BLANK1]" in drawn
    empty_scene.backflip.reference.message = "Reference keyed"
    assert "label: Reference keyed [INFO]" in draw_all()["Reference"]


def test_panels_while_training(empty_scene) -> None:
    training = empty_scene.backflip.training
    training.job_id, training.state, training.progress = "t1", "running", 0.4
    training.samples_done, training.jumps, training.normalised_return = 800_000, 31_000, 0.61
    training.latest_label, training.run_dir = "lands on knees", str(RUN)
    empty_scene.backflip.reference.job_id = "x1"
    empty_scene.backflip.reference.progress = 0.25
    drawn = draw_all()
    _record("training", drawn)
    assert "progress: running · 40% (40%)" in drawn["Training"]
    assert "label: Samples: 800,000" in drawn["Training"] and "label: Latest stage: lands on knees" in drawn["Training"]
    assert any(line.startswith("image:") for line in drawn["Training"])  # the learning curve
    assert "progress: Extracting (25%)" in drawn["Reference"] and "button: Cancel Extraction [CANCEL]" in drawn["Reference"]


def test_panels_with_stages(empty_scene) -> None:
    import bpy

    empty_scene.backflip.stages.run_dir = str(RUN)
    assert bpy.ops.backflip.load_stages() == {"FINISHED"}
    drawn = draw_all()
    _record("stages present", drawn)
    stages = drawn["Stages"]
    count = len(json.loads((RUN / "stages.json").read_text())["stages"])
    assert f"list: {count} rows" in stages
    assert sum(line.startswith("  row:") for line in stages) == count
    assert any(line.startswith("image:") for line in stages)  # the selected stage's filmstrip
    assert "button: Train From This Stage [PLAY]" in stages
    from backflip_addon.ui import previews

    # The best landing is selected and its filmstrip read (icon ids stay 0 without a UI).
    best = max((s for s in json.loads((RUN / "stages.json").read_text())["stages"] if s["landed"]),
               key=lambda s: s["normalised_return"])
    assert empty_scene.backflip.stages.entries[empty_scene.backflip.stages.active].index == best["index"]
    loaded = [p for key, p in previews._collection.items() if f"{best['folder']}/preview.png" in key]
    assert loaded and loaded[0].image_size[0] > 0


def test_collider_box_only_for_meshes(empty_scene) -> None:
    import bpy

    bpy.ops.object.empty_add()
    assert not any("collides" in line for line in draw_all()["Set"])
    bpy.ops.mesh.primitive_cube_add()
    assert any("Cube collides" in line for line in draw_all()["Set"])


@pytest.mark.parametrize(
    "op, setup",
    [
        ("import_video", lambda s: setattr(s.backflip.reference, "video_path", str(ROOT / "assets" / "none.mp4"))),
        ("train_start", lambda s: None),
        ("bake_stage", lambda s: (setattr(s.backflip.stages, "run_dir", str(RUN)), __import__("bpy").ops.backflip.load_stages())),
        ("train_from_stage", lambda s: (setattr(s.backflip.stages, "run_dir", str(RUN)), __import__("bpy").ops.backflip.load_stages())),
    ],
)
def test_service_operators_greyed_out_with_reason(empty_scene, op: str, setup) -> None:
    import bpy

    setup(empty_scene)
    before = (set(bpy.data.objects.keys()), set(bpy.data.actions.keys()))
    with pytest.raises(RuntimeError, match="trainer service is not running"):
        getattr(bpy.ops.backflip, op)()
    assert (set(bpy.data.objects.keys()), set(bpy.data.actions.keys())) == before


def test_import_clip_given_a_video_says_use_import_video(empty_scene, tmp_path: Path) -> None:
    import bpy

    video = tmp_path / "jump.MP4"
    video.write_bytes(b"\x00" * 16)
    with pytest.raises(RuntimeError, match=r"jump.MP4 is a video, not a motion clip \(hint: use Import Video"):
        bpy.ops.backflip.import_clip(filepath=str(video))
    assert not bpy.data.objects


def test_unregister_leaves_nothing_behind(addon) -> None:
    import bpy

    from backflip_addon import polling
    from backflip_addon.ui import previews

    from backflip_addon.operators.service import poll_setup_timer

    previews.icon(str(RUN / "learning_curve.png"))
    bpy.app.timers.register(poll_setup_timer, first_interval=100.0)  # as while a trainer set-up runs
    addon.unregister()
    try:
        assert not [n for n in dir(bpy.types) if n.startswith("BACKFLIP")]
        assert not hasattr(bpy.types.Scene, "backflip") and not hasattr(bpy.types.Object, "backflip")
        assert not bpy.app.timers.is_registered(polling.timer)
        assert not bpy.app.timers.is_registered(poll_setup_timer)
        assert polling.reconnect not in bpy.app.handlers.load_post
        assert previews._collection is None
    finally:
        addon.register()
    assert bpy.app.timers.is_registered(polling.timer)


def test_bake_panel_with_a_target_rig(empty_scene) -> None:
    import bpy

    from bench.support.rigs import build_rig, mixamo_bones

    bake = empty_scene.backflip.bake
    bake.target_rig = build_rig(bpy.context, "Hero", mixamo_bones())
    bake.reduce_keys = True
    assert bpy.ops.backflip.auto_map() == {"FINISHED"}
    drawn = draw_all()["Bake"]
    assert "prop: Rotation Tolerance = 0.5" in drawn and "menu: Preset" in drawn
    assert "prop: left_knee = 'mixamorig:LeftLeg'" in drawn and "button: Retarget Clip [ARMATURE_DATA]" in drawn
