"""Phase detection, camera estimation, root steadying and the preview's frame status: pure functions
on synthetic data with a known answer."""
from __future__ import annotations

import math

import numpy as np
import pytest

from backflip_addon.core import rotations as rot
from trainer_service.video import camera, fit, motion, phase
from trainer_service.video.clean import Track
from trainer_service.video.extract import FRAME_LOW_CONFIDENCE, FRAME_OK, FRAME_REFILLED, frame_status

FPS = 30.0
Y = np.array([0.0, 1.0, 0.0])
Z = np.array([0.0, 0.0, 1.0])


def _turn(axis: np.ndarray, angles: np.ndarray) -> np.ndarray:
    return rot.from_axis_angle(np.broadcast_to(axis, (len(angles), 3)), angles)


def test_a_flip_is_acrobatic_between_upright_stances():
    # 15 frames standing, a full turn about z in 21 frames (0.7 s), 15 frames standing.
    angles = np.concatenate([np.zeros(15), np.linspace(0.0, 2 * math.pi, 21), np.full(15, 2 * math.pi)])
    p = phase.detect_phases(_turn(Z, angles), FPS)
    assert p.acrobatic[25] == pytest.approx(1.0)  # upside down, mid-flip
    assert p.acrobatic[:3].max() < 0.05 and p.acrobatic[-3:].max() < 0.05  # the margin eases out before
    assert p.upright[:5].all() and not p.upright[25]
    assert p.up_rate[25] == pytest.approx(2 * math.pi / 20 * FPS, rel=0.15)


def test_walking_lying_and_a_pirouette_are_not_acrobatic():
    n = 60
    walk = _turn(Z, 0.1 * np.sin(np.arange(n) / FPS * 2 * math.pi))  # the trunk sways 6 degrees
    pirouette = _turn(Y, np.arange(n) / FPS * 4 * math.pi)  # two turns a second about the vertical
    lying = _turn(Z, np.full(n, math.pi / 2))
    for torso in (walk, pirouette, lying):
        assert phase.detect_phases(torso, FPS).acrobatic.max() < 0.05
    assert phase.detect_phases(walk, FPS).upright.all()
    assert not phase.detect_phases(lying, FPS).upright.any()


def test_airborne_frames_are_clear_of_the_standing_ground_level():
    n = 10
    image = np.zeros((n, 33, 2))
    image[:, :, 1] = np.linspace(100.0, 300.0, 33)  # a body 200 px tall standing at v = 300
    lift = np.array([0, 0, 0, 5, 30, 60, 30, 5, 0, 0], dtype=float)
    image[:, :, 1] -= lift[:, None]
    vis = np.ones((n, 33))
    upright = lift == 0
    air = phase.airborne_frames(image, vis, upright, clearance=0.08)  # 16 px
    assert air.tolist() == [False, False, False, False, True, True, True, False, False, False]
    vis[5] = 0.0  # nothing seen: not airborne
    assert not phase.airborne_frames(image, vis, upright, clearance=0.08)[5]


def test_flight_needs_both_acrobatic_and_airborne():
    angles = np.concatenate([np.zeros(15), np.linspace(0.0, 2 * math.pi, 21), np.full(15, 2 * math.pi)])
    image = np.zeros((51, 33, 2))
    image[:, :, 1] = np.linspace(100.0, 300.0, 33)
    vis = np.ones((51, 33))
    rolling = phase.detect_phases(_turn(Z, angles), FPS, image=image, visibility=vis)  # turns over on the ground
    assert rolling.acrobatic[25] == pytest.approx(1.0) and rolling.flight.max() < 0.05
    image[15:36, :, 1] -= 80.0  # the same turn, in the air
    flipping = phase.detect_phases(_turn(Z, angles), FPS, image=image, visibility=vis)
    assert flipping.flight[25] == pytest.approx(1.0) and flipping.flight[:5].max() < 0.05


def _camera_frame(points: np.ndarray, tilt: float) -> np.ndarray:
    """World points (.., 3), camera at the origin tilted down by `tilt`, into its frame (x right, y up, z back)."""
    forward = np.array([0.0, -math.sin(tilt), -math.cos(tilt)])
    up = np.array([0.0, math.cos(tilt), -math.sin(tilt)])
    return points @ np.stack([[1.0, 0.0, 0.0], up, -forward]).T


@pytest.mark.parametrize("tilt_deg", [0.0, 12.0, 20.0, -8.0])
def test_tilt_is_read_from_upright_bodies_seen_by_a_known_camera(tilt_deg):
    tilt = math.radians(tilt_deg)
    rng = np.random.default_rng(0)
    n = 40
    # Standing bodies: long axes vertical with a few degrees of sway; 10 frames upside down and ignored.
    axes = np.column_stack([rng.normal(0, 0.05, n), np.ones(n), rng.normal(0, 0.05, n)])
    axes[30:] = [0.3, -1.0, 0.6]
    upright = np.arange(n) < 30
    est, used = camera.tilt_from_body(_camera_frame(axes, tilt), upright)
    assert used == 30
    assert math.degrees(est) == pytest.approx(tilt_deg, abs=2.0)
    # Levelling takes the camera-frame world up back onto +y, and a ground point back to the camera's height.
    level = camera.level_rotation(tilt)
    assert level @ _camera_frame(Y, tilt) == pytest.approx(Y, abs=1e-12)
    foot = _camera_frame(np.array([0.4, -1.6, -5.0]), tilt)  # camera 1.6 m up
    assert (level @ foot)[1] == pytest.approx(-1.6, abs=1e-12)
    assert camera.tilt_from_body(axes, np.zeros(n, dtype=bool)) == (0.0, 0)


def test_to_world_undoes_the_tilt_and_maps_back_to_the_scene(backflip_clip_path):
    from backflip_addon.core.clip import load_clip
    from backflip_addon.core.kinematics import forward_kinematics

    frames = load_clip(backflip_clip_path).frames[:10].copy()
    tilt = math.radians(20.0)
    scene = frames.copy()
    # The mocap as a tilted camera 1.5 m above its ground sees it (ground at y = 0 in the mocap).
    scene[:, 1:4] = _camera_frame(frames[:, 1:4] - [0.0, 1.5, 5.0], tilt)
    scene[:, 4:8] = rot.multiply(rot.from_matrix(np.linalg.inv(camera.level_rotation(tilt))), frames[:, 4:8])
    world, scene_from_world = fit.to_world(scene, -1.5, camera.level_rotation(tilt))
    assert world[:, 2] == pytest.approx(frames[:, 2], abs=1e-9)  # heights above the ground come back
    pos_world, _ = forward_kinematics(world)
    pos_scene, _ = forward_kinematics(scene)
    back = pos_world @ scene_from_world[:3, :3].T + scene_from_world[:3, 3]
    assert back == pytest.approx(pos_scene, abs=1e-9)


def test_smoothing_along_rays_keeps_the_image_and_steadies_the_depth():
    n = 60
    rng = np.random.default_rng(1)
    depth = 5.0 + 0.5 * np.linspace(0, 1, n) + rng.normal(0, 0.1, n)  # walking away, jittering
    ray = np.column_stack([np.linspace(-0.3, 0.3, n), np.full(n, -0.1)])
    root = np.column_stack([ray * depth[:, None], -depth])
    out = fit.smooth_along_rays(root, depth_sigma=9.0, lateral_sigma=0.0)
    assert out[:, :2] / -out[:, 2:] == pytest.approx(ray, abs=1e-12)  # every point stays on its camera ray
    assert np.abs(np.diff(out[:, 2])).sum() < 0.3 * np.abs(np.diff(root[:, 2])).sum()
    assert -out[n // 2, 2] == pytest.approx(5.25, abs=0.1)


def test_depth_is_smoothed_longer_where_the_body_is_not_upright():
    n = 120
    rng = np.random.default_rng(2)
    depth = 5.0 + rng.normal(0, 0.2, n)  # standing still, then lying: the size-based distance jitters
    ray = np.column_stack([np.zeros(n), np.full(n, -0.1)])
    root = np.column_stack([ray * depth[:, None], -depth])
    upright = (np.arange(n) < n // 2).astype(float)
    short = fit.smooth_along_rays(root, depth_sigma=3.0, lateral_sigma=0.0)
    blended = fit.smooth_along_rays(root, depth_sigma=3.0, lateral_sigma=0.0, upright=upright, lying_sigma=15.0)
    assert blended[: n // 2 - 10] == pytest.approx(short[: n // 2 - 10], abs=1e-12)  # upright frames: as before
    def path(p):
        return np.abs(np.diff(p[:, 2])).sum()
    assert path(blended[n // 2 + 10:]) < 0.5 * path(short[n // 2 + 10:])
    assert blended[:, :2] / -blended[:, 2:] == pytest.approx(ray, abs=1e-12)


def test_a_lying_body_rests_on_the_ground_along_its_camera_rays():
    # A body lying on the floor, its root 0.2 m up, the camera 1 m up: the distances read from its size jitter.
    n = 40
    rng = np.random.default_rng(3)
    true_depth = np.linspace(4.0, 5.0, n)
    ray = np.column_stack([np.linspace(-0.2, 0.2, n), (0.2 - 1.0) / true_depth])  # root 0.2 m above the floor
    offsets = np.zeros((len(fit.SITES), 3))
    offsets[:, 1] = np.linspace(-0.2, 0.3, len(fit.SITES))  # the lowest site 0.2 m below the root
    read = true_depth * (1.0 + rng.normal(0.0, 0.1, n))
    root = np.column_stack([ray * read[:, None], -read])
    out = fit.rest_on_ground(root, root[:, None] + offsets, Y, -1.0, np.ones(n), (0.2, 0.5))
    assert -out[:, 2] == pytest.approx(true_depth, rel=1e-9)  # the lowest site on the floor, y = -1
    assert out[:, :2] / -out[:, 2:] == pytest.approx(ray, abs=1e-12)  # every root stays on its camera ray
    standing = fit.rest_on_ground(root, root[:, None] + offsets, Y, -1.0, np.zeros(n), (0.2, 0.5))
    assert standing == pytest.approx(root, abs=1e-12)  # no share: the size-based distance stays
    level = root.copy()
    level[:, 1] = 0.0  # a root at the camera's height: the ray's slope says nothing about the distance
    assert fit.rest_on_ground(level, level[:, None] + offsets, Y, -1.0, np.ones(n), (0.2, 0.5)) == pytest.approx(level)


def test_the_ground_sets_the_distance_where_the_torso_lies_and_not_in_flight():
    # Upright, leaning 45 degrees, lying on the back, lying in a flip's flight.
    angles = np.radians([0.0, 45.0, 90.0, 90.0])
    phases = phase.detect_phases(_turn(Z, angles), FPS)
    phases.flight[:] = [0.0, 0.0, 0.0, 1.0]
    share = fit.ground_share(phases, fit.FitConfig())
    assert share == pytest.approx([0.0, 0.0, 1.0, 0.0], abs=0.05)
    assert fit.ground_share(phases, fit.FitConfig(ground_depth=0.0)) == pytest.approx(np.zeros(4))


def test_contact_loss_measures_height_along_the_given_up_axis():
    import torch

    sites = np.zeros((3, len(fit.SITES), 3))
    sites[:, fit.FOOT_SITES[0], 2] = 0.1  # 0.1 m along z, which is up here
    contact = torch.tensor([[True, False]] * 3)
    t = torch.tensor(sites, dtype=torch.float32)
    assert float(fit.contact_loss(t, contact, 0.0)) == 0.0
    up = torch.tensor([0.0, 0.0, 1.0])
    assert float(fit.contact_loss(t, contact, 0.0, up)) == pytest.approx(0.01, rel=1e-4)


def test_frame_status_marks_refilled_and_low_confidence_frames():
    n = 5
    track = Track(world=np.zeros((n, 33, 3)), image=np.zeros((n, 33, 2)), visibility=np.ones((n, 33)),
                  torso=np.tile([1.0, 0, 0, 0], (n, 1)), confidence=np.array([0.9, 0.4, 0.0, 0.6, 0.49]),
                  refilled=np.array([False, False, True, False, False]), rotation=np.zeros(n), found=np.ones(n, bool))
    assert frame_status(track, 0.5).tolist() == [FRAME_OK, FRAME_LOW_CONFIDENCE, FRAME_REFILLED, FRAME_OK,
                                                 FRAME_LOW_CONFIDENCE]


def _k(focal: float, size: tuple[int, int]) -> np.ndarray:
    return np.array([[focal, 0.0, size[0] / 2.0], [0.0, focal, size[1] / 2.0], [0.0, 0.0, 1.0]])


def test_camera_turn_is_read_back_from_a_warped_background():
    import cv2

    size, hfov = (320, 180), 50.0
    focal = 0.5 * size[0] / math.tan(math.radians(hfov) / 2.0)
    rng = np.random.default_rng(3)
    texture = cv2.resize(rng.integers(0, 255, (45, 80), dtype=np.uint8), size, interpolation=cv2.INTER_NEAREST)
    texture = cv2.GaussianBlur(texture, (3, 3), 0)
    # Three frames: still, then the camera pans 2 degrees (OpenCV axes: about y).
    pan = rot.to_matrix(rot.from_axis_angle(np.array([0.0, 1.0, 0.0]), math.radians(2.0)))
    k = _k(focal, size)
    warped = cv2.warpPerspective(texture, k @ pan @ np.linalg.inv(k), size, borderMode=cv2.BORDER_REFLECT)
    tracker = motion.MotionTracker(motion.MotionConfig(width=size[0]))
    for grey in (texture, texture, warped):
        tracker.add(np.repeat(grey[..., None], 3, axis=2))
    # A person in the middle of the frame: masked out.
    image = np.zeros((3, 33, 2)) + [[160.0, 90.0]]
    image[:, 0] = [150.0, 60.0]
    image[:, 1] = [170.0, 120.0]
    turns = tracker.rotations(hfov, image, np.ones((3, 33)))
    assert turns[1] == pytest.approx(np.eye(3), abs=1e-9)  # a still camera reads as exactly still
    flip = np.diag([1.0, -1.0, -1.0])
    assert turns[2] == pytest.approx(flip @ pan @ flip, abs=2e-3)


def test_rotation_of_a_pure_turn_homography_and_chaining():
    size, focal = (320, 180), 343.0
    k = _k(focal, size)
    r1 = rot.to_matrix(rot.from_axis_angle(np.array([0.2, 1.0, 0.1]) / np.linalg.norm([0.2, 1.0, 0.1]), 0.05))
    r2 = rot.to_matrix(rot.from_axis_angle(np.array([1.0, 0.0, 0.0]), -0.03))
    assert motion.rotation_of(3.0 * (k @ r1 @ np.linalg.inv(k)), focal, (160.0, 90.0)) == pytest.approx(r1, abs=1e-9)
    hfov = math.degrees(2 * math.atan(0.5 * size[0] / focal))
    chain = motion.chain_rotations([k @ r1 @ np.linalg.inv(k), k @ r2 @ np.linalg.inv(k)], size, hfov)
    flip = np.diag([1.0, -1.0, -1.0])
    assert chain[2] == pytest.approx(flip @ r2 @ r1 @ flip, abs=1e-9)
