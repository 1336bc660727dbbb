"""Video -> clip on real frames: the committed rendered sample, and videos that must be refused."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from backflip_addon.core import rotations as rot
from backflip_addon.core.clip import load_clip, load_npz
from backflip_addon.core.errors import VideoError
from backflip_addon.core.kinematics import forward_kinematics
from backflip_addon.core.skeleton import humanoid3d
from trainer_service.video import cli
from trainer_service.service.workers import extraction_warnings
from trainer_service.video.clean import Track
from trainer_service.video.extract import confidence_warnings, extract
from trainer_service.video.read import Trim

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "assets" / "video" / "backflip_side.mp4"
LIMB_JOINTS = ["left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
               "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]


def _run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(argv))


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("extract") / "flip.txt"
    assert _run_cli([str(SAMPLE), "--out", str(out), "--quiet"]) == 0
    return out


def _flip_rotation_deg(root_rot: np.ndarray) -> float:
    """Signed rotation (degrees) accumulated about the clip's main spin axis."""
    steps = rot.to_rotvec(rot.multiply(root_rot[1:], rot.conjugate(root_rot[:-1])))
    axis = steps.sum(axis=0)
    axis /= np.linalg.norm(axis)
    return float(np.degrees(abs(np.sum(steps @ axis))))


def test_sample_extracts_to_a_full_flip(extracted: Path):
    clip = load_clip(extracted)
    assert clip.num_frames == 76
    assert clip.fps == pytest.approx(30.0)
    assert _flip_rotation_deg(clip.root_rot) >= 300.0
    # Feet on the ground at the start: the lowest ankle sits about one sole height above y = 0.
    pos, _ = forward_kinematics(clip.frames[:5])
    ankles = [humanoid3d().index("left_ankle"), humanoid3d().index("right_ankle")]
    assert 0.0 < pos[:, ankles, 1].min() < 0.12


def test_sample_matches_the_rendered_mocap(extracted: Path):
    """Closed loop: the clip's joints against the mocap that was rendered (Procrustes-aligned)."""
    clip = load_clip(extracted)
    truth = np.load(SAMPLE.with_suffix(".truth.npz"))["poses"]
    idx = [humanoid3d().index(n) for n in LIMB_JOINTS]
    pred = forward_kinematics(clip.frames)[0][:, idx]
    gt = forward_kinematics(truth)[0][:, idx]
    errors = []
    for a, b in zip(pred, gt):
        a0, b0 = a - a.mean(0), b - b.mean(0)
        u, s, vt = np.linalg.svd(b0.T @ a0)
        d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
        scale = np.trace(np.diag(s) @ d) / np.sum(a0 * a0)
        errors.append(np.linalg.norm(scale * a0 @ (u @ d @ vt).T - b0, axis=1).mean())
    assert np.mean(errors) < 0.075  # metres; the bench reports the exact figure


def test_sample_ends_standing_with_its_weight_between_the_feet(extracted: Path):
    """The trainer holds the last pose for 1.5 s: over the last 0.3 s the centre of mass lies between the
    feet along the line joining them (without the fit's stance term it sat 7.8 cm sideways, past a foot)."""
    from trainer_service.video.fit import FOOT_SITES, centre_of_mass, site_positions

    frames = load_clip(extracted).frames[-9:]
    sites = site_positions(frames)
    right, left = sites[:, FOOT_SITES[0]].mean(1), sites[:, FOOT_SITES[1]].mean(1)
    axis = (left - right) * np.array([1.0, 0.0, 1.0])
    half = 0.5 * np.linalg.norm(axis, axis=1)
    along = np.abs(np.sum((centre_of_mass(frames) - 0.5 * (left + right)) * axis, axis=1)) / (2.0 * half)
    assert (along < half).all()


def test_outputs_beside_the_clip(extracted: Path):
    clip, arrays = load_npz(extracted.with_suffix(".npz"))
    assert clip.num_frames == 76
    assert arrays["confidence"].shape == (76,) and arrays["refilled"].dtype == bool
    assert np.all((arrays["confidence"] >= 0) & (arrays["confidence"] <= 1))
    preview = cv2.VideoCapture(str(extracted.with_name("flip.preview.mp4")))
    count = int(preview.get(cv2.CAP_PROP_FRAME_COUNT))
    width = int(preview.get(cv2.CAP_PROP_FRAME_WIDTH))
    preview.release()
    assert count == 76 and width == 640
    assert json.loads(str(arrays["warnings"])) == []  # a well-seen flip whose flight falls at about 9.81 m/s^2
    assert extraction_warnings(extracted.with_suffix(".npz")) == []  # as the service reports it


def test_a_clip_mostly_unsure_warns_with_its_longest_unsure_stretch():
    n = 40
    refilled = np.zeros(n, dtype=bool)
    refilled[10:22] = True
    confidence = np.full(n, 0.9)
    confidence[30:33] = 0.2
    track = Track(world=np.zeros((n, 33, 3)), image=np.zeros((n, 33, 2)), visibility=np.ones((n, 33)),
                  torso=np.tile([1.0, 0, 0, 0], (n, 1)), confidence=confidence, refilled=refilled,
                  rotation=np.zeros(n), found=np.ones(n, bool))
    (warning,) = confidence_warnings(track, 0.5, 30.0)
    assert warning.startswith("15 of 40 frames (38%) were refilled or seen with low confidence")
    assert "the longest stretch 0.3-0.7 s into the clip" in warning
    refilled[:] = False
    assert confidence_warnings(track, 0.5, 30.0) == []  # 3 of 40 frames: not worth a warning


def test_trainer_accepts_the_extracted_clip(extracted: Path):
    from trainer_service.sim.config import SimConfig
    from trainer_service.sim.reference import build_reference

    tables = build_reference(load_clip(extracted), SimConfig())
    assert tables.num_rows > 0


def _write_video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> None:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()


def _assert_refused(tmp_path: Path, video: Path, message: str, **trim) -> None:
    out = tmp_path / "out" / "clip.txt"
    out.parent.mkdir()
    with pytest.raises(VideoError, match=message) as info:
        extract(video, Trim(**trim))
    assert info.value.hint
    flags = {"start_s": "--start", "end_s": "--end"}
    argv = [str(video), "--out", str(out), "--quiet"]
    for key, value in trim.items():
        argv += [flags[key], str(value)]
    with pytest.raises(VideoError):
        _run_cli(argv)
    assert list(out.parent.iterdir()) == []  # no clip, npz, preview or temp file left behind


def test_video_without_a_person(tmp_path: Path):
    y, x = np.mgrid[0:240, 0:320]
    empty = [np.dstack([(x + 4 * i) % 256, y % 256, np.full_like(x, 90)]).astype(np.uint8) for i in range(8)]
    path = tmp_path / "empty.mp4"
    _write_video(path, empty)
    _assert_refused(tmp_path, path, "no person")


def test_truncated_video(tmp_path: Path):
    path = tmp_path / "truncated.mp4"
    path.write_bytes(SAMPLE.read_bytes()[: SAMPLE.stat().st_size // 2])
    _assert_refused(tmp_path, path, "not a readable video")


def test_text_file_named_mp4(tmp_path: Path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 50)
    _assert_refused(tmp_path, path, "not a readable video")


def test_empty_trim_range(tmp_path: Path):
    _assert_refused(tmp_path, SAMPLE, "trim range is empty", start_s=1.0, end_s=1.0)


def test_trim_past_the_end(tmp_path: Path):
    _assert_refused(tmp_path, SAMPLE, "holds no frames", start_s=60.0)
