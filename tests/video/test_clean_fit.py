"""Pure parts of the pipeline: candidate choice, outlier rejection, smoothing, analytic init, rotations."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backflip_addon.core import rotations as rot
from backflip_addon.core.clip import load_clip
from backflip_addon.core.kinematics import forward_kinematics
from trainer_service.video import clean, fit
from trainer_service.video.pose import KEY_LANDMARKS, MIRROR, Detections, PoseEstimator
from trainer_service.video.read import Trim, read_video

SAMPLE = Path(__file__).resolve().parents[2] / "assets" / "video" / "backflip_side.mp4"


def _landmarks(frames: np.ndarray) -> np.ndarray:
    """Scene-frame landmarks (N, 33, 3) placed where the fit's sites are (the rest stay at the origin)."""
    sites = fit.site_positions(frames)
    out = np.zeros((len(frames), 33, 3))
    for k, (m, _, _, _) in enumerate(fit.SITES):
        out[:, m] = sites[:, k]
    return out


@pytest.fixture(scope="module")
def mocap(backflip_clip_path) -> np.ndarray:
    clip = load_clip(backflip_clip_path)
    frames = clip.resample(30.0).frames.copy()
    frames[:, 1:4] += np.array([0.0, 0.0, -5.0])  # five metres in front of the camera
    return frames


def test_analytic_frames_recover_the_pose(mocap):
    lm = _landmarks(mocap)
    guess = fit.analytic_frames(lm - 0.5 * (lm[:, 23:24] + lm[:, 24:25]))
    guess[:, 1:4] = mocap[:, 1:4]
    err = np.linalg.norm(forward_kinematics(guess)[0] - forward_kinematics(mocap)[0], axis=-1)
    assert err.mean() < 0.03  # metres; only the chest/neck split is approximate


def _detections(lm: np.ndarray, focal: float = 800.0) -> Detections:
    n = len(lm)
    image = np.stack([320 + focal * lm[..., 0] / -lm[..., 2], 240 - focal * lm[..., 1] / -lm[..., 2]], -1)
    hips = 0.5 * (lm[:, 23:24] + lm[:, 24:25])
    world = (lm - hips) * clean.CAMERA_TO_SCENE
    return Detections(image=image[:, None], world=world[:, None], visibility=np.ones((n, 1, 33)),
                      rotation=np.zeros((n, 1), dtype=np.int64), valid=np.ones((n, 1), dtype=bool))


def test_viterbi_undoes_a_mirrored_reading(mocap):
    det = _detections(_landmarks(mocap))
    det.world[10, 0] = det.world[10, 0, MIRROR]
    det.image[10, 0] = det.image[10, 0, MIRROR]
    world, _, _, chosen = clean.select_candidates(det, clean.CleanConfig())
    assert chosen[10] == 1 and np.all(np.delete(chosen, 10) == 0)
    expected = (_landmarks(mocap)[10] - 0.5 * (_landmarks(mocap)[10, 23] + _landmarks(mocap)[10, 24]))
    assert np.allclose(world[10][KEY_LANDMARKS], expected[KEY_LANDMARKS], atol=1e-9)


def test_spin_outlier_is_rejected_and_refilled():
    angles = np.radians(20.0) * np.arange(20)
    quats = rot.from_axis_angle(np.array([0.0, 0.0, 1.0]), angles)
    bad = quats.copy()
    bad[7] = rot.multiply(rot.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.pi), quats[7])
    keep = clean.reject_spin_outliers(rot.make_continuous(bad), np.ones(20, dtype=bool), 50.0)
    assert list(np.nonzero(~keep)[0]) == [7]
    filled = clean._slerp_gaps(rot.make_continuous(bad), keep)
    assert np.degrees(rot.angle_between(filled[7], quats[7])) < 1e-6


def test_smoothing_is_zero_phase():
    x = np.zeros(41)
    x[20] = 1.0
    y = clean.gaussian_smooth(x[:, None], 2.0)[:, 0]
    assert np.argmax(y) == 20
    assert np.allclose(y[:20], y[21:][::-1])
    q = rot.from_axis_angle(np.array([0.0, 0.0, 1.0]), np.radians(15.0) * np.arange(30))
    smoothed = clean.smooth_rotations(q, 1.0)
    # A constant spin is left alone away from the ends (no lag).
    assert np.degrees(rot.angle_between(smoothed[5:-5], q[5:-5])).max() < 1.0


def test_rotated_retry_maps_back_to_the_frame():
    """Real mediapipe: the upside-down copy of a frame gives the same landmarks once turned back."""
    frame = read_video(SAMPLE, Trim(start_frame=0, end_frame=1)).frames[0]
    with PoseEstimator() as estimator:
        upright = estimator._run(frame, 0)
        for degrees in (90, 180):
            turned = estimator._run(frame, degrees)
            assert turned is not None
            assert np.abs(turned[0][KEY_LANDMARKS] - upright[0][KEY_LANDMARKS]).max() < 8.0  # pixels
            assert np.abs(turned[1][KEY_LANDMARKS] - upright[1][KEY_LANDMARKS]).max() < 0.06  # metres


def test_torch_body_matches_numpy_kinematics(mocap):
    """The fit's torch forward kinematics (rotation matrices chained per tree level) against core's FK."""
    import torch

    frames = mocap[::7]
    cols = {name: start for name, start, _ in fit.CLIP_COLUMNS}
    ball = np.stack([frames[:, cols[b] : cols[b] + 4] for b in fit._BALL], 1)
    hinge = np.stack([frames[:, cols[h]] for h in fit._HINGE], 1)
    args = [torch.tensor(a, dtype=torch.float32) for a in (frames[:, 1:4], frames[:, 4:8], ball, hinge)]
    sites, _, _ = fit._TorchBody(torch).forward(*args)
    assert np.abs(sites.numpy() - fit.site_positions(frames)).max() < 1e-5  # metres


def test_adam_matches_torch_optim():
    """The fit's own Adam (torch.optim imports torch._dynamo, seconds) takes torch.optim.Adam's steps."""
    import torch

    target = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    ours = torch.zeros(2, 2, requires_grad=True)
    theirs = torch.zeros(2, 2, requires_grad=True)
    adam, reference = fit.Adam([ours], 0.1), torch.optim.Adam([theirs], lr=0.1)
    for _ in range(25):
        adam.step(torch.autograd.grad(((ours - target) ** 4).sum(), [ours]))
        reference.zero_grad()
        ((theirs - target) ** 4).sum().backward()
        reference.step()
    assert torch.allclose(ours, theirs, atol=1e-6)
    assert not torch.allclose(ours, torch.zeros(2, 2))


def test_frames_reach_the_callback_as_decoded():
    seen = []
    video = read_video(SAMPLE, Trim(start_frame=3, end_frame=9), on_frame=seen.append)
    assert len(seen) == 6 and all(a is b for a, b in zip(seen, video.frames))
