"""The clip import operator on bad input, in the real bpy wheel: every error is reported (no traceback)
and the file is left exactly as it was — no half-built armature, no stray action, no changed setting."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from backflip_addon.core.clip import MotionClip, dumps_deepmimic, load_clip

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "assets" / "stages" / "backflip" / "clip.txt"
KINDS = ("objects", "armatures", "meshes", "materials", "actions")


def _snapshot(scene) -> dict:
    import bpy

    state = {kind: sorted(b.name for b in getattr(bpy.data, kind)) for kind in KINDS}
    reference = scene.backflip.reference
    state.update(frame_end=scene.frame_end, clip_path=reference.clip_path,
                 armature=reference.armature.name if reference.armature else None)
    return state


def _import_error(path: Path, **kwargs) -> str:
    import bpy

    with pytest.raises(RuntimeError) as info:
        bpy.ops.backflip.import_clip(filepath=str(path), **kwargs)
    message = str(info.value)
    assert "Traceback" not in message
    return message


def test_a_failure_after_the_armature_is_built_leaves_nothing_behind(empty_scene, tmp_path: Path) -> None:
    """A 290 s clip in a 1000 fps scene is 290,000 frames, over the resampling limit: found only when
    keying, after the new humanoid exists."""
    frames = np.repeat(load_clip(SHIPPED).frames[:1], 30, axis=0)
    frames[:, 0] = 10.0
    path = tmp_path / "slow.txt"
    path.write_text(dumps_deepmimic(MotionClip(frames)))
    empty_scene.render.fps = 1000
    before = _snapshot(empty_scene)
    message = _import_error(path, use_existing=False)
    assert "more than 200,000 frames" in message
    assert _snapshot(empty_scene) == before


def test_keying_a_scene_armature_that_is_not_the_humanoid_is_a_clear_error(empty_scene) -> None:
    import bpy

    other = bpy.data.objects.new("Rig", bpy.data.armatures.new("Rig"))
    empty_scene.collection.objects.link(other)
    empty_scene.backflip.reference.armature = other
    before = _snapshot(empty_scene)
    message = _import_error(SHIPPED, use_existing=True)
    assert "Rig is not a Backflip character" in message
    assert _snapshot(empty_scene) == before


def _npz(path: Path, **arrays) -> Path:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())
    return path


@pytest.mark.parametrize("arrays, message", [
    (dict(version=np.array(1), loop=np.array("wrap")), "has no 'frames' array"),
    (dict(version=np.array([1]), loop=np.array("wrap")), "'version' must be a single integer"),
    (dict(version=np.array(1), loop=np.array("wrap"), extras=np.array("{oops")), "'extras' is not valid JSON"),
])
def test_broken_npz_clips_are_reported_in_blender(empty_scene, tmp_path: Path, arrays: dict, message: str) -> None:
    arrays.setdefault("frames", load_clip(SHIPPED).frames)
    if "no 'frames'" in message:
        arrays.pop("frames")
    path = _npz(tmp_path / "broken.npz", **arrays)
    before = _snapshot(empty_scene)
    assert message in _import_error(path)
    assert _snapshot(empty_scene) == before


def test_npz_with_nan_is_refused_in_blender_instead_of_keyed(empty_scene, tmp_path: Path) -> None:
    frames = load_clip(SHIPPED).frames.copy()
    frames[3, 9] = np.nan
    path = _npz(tmp_path / "nan.npz", version=np.array(1), frames=frames, loop=np.array("wrap"),
                name=np.array("nan"), extras=np.array(json.dumps({})))
    before = _snapshot(empty_scene)
    assert "'frames' frame 3 holds NaN or infinity" in _import_error(path)
    assert _snapshot(empty_scene) == before
