"""MotionClip I/O against every clip shipped in pybullet_data, and its failure modes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from backflip_addon.core import rotations as rot
from backflip_addon.core.clip import (
    MotionClip,
    load_clip,
    load_deepmimic,
    load_npz,
    save_deepmimic,
    save_npz,
)
from backflip_addon.core.errors import ClipFormatError, InvalidInputError
from backflip_addon.core.skeleton import QUAT_COLUMNS


def all_clips(motions_dir: Path) -> list[Path]:
    clips = sorted(motions_dir.glob("humanoid3d_*.txt"))
    assert len(clips) == 15
    return clips


def test_every_shipped_clip_roundtrips_losslessly(motions_dir: Path, tmp_path: Path) -> None:
    for path in all_clips(motions_dir):
        clip = load_deepmimic(path)
        original = json.loads(path.read_text())
        np.testing.assert_array_equal(clip.frames, np.array(original["Frames"]))
        save_deepmimic(clip, tmp_path / path.name)
        again = load_deepmimic(tmp_path / path.name)
        np.testing.assert_array_equal(again.frames, clip.frames)
        assert again.loop == clip.loop == original["Loop"]
        assert again.extras == {k: v for k, v in original.items() if k not in ("Frames", "Loop")}
        save_npz(clip, tmp_path / f"{path.stem}.npz", confidence=np.ones(clip.num_frames))
        from_npz, arrays = load_npz(tmp_path / f"{path.stem}.npz")
        np.testing.assert_array_equal(from_npz.frames, clip.frames)
        np.testing.assert_array_equal(arrays["confidence"], np.ones(clip.num_frames))


def test_backflip_timing(backflip_clip_path: Path) -> None:
    clip = load_clip(backflip_clip_path)
    assert clip.num_frames == 29
    assert clip.duration == pytest.approx(1.75)
    assert clip.fps == pytest.approx(16.0)


def test_resample_keeps_key_poses_and_slerps_between(backflip_clip_path: Path) -> None:
    clip = load_clip(backflip_clip_path)
    fine = clip.resample(32.0)  # every second frame is an original key
    assert fine.num_frames == 57
    assert_same_poses(fine.frames[::2], clip.frames)
    assert fine.frames[0, 0] == pytest.approx(1 / 32)
    # In-between rotations sit halfway (in angle) between their neighbours.
    for col in QUAT_COLUMNS:
        a, mid, b = fine.frames[0:3, col : col + 4]
        assert rot.angle_between(a, mid) == pytest.approx(rot.angle_between(mid, b), abs=1e-9)
        np.testing.assert_allclose(np.linalg.norm(mid), 1.0, atol=1e-12)
    assert_same_poses(fine.resample(16.0).frames, clip.frames)


@pytest.mark.parametrize("fps", [16.0, 24.0, 29.97, 60.0])
def test_resampling_at_the_same_rate_again_changes_nothing(backflip_clip_path: Path, fps: float) -> None:
    once = load_clip(backflip_clip_path).resample(fps)
    twice = once.resample(fps)
    assert twice.num_frames == once.num_frames
    np.testing.assert_array_equal(twice.frames, once.frames)


def assert_same_poses(a: np.ndarray, b: np.ndarray) -> None:
    """Equal poses: positions and hinge angles exactly, rotations up to (normalised) quaternion."""
    scalar = np.ones(a.shape[1], dtype=bool)
    scalar[0] = False
    for col in QUAT_COLUMNS:
        scalar[col : col + 4] = False
        assert np.max(rot.angle_between(a[:, col : col + 4], b[:, col : col + 4])) < 1e-6
    np.testing.assert_allclose(a[:, scalar], b[:, scalar], atol=1e-12)


def test_wrapping_clip_advances_root_each_cycle(motions_dir: Path) -> None:
    walk = load_clip(motions_dir / "humanoid3d_walk.txt")
    assert walk.loop == "wrap"
    one, two = walk.sample([0.1, 0.1 + walk.duration])
    np.testing.assert_allclose(two[1:4] - one[1:4], walk.cycle_offset, atol=1e-12)
    assert np.linalg.norm(walk.cycle_offset) > 0.5


def _write_clip(path: Path, rows: list[list[float]] | None, raw: str | None = None) -> Path:
    if raw is None:
        body = ",\n".join(json.dumps(r) for r in rows)
        raw = '{\n"Loop": "wrap",\n"Frames":\n[\n' + body + "\n]\n}\n"
    path.write_text(raw)
    return path


@pytest.fixture
def good_rows(backflip_clip_path: Path) -> list[list[float]]:
    return json.loads(backflip_clip_path.read_text())["Frames"][:5]


def _drop_last(row: list[float]) -> None:
    row.pop()


def _put(columns: slice, values: list[float]):
    def damage(row: list[float]) -> None:
        row[columns] = values

    return damage


@pytest.mark.parametrize(
    "damage, message",
    [
        (_drop_last, "has 43 numbers, expected 44"),
        (_put(slice(7, 8), [float("nan")]), "NaN"),
        (_put(slice(8, 12), [0.0, 0.0, 0.0, 0.0]), "quaternion in columns 8-11 has length 0.0000"),
        (_put(slice(21, 25), [2.0, 0.0, 1.0, 0.0]), "quaternion in columns 21-24"),
    ],
)
def test_malformed_rows_name_file_and_line(tmp_path: Path, good_rows, damage, message) -> None:
    damage(good_rows[2])
    path = _write_clip(tmp_path / "bad.txt", good_rows)
    with pytest.raises(ClipFormatError) as info:
        load_clip(path)
    # Frame 2 is on line 7: '{', '"Loop"', '"Frames":', '[', frame 0, frame 1, frame 2.
    assert f"{path}:7: frame 2" in str(info.value)
    assert message in str(info.value)
    assert info.value.hint


@pytest.mark.parametrize(
    "raw, line, message",
    [
        ("", 1, "empty"),
        ("   \n\n", 1, "empty"),
        ('{\n"Loop": "wrap",\n"Frames": [\n[0.1, 0.2\n', 5, "not valid JSON"),
        ('{"Loop": "wrap", "Frames": []}', 1, "at least 2 frames"),
        ('{"Loop": "sometimes", "Frames": [[1], [2]]}', 1, "unknown Loop mode"),
        ('[1, 2, 3]', 1, "no 'Frames' array"),
    ],
)
def test_malformed_files(tmp_path: Path, raw: str, line: int, message: str) -> None:
    path = _write_clip(tmp_path / "broken.txt", None, raw)
    with pytest.raises(ClipFormatError) as info:
        load_clip(path)
    assert str(info.value).startswith(f"{path}:{line}:")
    assert message in str(info.value)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ClipFormatError, match="no such clip file"):
        load_clip(tmp_path / "nope.txt")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"\x00\xffnot a zip")
    with pytest.raises(ClipFormatError, match="not a readable .npz"):
        load_clip(garbage)


def test_clip_rejects_bad_arrays() -> None:
    with pytest.raises(InvalidInputError):
        MotionClip(np.zeros((1, 44)))
    with pytest.raises(InvalidInputError):
        MotionClip(np.zeros((3, 40)))
    with pytest.raises(InvalidInputError):
        MotionClip(np.zeros((3, 44)), loop="bounce")


def test_save_is_atomic(tmp_path: Path, backflip_clip_path: Path) -> None:
    clip = load_clip(backflip_clip_path)
    target = tmp_path / "clip.txt"
    save_deepmimic(clip, target)
    before = target.read_text()
    clip.frames = clip.frames.astype(object)  # repr() of a non-float breaks the writer mid-way
    clip.frames[5, 3] = "oops"
    with pytest.raises(ValueError):
        save_deepmimic(clip, target)
    assert target.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["clip.txt"]
