"""Pure parts of the pipeline: candidate choice, outlier rejection, smoothing, analytic init, rotations."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backflip_addon.core import rotations as rot
from backflip_addon.core.clip import load_clip
from backflip_addon.core.kinematics import forward_kinematics
from backflip_addon.core.skeleton import split_joints
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


def test_a_nearly_straight_limb_is_not_twisted_by_its_noise(mocap):
    """Standing, the knee's bend plane is the landmarks' noise: a knee read 4 degrees hyperextended once turned
    the thigh half round. The init keeps such a limb untwisted, and still takes the twist of a bent one."""
    from backflip_addon.core.skeleton import joint

    def init(read: np.ndarray) -> np.ndarray:  # one frame's guess (the init wants two frames at least)
        read = np.repeat(read - 0.5 * (read[:, 23:24] + read[:, 24:25]), 2, axis=0)
        return fit.analytic_frames(read)[0]

    lm = _landmarks(mocap[:1])
    knee, hip, ankle = 25, 23, 27  # left
    shin = lm[0, ankle] - lm[0, knee]
    forward = init(lm)
    c = joint("left_hip").column
    ahead = rot.from_axis_angle(np.cross(lm[0, knee] - lm[0, hip], np.array([0.0, 0.0, 1.0])), np.radians(4.0))
    bent_back = lm.copy()
    bent_back[0, ankle] = lm[0, knee] + rot.rotate(rot.normalize(ahead[None]), shin[None])[0]
    bent_back[0, 31] += bent_back[0, ankle] - lm[0, ankle]
    bent_back[0, 29] += bent_back[0, ankle] - lm[0, ankle]
    for read in (lm, bent_back):
        guess = init(read)
        assert np.degrees(rot.angle_between(guess[c : c + 4], forward[c : c + 4])) < 10.0
    twisted = mocap[:1].copy()
    twisted[0, joint("left_knee").column] = -1.2
    turn = rot.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.radians(40.0))
    twisted[0, c : c + 4] = rot.multiply(twisted[0, c : c + 4], turn)
    read = _landmarks(twisted)
    guess = init(read)
    assert np.degrees(rot.angle_between(guess[c : c + 4], twisted[0, c : c + 4])) < 5.0


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
    ball, hinge = split_joints(frames)
    args = [torch.tensor(a, dtype=torch.float32) for a in (frames[:, 1:4], frames[:, 4:8], ball, hinge)]
    sites, _, _ = fit._TorchBody(torch).forward(*args)
    assert np.abs(sites.numpy() - fit.site_positions(frames)).max() < 1e-5  # metres


def test_torch_centre_of_mass_matches_numpy(mocap):
    import torch

    frames = mocap[::7]
    ball, hinge = split_joints(frames)
    args = [torch.tensor(a, dtype=torch.float32) for a in (frames[:, 1:4], frames[:, 4:8], ball, hinge)]
    body = fit._TorchBody(torch)
    _, positions, rotations = body.forward(*args)
    assert np.abs(body.centre_of_mass(positions, rotations).numpy() - fit.centre_of_mass(frames)).max() < 1e-5


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


def test_landmark_names_are_mediapipes():
    import mediapipe as mp

    from trainer_service.video.pose import Landmark

    assert {m.name: int(m) for m in Landmark} == {m.name: int(m) for m in mp.solutions.pose.PoseLandmark}


def test_foot_sites_are_each_foots_ankle_heel_and_toe():
    bodies = [[fit.SITES[i][1] for i in foot] for foot in fit.FOOT_SITES]
    assert bodies == [["right_ankle"] * 3, ["left_ankle"] * 3]


@pytest.mark.parametrize("motion, flies", [("backflip", True), ("jump", True), ("crawl", False),
                                           ("cartwheel", False), ("getup_faceup", False), ("walk", False)])
def test_only_a_body_off_the_ground_is_in_flight(motions_dir, motion, flies):
    from backflip_addon.core.clip import load_clip

    frames = load_clip(motions_dir / f"humanoid3d_{motion}.txt").frames
    # A crawl's, a cartwheel's and a get-up's feet leave the ground while hands or knees stay down.
    assert fit.airborne(frames, fit.FitConfig().flight_clearance).any() == flies


def _t(values):
    import torch

    return torch.tensor(np.asarray(values, dtype=np.float32))


def test_reprojection_loss_is_zero_on_the_image_points_and_robust_off_them():
    import torch

    rng = np.random.default_rng(0)
    sites = rng.normal(size=(3, 4, 3)) * 0.3 + [0.0, 0.0, -4.0]
    focal, centre = 500.0, np.array([320.0, 240.0])
    uv = np.stack([centre[0] + focal * sites[..., 0] / -sites[..., 2], centre[1] - focal * sites[..., 1] / -sites[..., 2]], -1)
    weight, px_to_m = torch.ones(3, 4), torch.full((3, 1), 4.0 / focal)
    args = (weight, px_to_m, torch.tensor(focal), _t(centre), 0.14)
    assert float(fit.reprojection_loss(_t(sites), _t(uv), *args)) < 1e-9
    shifted = uv + [focal * 0.1 / 4.0, 0.0]  # 0.1 m sideways at 4 m
    expected = 0.01 / (0.01 + 0.14**2)  # Geman-McClure of a 0.1 m residual
    assert float(fit.reprojection_loss(_t(sites), _t(shifted), *args)) == pytest.approx(expected, rel=1e-3)


def test_world_loss_compares_hip_centred_sites_and_weights_depth():
    import torch

    rng = np.random.default_rng(1)
    sites = rng.normal(size=(2, len(fit.SITES), 3))
    centred = sites - sites[:, fit.HIP_SITES].mean(1, keepdims=True)
    weight, axes = torch.ones(2, len(fit.SITES)), torch.ones(2, len(fit.SITES), 3)
    moved = _t(sites + [5.0, -2.0, 1.0])  # the loss ignores where the body is
    assert float(fit.world_loss(moved, _t(centred), weight, axes, 0.14)) < 1e-9
    off = centred + [0.0, 0.0, 0.1]
    axes[..., 2] = 0.0  # depth not trusted at all
    assert float(fit.world_loss(_t(sites), _t(off), weight, axes, 0.14)) < 1e-9
    axes[..., 2] = 1.0
    assert float(fit.world_loss(_t(sites), _t(off), weight, axes, 0.14)) == pytest.approx(0.01 / (0.01 + 0.0196), rel=1e-3)


def test_smoothness_continuity_and_spin_vanish_on_steady_motion():
    t = np.arange(6, dtype=np.float32)[:, None, None]
    sites = _t(np.ones((6, 2, 3)) * 0.2 * t)  # constant velocity
    assert float(fit.smoothness_loss(sites)) == pytest.approx(0.0, abs=1e-9)
    accelerating = _t(np.ones((6, 2, 3)) * 0.01 * t**2)  # second difference 0.02 per axis
    assert float(fit.smoothness_loss(accelerating)) == pytest.approx(3 * 0.02**2 * 100.0, rel=1e-4)
    still = _t(np.tile([1.0, 0.0, 0.0, 0.0], (6, 1)))
    assert float(fit.continuity_loss(still, still[:, None])) == 0.0
    steady = _t(np.stack([np.ones(6), 0.1 * np.arange(6), np.zeros(6), np.zeros(6)], 1))
    assert float(fit.spin_loss(steady)) == pytest.approx(0.0, abs=1e-9)
    assert float(fit.continuity_loss(steady, still[:, None])) == pytest.approx(0.01, rel=1e-4)


def test_the_spin_prior_holds_in_a_flip_and_standing_not_while_crawling():
    from trainer_service.video.phase import Phases

    # Frames: standing, a crouch, upside down in a flip, crawling (torso near level), lying.
    upness = np.array([1.0, 0.8, -0.9, 0.3, 0.0])
    acrobatic = np.array([0.0, 0.0, 1.0, 0.0, 0.0])
    zeros = np.zeros(5)
    phases = Phases(upness, zeros, acrobatic, upness > 0.85, zeros.astype(bool), zeros)
    cfg = fit.FitConfig()
    weights = fit.spin_weights(phases, cfg)
    ground = cfg.spin_ground_weight / cfg.spin_weight
    assert weights[0] == 1.0 and weights[2] == 1.0
    assert ground < weights[1] < 1.0  # a crouch keeps most of it
    assert weights[3] == pytest.approx(ground) and weights[4] == pytest.approx(ground) and ground < 0.5
    # The weighted loss counts each frame's share: an unsteady spin in the crawling frames costs less.
    jerky = np.stack([np.ones(5), np.array([0.0, 0.0, 0.0, 0.3, 0.0]), np.zeros(5), np.zeros(5)], 1)
    full = float(fit.spin_loss(_t(jerky)))
    assert float(fit.spin_loss(_t(jerky), _t(weights))) < 0.5 * full


def test_limits_loss_counts_only_what_lies_beyond_a_limit():
    ball = _t(np.tile([1.0, 0.0, 0.0, 0.0], (1, 2, 1)))
    lows, highs, swing = _t([-1.0]), _t([0.5]), _t([0.4, 0.4])
    assert float(fit.limits_loss(_t([[0.2]]), ball, lows, highs, swing)) == 0.0
    assert float(fit.limits_loss(_t([[0.7]]), ball, lows, highs, swing)) == pytest.approx(0.04, rel=1e-4)
    half = 0.3  # a 0.6 rad swing about x: 0.2 rad beyond the 0.4 limit, on one of the two joints
    bent = _t([[[1.0, 0.0, 0.0, 0.0], [np.cos(half), np.sin(half), 0.0, 0.0]]])
    assert float(fit.limits_loss(_t([[0.0]]), bent, lows, highs, swing)) == pytest.approx(0.04 / 2, rel=1e-3)


def test_symmetry_loss_vanishes_on_mirror_images():
    import torch

    q = np.array([0.9, 0.2, 0.3, 0.1])
    q /= np.linalg.norm(q)
    mirrored = q * [1.0, -1.0, -1.0, 1.0]
    ball = _t(np.stack([q, mirrored, q], 0)[None])
    pairs = [("ball", 0, 1), ("hinge", 0, 1)]
    assert float(fit.symmetry_loss(ball, _t([[0.4, 0.4]]), pairs, torch.ones(1, 2))) == pytest.approx(0.0, abs=1e-6)
    unequal = fit.symmetry_loss(ball, _t([[0.4, 0.0]]), pairs, torch.ones(1, 2))
    assert float(unequal) == pytest.approx(0.16 * 0.25 / 2, rel=1e-4)
    assert float(fit.symmetry_loss(ball, _t([[0.4, 0.0]]), pairs, torch.zeros(1, 2))) == 0.0  # both limbs seen


def test_norm_loss_keeps_quaternions_at_unit_length():
    unit = _t(np.tile([0.5, 0.5, 0.5, 0.5], (3, 1)))
    assert float(fit.norm_loss(unit, unit[:, None])) == pytest.approx(0.0, abs=1e-12)
    assert float(fit.norm_loss(unit * 2.0, unit[:, None])) == pytest.approx(1.0, rel=1e-6)


def test_contact_loss_pins_feet_in_contact_to_the_ground():
    import torch

    sites = np.zeros((4, len(fit.SITES), 3))
    contact = torch.tensor([[True, False]] * 4)
    assert float(fit.contact_loss(_t(sites), contact, 0.0)) == 0.0
    lifted = sites.copy()
    lifted[:, fit.FOOT_SITES[0], 1] = 0.1  # the right foot hovers 0.1 m while said to stand
    assert float(fit.contact_loss(_t(lifted), contact, 0.0)) == pytest.approx(0.01, rel=1e-4)
    sliding = sites.copy()
    sliding[:, fit.FOOT_SITES[0], 0] = 0.1 * np.arange(4)[:, None]
    assert float(fit.contact_loss(_t(sliding), contact, 0.0)) == pytest.approx(0.01 * 100.0, rel=1e-4)
    sliding[:, fit.FOOT_SITES[1], 0] = 5.0 * np.arange(4)[:, None]  # the left foot is free: no contact
    assert float(fit.contact_loss(_t(sliding), contact, 0.0)) == pytest.approx(1.0, rel=1e-4)


def test_stance_loss_counts_the_centre_of_mass_outside_the_feet():
    """Feet 0.2 m apart along z: the centre of mass may sit anywhere between them sideways (inside = 1) or
    in the middle half (inside = 0.5), and 0.08 m forward or back, before it costs; height does not count."""
    import torch

    sites = np.zeros((3, len(fit.SITES), 3))
    sites[:, fit.FOOT_SITES[0], 2] = -0.1
    sites[:, fit.FOOT_SITES[1], 2] = 0.1
    stance = torch.tensor([True, True, False])
    up = torch.tensor([0.0, 1.0, 0.0])

    def loss(com, inside=1.0):
        return float(fit.stance_loss(_t(sites), _t(com), stance, up, inside, 0.08))

    assert loss([[0.07, 0.9, 0.09]] * 3) == 0.0  # inside both, 0.9 m up
    assert loss([[0.0, 0.9, 0.12]] * 3) == pytest.approx(0.02 ** 2, rel=1e-4)  # 2 cm beyond the left foot
    assert loss([[0.0, 0.9, 0.07]] * 3, inside=0.5) == pytest.approx(0.02 ** 2, rel=1e-4)
    assert loss([[0.1, 0.9, 0.0]] * 3) == pytest.approx(0.02 ** 2, rel=1e-4)  # 2 cm too far forward
    assert loss([[0.0, 0.9, 0.0], [0.0, 0.9, 0.0], [5.0, 0.0, 5.0]]) == 0.0  # the last frame is not a stance


def test_standing_still_keeps_stretches_long_enough_on_both_feet():
    both = np.array([1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1], dtype=bool)
    contact = np.stack([both, both], axis=1)
    contact[9, 1] = False  # one foot lifts: the stretch breaks there
    upright = np.ones(len(both), dtype=bool)
    upright[0] = False
    still = fit.standing_still(contact, upright, 3)
    assert still.tolist() == [0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0]


def test_viterbi_drops_a_frame_that_no_state_explains():
    # Two states (a reading and its mirror); frame 3 sits half-way between them, so passing through it
    # costs as much either way and the path could leave it in the wrong state.
    states = np.array([0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0])
    unary = np.zeros((7, 2))

    def pair(i: int, j: int) -> np.ndarray:
        value = np.stack([states, 4.0 - states], 1)  # state 1 reads 4 away from state 0
        return np.abs(value[i][:, None] - value[j][None, :]) / 2.0 + 0.1 * (j - i)

    path = clean.viterbi_dropping(unary, pair, max_dropped=2, drop_cost=1.0)
    assert path.tolist() == [0, 0, 0, -1, 0, 0, 0]
    # Without the glitch nothing is dropped: stepping over a good frame saves less than it costs.
    states[3] = 0.0
    assert clean.viterbi_dropping(unary, pair, max_dropped=2, drop_cost=1.0).tolist() == [0] * 7


def test_a_half_turned_reading_is_dropped_and_refilled(mocap):
    lm = _landmarks(mocap)
    det = _detections(lm)
    # Frames 10 and 11 read a quarter turn off about the vertical, left and right in between in the image:
    # the kind of glitch a cartwheel filmed from the front gives.
    turn = rot.to_matrix(rot.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.pi / 2))
    for t in (10, 11):
        det.world[t, 0] = det.world[t, 0] @ turn.T
        det.image[t, 0] = 0.5 * (det.image[t, 0] + det.image[t, 0, MIRROR])
    world, _, _, chosen = clean.select_candidates(det, clean.CleanConfig())
    assert chosen[10] == chosen[11] == -2
    assert np.all(np.delete(chosen, [10, 11]) == 0)
    track = clean.clean(det, 30.0)
    assert track.refilled[10] and track.refilled[11] and track.refilled.sum() == 2
    assert track.found.all()  # mediapipe did find the person: the frames were dropped, not missed


def test_depth_counts_more_when_the_camera_faces_the_body():
    cfg = fit.FitConfig(depth_weight=0.5, depth_weight_facing=1.0, depth_visibility_power=1.0)
    # Torso frame columns: forward, up, right. Identity: right = scene z, the camera's axis (a side view).
    side_on = rot.IDENTITY[None]
    facing = rot.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.pi / 2)[None]  # right along the image x
    vis = np.full((1, len(fit.SITES)), 0.8)
    assert np.allclose(fit.depth_weights(facing, vis, cfg), 0.8)
    assert np.allclose(fit.depth_weights(side_on, vis, cfg), 0.4)
    halfway = rot.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.pi / 3)[None]
    assert 0.4 < fit.depth_weights(halfway, vis, cfg)[0, 0] < 0.8


def test_symmetry_fades_where_the_two_limbs_look_unlike_in_the_image():
    from trainer_service.video.pose import Landmark as L

    image = np.zeros((2, 33, 2))
    for frame in range(2):
        image[frame, [L.LEFT_SHOULDER, L.RIGHT_SHOULDER]] = [[300, 100], [300, 100]]  # seen from the side
        image[frame, [L.LEFT_HIP, L.RIGHT_HIP]] = [[300, 200], [300, 200]]
        image[frame, [L.LEFT_ELBOW, L.RIGHT_ELBOW]] = [[300, 150], [300, 150]]
        image[frame, [L.LEFT_WRIST, L.RIGHT_WRIST]] = [[300, 190], [300, 190]]
    image[1, L.RIGHT_WRIST] = [400, 100]  # frame 1: the right arm punches forward
    image[1, L.RIGHT_ELBOW] = [350, 100]
    vis = np.ones((2, 33))
    vis[:, [L.RIGHT_ELBOW, L.RIGHT_WRIST]] = 0.2  # the right arm is barely visible in both frames
    pairs, plain = fit.symmetry_pairs(vis)
    _, faded = fit.symmetry_pairs(vis, image, 0.5)
    shoulder = [k for k, (kind, a, _) in enumerate(pairs) if kind == "ball" and fit._BALL[a] == "left_shoulder"][0]
    assert np.isclose(plain[0, shoulder], 0.8) and np.isclose(plain[1, shoulder], 0.8)
    assert np.isclose(faded[0, shoulder], 0.8)  # overlapping limbs: the hidden arm still follows the other
    assert faded[1, shoulder] < 0.05  # a punch is no mirror image


def test_acrobatic_frames_are_smoothed_less():
    # A body standing still, then turning over at 20 degrees a frame: a kink in the torso-local landmarks
    # at the start of the turn is rounded off less with the lighter acrobatic smoothing.
    fps, n = 30.0, 60
    angles = np.radians(20.0) * np.clip(np.arange(n) - 30, 0, None)
    quats = rot.from_axis_angle(np.array([0.0, 0.0, 1.0]), angles)
    local = np.zeros((n, 33, 3))
    local[:, 0, 0] = np.where(np.arange(n) % 2 == 0, 0.01, -0.01)  # jitter of 1 cm everywhere
    plain = clean.CleanConfig(smooth_s=0.05, acrobatic_smooth_s=0.05)
    lighter = clean.CleanConfig(smooth_s=0.05, acrobatic_smooth_s=0.02)
    q_plain, l_plain = clean._smooth_track(quats, local, fps, plain)
    q_light, l_light = clean._smooth_track(quats, local, fps, lighter)
    turning, still = slice(40, 55), slice(2, 15)
    # The turn keeps more of its detail (the jitter, and the rotation itself) ...
    assert np.abs(l_light[turning, 0, 0]).mean() > 1.5 * np.abs(l_plain[turning, 0, 0]).mean()
    assert rot.angle_between(q_light[turning], quats[turning]).max() <= rot.angle_between(q_plain[turning], quats[turning]).max() + 1e-9
    # ... while the still part is smoothed as before.
    assert np.allclose(l_light[still], l_plain[still], atol=1e-4)  # within 0.1 mm


def test_a_body_read_upside_down_is_also_posed_turned_over():
    """Real mediapipe on a frame turned upside down: the 180 degree copy is posed too, and maps back."""
    from trainer_service.video.pose import PoseConfig, reads_upside_down, rotate_image

    frame = rotate_image(read_video(SAMPLE, Trim(start_frame=0, end_frame=1)).frames[0], 180)
    with PoseEstimator(PoseConfig(retry_below=0.0)) as estimator:  # the upright reading counts as confident
        found = estimator.detect_frame(frame)
    with PoseEstimator(PoseConfig(retry_below=0.0, retry_inverted=False)) as estimator:
        plain = estimator.detect_frame(frame)
    assert [d for d, *_ in plain] == [0]
    assert [d for d, *_ in found] == [0, 180]
    assert reads_upside_down(found[0][1]) and reads_upside_down(found[1][1])  # both in the frame's own pixels
    upright = np.zeros((33, 2))
    upright[[11, 12], 1], upright[[23, 24], 1] = 100.0, 200.0  # shoulders above the hips (v down)
    inverted = upright.copy()
    inverted[:, 1] = 300.0 - upright[:, 1]  # the same body turned over: shoulders at v = 200, hips at 100
    assert not reads_upside_down(upright) and reads_upside_down(inverted)

