"""Retarget a landmark track to humanoid3d by fitting the whole clip at once (torch).

Unknowns per frame: root position, root rotation, the 8 ball-joint quaternions and the 4 hinge
angles, with humanoid3d's fixed bone lengths. Losses: 2D reprojection (visibility weighted,
robust), mediapipe's metric world landmarks (rescaled to the humanoid; depth weighted by
visibility), smoothness (site accelerations), quaternion continuity, a steady root spin rate,
left/right symmetry where a limb is hidden (strong in flight, weak on the ground: phase.py reads
which frames are which), joint limits, and in a second stage feet locked to the ground while in
contact and, while standing still on both, the centre of mass kept between them. Analytic joint
frames from the landmarks are only the initial guess. After each stage the root's distance from the
camera is smoothed along the camera rays (it is read from the person's apparent size and jitters).

The fit runs in the "scene" frame (camera at the origin looking down -z, y up; see clean.py),
assuming a fixed camera with a known horizontal field of view; its tilt and height are read from
the person (camera.py) and reported, the tilt applied only on request (FitConfig.level_by_tilt).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from backflip_addon.core import rotations as rot
from backflip_addon.core.kinematics import forward_kinematics, shape_centers
from backflip_addon.core.runs import flight_gravity, true_runs
from backflip_addon.core.skeleton import (BALL_JOINTS, FRAME_WIDTH, HINGE_JOINTS, QUAT_COLUMNS, ROOT_POS, ROOT_ROT,
                                          humanoid3d, joint, set_joints, split_joints)

from .camera import CameraEstimate, level_rotation, tilt_from_body
from .clean import Track, gaussian_smooth
from .phase import PhaseConfig, Phases, detect_phases
from .pose import Landmark as L

logger = logging.getLogger(__name__)

# (mediapipe landmark, humanoid body, offset in the body frame (m), weight)
_HEEL, _TOE = (-0.045, -0.05, 0.0), (0.13, -0.05, 0.0)
SITES: tuple[tuple[L, str, tuple[float, float, float], float], ...] = (
    (L.LEFT_SHOULDER, "left_shoulder", (0.0, 0.0, 0.0), 1.0), (L.RIGHT_SHOULDER, "right_shoulder", (0.0, 0.0, 0.0), 1.0),
    (L.LEFT_ELBOW, "left_elbow", (0.0, 0.0, 0.0), 1.0), (L.RIGHT_ELBOW, "right_elbow", (0.0, 0.0, 0.0), 1.0),
    (L.LEFT_WRIST, "left_wrist", (0.0, 0.0, 0.0), 1.0), (L.RIGHT_WRIST, "right_wrist", (0.0, 0.0, 0.0), 1.0),
    (L.LEFT_HIP, "left_hip", (0.0, 0.0, 0.0), 1.0), (L.RIGHT_HIP, "right_hip", (0.0, 0.0, 0.0), 1.0),
    (L.LEFT_KNEE, "left_knee", (0.0, 0.0, 0.0), 1.0), (L.RIGHT_KNEE, "right_knee", (0.0, 0.0, 0.0), 1.0),
    (L.LEFT_ANKLE, "left_ankle", (0.0, 0.0, 0.0), 1.0), (L.RIGHT_ANKLE, "right_ankle", (0.0, 0.0, 0.0), 1.0),
    (L.LEFT_HEEL, "left_ankle", _HEEL, 0.5), (L.RIGHT_HEEL, "right_ankle", _HEEL, 0.5),
    (L.LEFT_FOOT_INDEX, "left_ankle", _TOE, 0.5), (L.RIGHT_FOOT_INDEX, "right_ankle", _TOE, 0.5),
    (L.NOSE, "neck", (0.10, 0.15, 0.0), 0.5), (L.LEFT_EAR, "neck", (0.0, 0.17, -0.07), 0.5),
    (L.RIGHT_EAR, "neck", (0.0, 0.17, 0.07), 0.5),
)
"""(mediapipe landmark, humanoid body, offset in the body frame (m), weight)"""


def _sites_of(*landmarks: L) -> list[int]:
    return [i for i, (m, _, _, _) in enumerate(SITES) if m in landmarks]


SITE_LANDMARKS = np.array([m for m, _, _, _ in SITES])
SITE_WEIGHTS = np.array([w for _, _, _, w in SITES])
HIP_SITES = _sites_of(L.LEFT_HIP, L.RIGHT_HIP)
# Per foot (right, left, as FitResult.contacts): its ankle, heel and toe sites; the soles are heels and toes.
FOOT_SITES = (_sites_of(L.RIGHT_ANKLE, L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX), _sites_of(L.LEFT_ANKLE, L.LEFT_HEEL, L.LEFT_FOOT_INDEX))
# Largest plausible rotation of each ball joint away from its rest pose (radians).
SWING_LIMITS = {"chest": 1.2, "neck": 1.0, "right_hip": 2.6, "left_hip": 2.6, "right_ankle": 1.0,
                "left_ankle": 1.0, "right_shoulder": 3.0, "left_shoulder": 3.0}
_BALL = [j.name for j in BALL_JOINTS]
_HINGE = [j.name for j in HINGE_JOINTS]


@dataclass(frozen=True)
class FitConfig:
    """Whole-clip retargeting."""

    hfov_deg: float = 55.0
    """Horizontal field of view of the camera (degrees); phones film at about 55-70."""
    iterations: int = 80
    """Adam steps of the first stage (no contacts). Mean of the 4 bench views, PA-MPJPE all /
    inverted / root path error (mm): 60 + 40 steps 50.3/68.7/150, 80 + 50 50.5/67.8/145,
    120 + 80 50.3/68.2/127, 160 + 100 50.8/68.5/121: the joints settle early, the root path late;
    80 + 50 halves the fit's time (the largest stage after pose) for 18 mm of root path."""
    contact_iterations: int = 50
    """Adam steps of the second stage (feet locked while in contact)."""
    learning_rate: float = 0.03
    """Adam step size (quaternion components, metres, radians)."""
    reprojection_weight: float = 1.0
    """Weight of the 2D reprojection error (measured in metres at the person's depth)."""
    world_weight: float = 0.5
    """Weight of the error against mediapipe's world landmarks (metres)."""
    depth_weight: float = 0.5
    """Relative weight of the camera-depth axis within the world-landmark error (depth is the least
    reliable) where the camera looks along the body's left-right axis (a side view: the limbs overlap,
    mediapipe guesses which is in front) ..."""
    depth_weight_facing: float = 1.0
    """... and where it looks along the body's front-back axis (a front or back view: depth is then how
    far a limb reaches forward, which mediapipe reads well); blended per frame by the torso's turn.
    On the 13 front views and the side views rendered (720p) 1.0 against 0.5: jump front 69.1 against
    70.9 mm (mediapipe 70.3), dance a 80.5 / 83.0, punch 80.8 / 82.2, the side views within 0.2 mm,
    cartwheel front 81.5 / 78.8."""
    robust_scale: float = 0.2
    """Residuals beyond about this many metres count less and less (Geman-McClure); upside down
    mediapipe is often 0.1 m off, and 0.08 m ignored those frames (side view inverted 69 vs 66 mm).
    On roll, walk, cartwheel and backflip views (360p suite) 0.2 measured 83.0 mm mean against 84.2 for 0.14."""
    smooth_weight: float = 0.025
    """Weight of site accelerations (metres per frame squared). 0.025 with the lighter smoothing of
    acrobatic frames (CleanConfig.acrobatic_smooth_s) against 0.05 without, over 25 cases of the 720p
    suite: backflip side 45.6 / 46.6 mm (bench side view 45.2 / 47.1), 45 degrees 44.7 / 45.6, rolls
    1-2 mm worse, median 80.4 / 80.5."""
    continuity_weight: float = 0.5
    """Weight of frame-to-frame quaternion steps."""
    spin_weight: float = 50.0
    """Weight of the root rotation's second difference (quaternion per frame squared): a flip spins
    at a nearly constant rate in the air; this is its weight in flight (see phase.py)."""
    spin_ground_weight: float = 5.0
    """... and its weight where the body neither flips nor stands (`spin_weights`). 50 everywhere held a
    crawl's rocking root still: 720p crawl side 107.8 mm (raw mediapipe 102.1) against 103.1 with 5. Over
    the 79-case suite: 62 within 0.3 mm, 9 better, 8 up to 1.6 mm worse (dances, cartwheel front), mean
    -0.09 mm, backflips unchanged; 15 and 25 gave the crawl 104.8 and 106.3 and the others no clear gain."""
    depth_visibility_power: float = 1.0
    """The camera-depth axis of a world landmark is further weighted by its visibility to this power
    (0 = not): mediapipe guesses the depth of a hidden limb."""
    inverted_world_scale: float = 2.0
    """Multiplier of the world-landmark weight on upside-down frames (blended by torso up-ness):
    there the 2D and the priors alone settle worse (measured 0.5: worse, 2: slightly better)."""
    symmetry_weight: float = 5.0
    """Pull the less visible of a left/right limb pair towards the mirror image of the other
    (a standing backflip is nearly symmetric; a limb hidden behind the body has no depth cue);
    this is its weight in flight (see phase.py)."""
    symmetry_ground_weight: float = 1.0
    """... and its weight elsewhere (walking, rolling, on the hands): limbs move in opposition there,
    yet a weak pull still steadies a hidden limb."""
    symmetry_agreement: float = 0.5
    """The symmetry pull fades where the two limbs look unlike in the image: their root-to-end vectors
    this many torso lengths apart keep 61 % of it (0: no such fading; see `symmetry_pairs`)."""
    limit_weight: float = 10.0
    """Weight of joint-limit violations (radians squared)."""
    contact_weight: float = 5.0
    """Weight of foot motion and height off the ground in contact frames (metres)."""
    contact_speed: float = 0.6
    """A foot slower than this (m/s) and near the ground is in contact."""
    contact_height: float = 0.06
    """... near the ground: within this height (m) of the stance level."""
    stance_weight: float = 100.0
    """Weight of the centre of mass's horizontal offset (metres, beyond the margins) from the middle of the
    two feet while the person stands still on both (`stance_min_s`): a standing person balances over the
    support, and the camera's depth axis, which the video shows least, is where the fit drifts. The
    sample video's extraction otherwise ended with the centre of mass 7.8 cm sideways of the feet's middle,
    outside the feet (the truth 0.5): a last pose the trainer holds for 1.5 s and cannot balance."""
    stance_inside: float = 1.0
    """... along the line between the feet, offsets up to this fraction of half their spacing cost nothing
    (the rendered mocap stands with it up to 0.94 when the weight is on one foot, turning or punching);"""
    stance_margin_across: float = 0.08
    """... across it (towards the toes or heels, where the support is a foot long) up to this (m)."""
    stance_min_s: float = 0.3
    """... both feet in contact and the torso upright (phase.py) for at least this long (seconds)."""
    flight_clearance: float = 0.08
    """The whole body (every site) higher than this above the ground (m) counts as flight, for the gravity
    check. The soles alone took a crawl's, a cartwheel's or a get-up's raised feet for flight (on the mocap:
    88, 28 and 94 frames; 0 of the whole body) and the rendered crawl read 1.16 m/s^2 and warned."""
    flight_min_rise: float = 0.05
    """... and its centre of mass must rise at least this (m) above where the flight starts and ends for
    its gravity to be read: a curve of a few centimetres is within the fit's jitter. A crawl whose fit
    lifted a planted knee for 9 frames read 1.02 m/s^2 over a 1.4 cm rise, a run -0.04, and both warned
    that the clip was wrong; a flip or a jump rises 0.3-0.6 m."""
    flight_long_s: float = 0.6
    """... unless it lasts this long (s): a body off the ground for that long should have risen 0.4 m, so one
    that floats flat is read and warns (a sideways video without rotation metadata: 1.2 s, rise 4 mm)."""
    depth_smooth_s: float = 0.3
    """The root's distance from the camera, read from the person's apparent size, jitters by
    centimetres a frame; it is smoothed over this standard deviation (seconds) along the camera rays
    (the image position stays), after each stage. Without it the root path came out 1.3-3.7 times
    too long."""
    depth_smooth_lying_s: float = 1.0
    """... and, once the fit is done, over this one where the torso is not upright (lying, crawling,
    getting up, rolling, flipping), blended by the upright phase (phase.py): there the apparent size
    changes with the pose more than with the distance. Against 0.3 everywhere (720p suite, root path
    ratio / trajectory error mm): crawl 45 degrees 5.80 / 1574 -> 2.58 / 783, crawl front 6.17 / 1396 ->
    2.64 / 548, roll 45 1.48 / 299 -> 1.17 / 165; cartwheel side 177 -> 256 mm. 1.0 everywhere also
    shortened upright paths (run front 0.81 -> 0.46, walk 45 0.95 -> 0.83), which this keeps at 0.3."""
    lateral_smooth_s: float = 0.025
    """... and the root's image position over this one (seconds)."""
    ground_depth: float = 1.0
    """Share of a lying frame's camera distance taken from the ground instead of the person's apparent size
    (see `rest_on_ground`; 0 = none). Over the 79-case 720p suite against none: static cases with a root
    path within 0.9-1.1 of the truth's 51 -> 53 of 75, the worst 4.07 -> 1.89 (get-up face up, front), mean
    root trajectory error 157 -> 111 mm (crawl 45 degrees 785 -> 194, get-up face up front 2159 -> 590, roll
    side 84 -> 62); PA-MPJPE unchanged (only the root moves). It costs the raised camera: crawl 94 -> 125,
    spin 168 -> 242 mm, as the level camera's ground is not that camera's floor."""
    ground_depth_upness: tuple[float, float] = (0.3, 0.7)
    """... where the torso lies: all of it up to the first torso up-ness (the torso's up axis . the camera's
    up: 0.3 is 73 degrees from upright), none from the second (45 degrees; a crouch, a spin or a standing
    body under a raised camera, whose tilt the level camera's ground would misread, keeps its size-based
    distance); not in a flip's flight;"""
    ground_depth_drop: tuple[float, float] = (0.2, 0.5)
    """... eased in as the root lies from the first to the second of these distances (m) below the camera:
    the nearer the ground is to the camera's height, the less a ray's slope says about distance."""
    level_by_tilt: bool = False
    """Level the clip by the camera tilt read from the upright frames (camera.py). Off: the tilt is
    only reported (npz `camera`), the camera taken as level. On the 360p suite the reading was 16-20
    degrees for a camera looking down 20, but 1-19 (median 7) for level ones: mediapipe leans the
    body towards the camera, most in front views, so levelling by it would tilt most clips."""
    phase: PhaseConfig = field(default_factory=PhaseConfig)
    """Where the flip priors apply (see phase.py)."""
    torch_threads: int = 1
    """torch intra-op threads for the fit (the tensors are small: 2 threads measured 5x slower on a
    loaded 2-core machine)."""


@dataclass
class FitResult:
    frames: np.ndarray  # (N, 44) DeepMimic rows (durations set by the caller), Y up, ground at y = 0
    contacts: np.ndarray  # (N, 2) bool, right and left foot on the ground
    scene_from_world: np.ndarray  # (4, 4) maps output world points back into the scene (camera) frame
    focal_px: float
    gravity: float  # m/s^2 measured from the hips' flight parabola (nan when there is no flight)
    losses: dict = field(default_factory=dict)
    camera: CameraEstimate | None = None
    phases: Phases | None = None
    camera_rotations: np.ndarray | None = None  # (N, 3, 3) p_i = R_i p_0: each frame's camera turned from the first


# --- analytic initial guess ---------------------------------------------------------------------
def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _frame(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Right-handed frames (..., 3, 3) with columns x, y (orthogonalised to x... y kept), z = x cross y."""
    y = _unit(y)
    x = _unit(x - np.sum(x * y, axis=-1, keepdims=True) * y)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def _frame_yz(y: np.ndarray, z: np.ndarray) -> np.ndarray:
    z = _unit(z)
    y = _unit(y - np.sum(y * z, axis=-1, keepdims=True) * z)
    return np.stack([np.cross(y, z), y, z], axis=-1)


def _local(parent: np.ndarray, child: np.ndarray) -> np.ndarray:
    return rot.from_matrix(np.swapaxes(parent, -1, -2) @ child)


LIMB_TWIST_FROM_BEND = math.sin(math.radians(30.0))
"""A limb bent at least this much (sine of the angle at knee or elbow) takes its twist from the bend's plane;
a straighter one blends into the twist-free frame (`_untwisted_x`). On 16 suite cases, mean joint angle
error / PA-MPJPE: no blend 27.4 deg / 103.3 mm, 15 deg 26.3 / 103.0, 30 deg 25.7 / 102.9, 45 deg 25.3 / 103.0.
Carrying the twist read on nearby bent frames into straight ones instead was worse (median 23.6 deg against
22.0 at 30 deg; the backflip's standing hips 55 deg off)."""


def _untwisted_x(parent: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The parent's x axis carried by the shortest rotation from the parent's y onto `y` (a bone's frame
    with no twist against its rest pose). A bone turned right round (within 2.5 degrees of it) takes the
    parent's x half-turned about its z: a limb swung up through the body's sagittal plane."""
    a, px = parent[..., :, 1], parent[..., :, 0]
    c = np.sum(a * y, axis=-1, keepdims=True)
    v = np.cross(a, y)
    swung = px + np.cross(v, px) + np.cross(v, np.cross(v, px)) / np.maximum(1.0 + c, 1e-3)
    return np.where(1.0 + c < 1e-3, -px, swung)


def _limb(parent: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray, bend: float):
    """World frame of a limb's upper bone (a->b) and its hinge angle from the lower bone (b->c).

    The hinge turns about the bone's local z; bend = -1 (knee: the shin swings back) or +1 (elbow). Only a
    bent limb shows how the bone is twisted: on a nearly straight one the bend's plane is the landmarks'
    noise (a standing knee read slightly hyperextended turned the thigh ~140 degrees round on the sample
    video), so below `LIMB_TWIST_FROM_BEND` the twist blends into the twist-free frame.
    """
    d1, d2 = _unit(b - a), _unit(c - b)
    y = -d1
    p = d2 - np.sum(d2 * y, axis=-1, keepdims=True) * y
    size = np.linalg.norm(p, axis=-1, keepdims=True)
    untwisted = _unit(_untwisted_x(parent, y))
    share = np.clip(size / LIMB_TWIST_FROM_BEND, 0.0, 1.0)
    x = share * bend * p / np.maximum(size, 1e-9) + (1.0 - share) * untwisted  # both at right angles to y
    x = np.where(np.linalg.norm(x, axis=-1, keepdims=True) < 1e-3, untwisted, x)  # the two opposed and cancelling
    frame = _frame(x, y)
    angle = bend * np.arccos(np.clip(np.sum(d1 * d2, axis=-1), -1.0, 1.0))
    return frame, angle


def analytic_frames(world: np.ndarray) -> np.ndarray:
    """DeepMimic rows (N, 44), root at the origin, from landmarks (N, 33, 3) in the scene frame."""
    p = world
    n = len(p)
    hips_mid = 0.5 * (p[:, L.LEFT_HIP] + p[:, L.RIGHT_HIP])
    sh_mid = 0.5 * (p[:, L.LEFT_SHOULDER] + p[:, L.RIGHT_SHOULDER])
    root = _frame_yz(sh_mid - hips_mid, p[:, L.RIGHT_HIP] - p[:, L.LEFT_HIP])
    chest = _frame_yz(sh_mid - hips_mid, p[:, L.RIGHT_SHOULDER] - p[:, L.LEFT_SHOULDER])
    head = 0.5 * (p[:, L.LEFT_EAR] + p[:, L.RIGHT_EAR])
    neck = _frame(p[:, L.NOSE] - head, head - sh_mid)
    frames = np.zeros((n, FRAME_WIDTH))
    frames[:, ROOT_ROT] = rot.from_matrix(root)
    cols = {name: joint(name).column for name in _BALL + _HINGE}
    frames[:, cols["chest"] : cols["chest"] + 4] = _local(root, chest)
    frames[:, cols["neck"] : cols["neck"] + 4] = _local(chest, neck)
    for side, (hip, knee, ankle, heel, toe, sh, elbow, wrist) in {
        "left": (L.LEFT_HIP, L.LEFT_KNEE, L.LEFT_ANKLE, L.LEFT_HEEL, L.LEFT_FOOT_INDEX, L.LEFT_SHOULDER,
                 L.LEFT_ELBOW, L.LEFT_WRIST),
        "right": (L.RIGHT_HIP, L.RIGHT_KNEE, L.RIGHT_ANKLE, L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX, L.RIGHT_SHOULDER,
                  L.RIGHT_ELBOW, L.RIGHT_WRIST),
    }.items():
        thigh, knee_angle = _limb(root, p[:, hip], p[:, knee], p[:, ankle], -1.0)
        shin = thigh @ rot.to_matrix(rot.from_axis_angle(np.array([0.0, 0.0, 1.0]), knee_angle))
        foot = _frame(p[:, toe] - p[:, heel], p[:, knee] - p[:, ankle])
        upper, elbow_angle = _limb(chest, p[:, sh], p[:, elbow], p[:, wrist], 1.0)
        frames[:, cols[f"{side}_hip"] : cols[f"{side}_hip"] + 4] = _local(root, thigh)
        frames[:, cols[f"{side}_knee"]] = knee_angle
        frames[:, cols[f"{side}_ankle"] : cols[f"{side}_ankle"] + 4] = _local(shin, foot)
        frames[:, cols[f"{side}_shoulder"] : cols[f"{side}_shoulder"] + 4] = _local(chest, upper)
        frames[:, cols[f"{side}_elbow"]] = elbow_angle
    for start in QUAT_COLUMNS:
        frames[:, start : start + 4] = rot.make_continuous(frames[:, start : start + 4])
    return frames


def site_positions(frames: np.ndarray) -> np.ndarray:
    """Scene positions (N, S, 3) of the SITES for DeepMimic rows."""
    skel = humanoid3d()
    pos, quat = forward_kinematics(frames)
    idx = [skel.index(body) for _, body, _, _ in SITES]
    offsets = np.array([o for _, _, o, _ in SITES])
    return pos[:, idx] + rot.rotate(quat[:, idx], offsets)


def solve_translation(sites: np.ndarray, image: np.ndarray, weight: np.ndarray, focal: float,
                      centre: np.ndarray) -> np.ndarray:
    """Per-frame root translation (N, 3) that best projects root-relative sites onto the 2D points.

    Perspective made linear: (u - cx)(-(Z + tz)) = f (X + tx), likewise for v (y up, v down).
    """
    du = image[..., 0] - centre[0]
    dv = centre[1] - image[..., 1]
    x, y, z = sites[..., 0], sites[..., 1], sites[..., 2]
    zeros = np.zeros_like(du)
    rows_u = np.stack([-focal + zeros, zeros, -du], axis=-1)
    rows_v = np.stack([zeros, -focal + zeros, -dv], axis=-1)
    a = np.concatenate([rows_u, rows_v], axis=1)
    b = np.concatenate([focal * x + du * z, focal * y + dv * z], axis=1)
    w = np.sqrt(np.concatenate([weight, weight], axis=1))[..., None]
    out = np.zeros((len(sites), 3))
    for i in range(len(sites)):
        out[i] = np.linalg.lstsq(a[i] * w[i], b[i] * w[i, :, 0], rcond=None)[0]
    return out


def landmark_scale(world: np.ndarray, vis: np.ndarray) -> float:
    """Factor taking mediapipe's metric landmarks to humanoid3d's size (ratio of limb lengths)."""
    skel = humanoid3d()
    off = {b.name: np.linalg.norm(b.offset) for b in skel.bodies}
    # The bone ending at each body, between the landmarks at its two ends.
    pairs = [((L.LEFT_HIP, L.LEFT_KNEE), "left_knee"), ((L.RIGHT_HIP, L.RIGHT_KNEE), "right_knee"),
             ((L.LEFT_KNEE, L.LEFT_ANKLE), "left_ankle"), ((L.RIGHT_KNEE, L.RIGHT_ANKLE), "right_ankle"),
             ((L.LEFT_SHOULDER, L.LEFT_ELBOW), "left_elbow"), ((L.RIGHT_SHOULDER, L.RIGHT_ELBOW), "right_elbow"),
             ((L.LEFT_ELBOW, L.LEFT_WRIST), "left_wrist"), ((L.RIGHT_ELBOW, L.RIGHT_WRIST), "right_wrist")]
    seen, want = 0.0, 0.0
    for (a, b), body in pairs:
        good = np.minimum(vis[:, a], vis[:, b]) > 0.5
        if good.sum() == 0:
            continue
        seen += float(np.median(np.linalg.norm(world[good, a] - world[good, b], axis=-1)))
        want += off[body]
    return want / seen if seen > 0 else 1.0


# --- torch fit ------------------------------------------------------------------------------------
class _TorchBody:
    """humanoid3d forward kinematics in torch, bodies evaluated level by level (parents first)."""

    def __init__(self, torch):
        self.t = torch
        skel = humanoid3d()
        parents = skel.parents.tolist()
        depth = [0] * len(parents)
        for i, p in enumerate(parents):
            depth[i] = 0 if p < 0 else depth[p] + 1
        levels = [[i for i, d in enumerate(depth) if d == level] for level in range(max(depth) + 1)]
        order = [i for level in levels for i in level]  # bodies in evaluation order
        slot = {b: k for k, b in enumerate(order)}
        self.levels = [(torch.tensor([slot[parents[i]] for i in level]), torch.tensor(level)) for level in levels[1:]]
        self.unorder = torch.tensor([slot[b] for b in range(len(parents))])
        self.offsets = torch.tensor(skel.offsets, dtype=torch.float32)
        # Local rotations arrive as [root, ball joints, hinges, fixed wrists]; `gather` puts them in body order.
        source = [0] + [skel.index(n) for n in _BALL] + [skel.index(n) for n in _HINGE]
        fixed = [i for i in range(len(parents)) if i not in source]
        incoming = source + fixed
        self.gather = torch.tensor([incoming.index(b) for b in range(len(parents))])
        self.fixed_count = len(fixed)
        self.site_body = torch.tensor([skel.index(b) for _, b, _, _ in SITES])
        self.site_offset = torch.tensor([o for _, _, o, _ in SITES], dtype=torch.float32)
        self.hinge_axis = torch.tensor([skel.bodies[skel.index(n)].axis for n in _HINGE], dtype=torch.float32)
        masses = torch.tensor([b.mass for b in skel.bodies], dtype=torch.float32)
        self.mass_share = masses / masses.sum()
        self.mass_origin = torch.tensor([b.shape.origin for b in skel.bodies], dtype=torch.float32)

    def centre_of_mass(self, positions, rotations):
        """(N, 3) centre of mass from forward's body positions and rotations (each body's mass at its
        shape centre, as `centre_of_mass`)."""
        centres = positions + (rotations @ self.mass_origin[..., None])[..., 0]
        return (centres * self.mass_share[:, None]).sum(1)

    def matrix(self, q):
        """Rotation matrices (..., 3, 3) of unit quaternions (..., 4) (w, x, y, z)."""
        w, x, y, z = q.unbind(-1)
        xx, yy, zz, xy, xz, yz, wx, wy, wz = x * x, y * y, z * z, x * y, x * z, y * z, w * x, w * y, w * z
        return self.t.stack([1 - 2 * (yy + zz), 2 * (xy - wz), 2 * (xz + wy),
                             2 * (xy + wz), 1 - 2 * (xx + zz), 2 * (yz - wx),
                             2 * (xz - wy), 2 * (yz + wx), 1 - 2 * (xx + yy)], -1).unflatten(-1, (3, 3))

    def forward(self, root_pos, root_q, ball_q, hinge):
        """Sites (N, S, 3), body positions (N, B, 3) and rotation matrices (N, B, 3, 3).

        Rotations are chained as matrices: one batched product per tree level keeps the autograd
        graph small (chaining quaternions component-wise measured 12 % slower, backward included)."""
        t = self.t
        n = root_pos.shape[0]
        half = 0.5 * hinge[..., None]
        identity = t.zeros(n, self.fixed_count, 4)
        identity[..., 0] = 1.0
        local = t.cat([root_q[:, None], ball_q, t.cat([t.cos(half), self.hinge_axis * t.sin(half)], -1), identity], 1)
        local = self.matrix(local[:, self.gather])
        wr, wp = local[:, :1], root_pos[:, None]
        for parent_slots, bodies in self.levels:
            pr, pp = wr[:, parent_slots], wp[:, parent_slots]
            wr = t.cat([wr, pr @ local[:, bodies]], 1)
            wp = t.cat([wp, pp + (pr @ self.offsets[bodies][..., None])[..., 0]], 1)
        wr, wp = wr[:, self.unorder], wp[:, self.unorder]
        sites = wp[:, self.site_body] + (wr[:, self.site_body] @ self.site_offset[..., None])[..., 0]
        return sites, wp, wr


def symmetry_pairs(visibility: np.ndarray, image: np.ndarray | None = None, agreement_scale: float = 0.5
                   ) -> tuple[list[tuple[str, int, int]], np.ndarray]:
    """Left/right joint pairs (kind, index into the ball or hinge list) and per-frame weights (N, P)
    = 1 - the lower visibility of the pair's limb landmarks: a pair with a hidden limb is pulled together.

    With the 2D landmarks `image` (N, 33, 2) the weight is also scaled by how alike the two limbs look in
    the image (their root-to-end vectors, e.g. shoulder to wrist, `agreement_scale` torso lengths apart
    halves it... a Gaussian): a limb hidden behind its partner (a side view) overlaps it, while a punch
    or a kick towards the camera reads low in visibility yet plainly unlike the other limb, and pulling
    it to the mirror image departed from the image (punch, front view: 89 mm against mediapipe's 87)."""
    # Per joint: the landmarks (left, right, left, right) whose visibility says whether its limb is seen,
    # and the limb's root and end landmarks (left, right, left, right) compared in the image.
    limbs = {"hip": ((L.LEFT_KNEE, L.RIGHT_KNEE, L.LEFT_ANKLE, L.RIGHT_ANKLE), (L.LEFT_HIP, L.RIGHT_HIP, L.LEFT_ANKLE, L.RIGHT_ANKLE)),
             "knee": ((L.LEFT_ANKLE, L.RIGHT_ANKLE, L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX), (L.LEFT_HIP, L.RIGHT_HIP, L.LEFT_ANKLE, L.RIGHT_ANKLE)),
             "ankle": ((L.LEFT_HEEL, L.RIGHT_HEEL, L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX), (L.LEFT_HEEL, L.RIGHT_HEEL, L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX)),
             "shoulder": ((L.LEFT_ELBOW, L.RIGHT_ELBOW, L.LEFT_WRIST, L.RIGHT_WRIST), (L.LEFT_SHOULDER, L.RIGHT_SHOULDER, L.LEFT_WRIST, L.RIGHT_WRIST)),
             "elbow": ((L.LEFT_WRIST, L.RIGHT_WRIST, L.LEFT_WRIST, L.RIGHT_WRIST), (L.LEFT_SHOULDER, L.RIGHT_SHOULDER, L.LEFT_WRIST, L.RIGHT_WRIST))}
    if image is not None:
        torso = np.linalg.norm(0.5 * (image[:, L.LEFT_SHOULDER] + image[:, L.RIGHT_SHOULDER])
                               - 0.5 * (image[:, L.LEFT_HIP] + image[:, L.RIGHT_HIP]), axis=-1)
        torso = np.maximum(torso, 1.0)
    pairs, weights = [], []
    for joint, ((l1, r1, l2, r2), (lr, rr, le, re)) in limbs.items():
        names = _BALL if f"left_{joint}" in _BALL else _HINGE
        kind = "ball" if names is _BALL else "hinge"
        pairs.append((kind, names.index(f"left_{joint}"), names.index(f"right_{joint}")))
        left = np.minimum(visibility[:, l1], visibility[:, l2])
        right = np.minimum(visibility[:, r1], visibility[:, r2])
        weight = 1.0 - np.minimum(left, right)
        if image is not None:
            apart = np.linalg.norm((image[:, le] - image[:, lr]) - (image[:, re] - image[:, rr]), axis=-1) / torso
            weight = weight * np.exp(-0.5 * (apart / agreement_scale) ** 2)
        weights.append(weight)
    return pairs, np.stack(weights, 1)


class Adam:
    """Plain Adam (Kingma & Ba) on a list of leaf tensors.

    torch.optim imports torch._dynamo on first use, measured 1.5-2.5 s on 2 cores: longer than the fit."""

    def __init__(self, params: list, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        import torch

        self.torch = torch
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.count = 0

    def step(self, grads) -> None:
        b1, b2 = self.betas
        self.count += 1
        step = self.lr * math.sqrt(1.0 - b2 ** self.count) / (1.0 - b1 ** self.count)
        with self.torch.no_grad():
            for p, g, m, v in zip(self.params, grads, self.m, self.v):
                m.mul_(b1).add_(g, alpha=1.0 - b1)
                v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
                p.addcdiv_(m, v.sqrt().add_(self.eps * math.sqrt(1.0 - b2 ** self.count)), value=-step)


def _robust(sq, scale: float):
    return sq / (sq + scale * scale)


# --- the fit's losses: pure functions of tensors (the unknowns' current values and fixed targets) ---
def reprojection_loss(sites, obs2d, weight, px_to_m, focal, centre, robust_scale: float):
    """Robust 2D error of the sites (N, S, 3) projected by a pinhole at the origin looking down -z, against
    image points (N, S, 2) (pixels, v down), measured in metres at the person's depth (`px_to_m`, (N, 1))."""
    import torch

    z = torch.clamp(-sites[..., 2], min=0.3)
    uv = torch.stack([centre[0] + focal * sites[..., 0] / z, centre[1] - focal * sites[..., 1] / z], -1)
    sq = ((uv - obs2d) * px_to_m[..., None]).pow(2).sum(-1)
    return (weight * _robust(sq, robust_scale)).sum() / weight.sum()


def world_loss(sites, obs3d, weight, axis_weight, robust_scale: float):
    """Robust error of the hip-centred sites against the (rescaled) world landmarks, per axis weighted."""
    centred = sites - sites[:, HIP_SITES].mean(1, keepdim=True)
    sq = ((centred - obs3d).pow(2) * axis_weight).sum(-1)
    return (weight * _robust(sq, robust_scale)).sum() / weight.sum()


def smoothness_loss(sites):
    """Mean squared site acceleration (m per frame squared), x100."""
    acc = sites[2:] - 2 * sites[1:-1] + sites[:-2]
    return acc.pow(2).sum(-1).mean() * 100.0


def continuity_loss(root_q, ball_q):
    """Mean squared frame-to-frame quaternion steps of the root and the ball joints."""
    return (root_q[1:] - root_q[:-1]).pow(2).sum(-1).mean() + (ball_q[1:] - ball_q[:-1]).pow(2).sum(-1).mean()


def spin_loss(root_q, weight=None):
    """Mean squared second difference of the root quaternion, each frame's times `weight` (N,) when given:
    a flip spins at a nearly constant rate."""
    step = (root_q[2:] - 2 * root_q[1:-1] + root_q[:-2]).pow(2).sum(-1)
    return (step if weight is None else step * weight[1:-1]).mean()


def limits_loss(hinge, ball_q, lows, highs, swing):
    """Squared violations of the hinge limits and of each ball joint's largest swing (radians)."""
    import torch

    over = torch.relu(lows - hinge) + torch.relu(hinge - highs)
    swing_angle = 2.0 * torch.atan2(ball_q[..., 1:].norm(dim=-1), ball_q[..., 0].abs())
    return over.pow(2).mean() + torch.relu(swing_angle - swing).pow(2).mean()


_MIRROR = (1.0, -1.0, -1.0, 1.0)  # a ball joint's quaternion mirrored left/right (w, x, y, z)


def symmetry_loss(ball_q, hinge, pairs: list[tuple[str, int, int]], pair_weight):
    """Left/right pairs pulled towards each other's mirror image, weighted per frame (see `symmetry_pairs`).

    Both sides move (pulling only the less visible side towards a fixed other side measured worse:
    visibility is unreliable upside down)."""
    import torch

    mirror = torch.tensor(_MIRROR, dtype=ball_q.dtype)
    sym = [1.0 - (ball_q[:, a] * ball_q[:, b] * mirror).sum(-1).pow(2) if kind == "ball"
           else (hinge[:, a] - hinge[:, b]).pow(2) * 0.25 for kind, a, b in pairs]
    return (torch.stack(sym, 1) * pair_weight).mean()


def norm_loss(root_q, ball_q):
    """Keeps the raw quaternion unknowns near unit length (they are normalised before use)."""
    return (root_q.norm(dim=-1) - 1).pow(2).mean() + (ball_q.norm(dim=-1) - 1).pow(2).mean()


def stance_loss(sites, com, stance, up, inside: float, margin_across: float):
    """Mean squared horizontal offset (perpendicular to `up`) of the centre of mass `com` (N, 3) from the
    middle of both feet over the frames of `stance` (N,) bool: along the line between the feet, beyond
    `inside` times half their spacing; across it, beyond `margin_across` (m)."""
    import torch

    right, left = sites[stance][:, FOOT_SITES[0]].mean(1), sites[stance][:, FOOT_SITES[1]].mean(1)
    flat = lambda v: v - (v @ up)[:, None] * up  # noqa: E731
    axis = flat(left - right)
    spacing = axis.norm(dim=-1).clamp_min(1e-6)
    axis = axis / spacing[:, None]
    off = flat(com[stance] - 0.5 * (left + right))
    along = (off * axis).sum(-1)
    across = (off - along[:, None] * axis).norm(dim=-1)
    return (torch.relu(along.abs() - 0.5 * inside * spacing).pow(2) + torch.relu(across - margin_across).pow(2)).mean()


def contact_loss(sites, contact, ground: float, up=None):
    """Foot motion between two contact frames (x100) and sole height (along `up`, default +y) off the
    ground in contact frames; `contact` (N, 2) bool per foot (right, left) as `FOOT_SITES`."""
    import torch

    up = torch.tensor([0.0, 1.0, 0.0]) if up is None else up

    term = torch.zeros(())
    for k, foot in enumerate(FOOT_SITES):
        feet = sites[:, foot]
        on = contact[:, k]
        vel = (feet[1:] - feet[:-1]).pow(2).sum(-1).mean(-1)
        both = on[1:] & on[:-1]
        if both.any():
            term = term + vel[both].mean() * 100.0
        if on.any():
            sole = (feet[on] @ up).min(-1).values
            term = term + (sole - ground).pow(2).mean()
    return term


@dataclass
class _Problem:
    """The fixed side of the fit: targets and weights as tensors, the body, the configuration."""

    cfg: FitConfig
    body: "_TorchBody"
    obs2d: object
    w2d: object
    px_to_m: object
    focal: object
    centre: object
    obs3d: object
    w3d: object
    axis_w: object
    lows: object
    highs: object
    swing: object
    pairs: list
    pair_w: object
    spin_w: object  # (N,) share of spin_weight per frame
    phases: Phases
    cam_rot: object  # (N, 1, 3, 3) the first camera's frame to each frame's (None: a still camera)

    def losses(self, root_pos, root_q, ball_q, hinge, contact=None, ground=None, up=None, stance=None):
        """Total weighted loss, its parts and the sites of the current unknowns."""
        cfg = self.cfg
        rq = root_q / root_q.norm(dim=-1, keepdim=True)
        bq = ball_q / ball_q.norm(dim=-1, keepdim=True)
        sites, positions, rotations = self.body.forward(root_pos, rq, bq, hinge)
        # The unknowns live in the first camera's frame; each frame is seen by its own (turned) camera.
        seen = sites if self.cam_rot is None else (self.cam_rot @ sites[..., None])[..., 0]
        out = {
            "reprojection": reprojection_loss(seen, self.obs2d, self.w2d, self.px_to_m, self.focal, self.centre,
                                              cfg.robust_scale),
            "world": world_loss(seen, self.obs3d, self.w3d, self.axis_w, cfg.robust_scale),
            "smooth": smoothness_loss(sites),
            "continuity": continuity_loss(rq, bq),
            "spin": spin_loss(rq, self.spin_w),
            "limits": limits_loss(hinge, bq, self.lows, self.highs, self.swing),
            "symmetry": symmetry_loss(bq, hinge, self.pairs, self.pair_w),
            "norm": norm_loss(root_q, ball_q),
        }
        total = (cfg.reprojection_weight * out["reprojection"] + cfg.world_weight * out["world"]
                 + cfg.smooth_weight * out["smooth"] + cfg.continuity_weight * out["continuity"]
                 + cfg.spin_weight * out["spin"] + cfg.limit_weight * out["limits"]
                 + cfg.symmetry_weight * out["symmetry"] + out["norm"])
        if contact is not None:
            out["contact"] = contact_loss(sites, contact, ground, up)
            total = total + cfg.contact_weight * out["contact"]
        if stance is not None and bool(stance.any()):
            com = self.body.centre_of_mass(positions, rotations)
            out["stance"] = stance_loss(sites, com, stance, up, cfg.stance_inside, cfg.stance_margin_across)
            total = total + cfg.stance_weight * out["stance"]
        return total, out, sites


def _problem(track: Track, target_world: np.ndarray, depth: np.ndarray, focal: float, centre: np.ndarray,
             fps: float, cfg: FitConfig, cam_rot: np.ndarray | None = None) -> _Problem:
    import torch

    f32 = dict(dtype=torch.float32)
    n = len(track.world)
    vis = track.visibility[:, SITE_LANDMARKS]
    # Torso up-ness (1 upright, -1 upside down) scales the world-landmark weight from 1 to inverted_world_scale.
    up = rot.rotate(track.torso, np.array([0.0, 1.0, 0.0]))[:, 1]
    frame_w = cfg.inverted_world_scale + (1.0 - cfg.inverted_world_scale) * np.clip(0.5 + 0.5 * up, 0.0, 1.0)
    axis_w = np.ones((n, len(SITES), 3))
    axis_w[..., 2] = depth_weights(track.torso, vis, cfg)
    limits = np.array([humanoid3d().bodies[j.link].limits for j in HINGE_JOINTS])
    pairs, pair_w = symmetry_pairs(track.visibility, track.image if cfg.symmetry_agreement > 0 else None,
                                   cfg.symmetry_agreement)
    phases = detect_phases(track.torso, fps, cfg.phase, track.image, track.visibility)
    if cfg.symmetry_weight > 0:
        pair_w = pair_w * phase_share(cfg.symmetry_weight, cfg.symmetry_ground_weight, phases.flight)[:, None]
    return _Problem(
        cfg=cfg, body=_TorchBody(torch),
        obs2d=torch.tensor(track.image[:, SITE_LANDMARKS], **f32), w2d=torch.tensor(vis * SITE_WEIGHTS, **f32),
        px_to_m=torch.tensor(depth / focal, **f32)[:, None], focal=torch.tensor(focal, **f32),
        centre=torch.tensor(centre, **f32), obs3d=torch.tensor(target_world[:, SITE_LANDMARKS], **f32),
        w3d=torch.tensor(vis * SITE_WEIGHTS * frame_w[:, None], **f32), axis_w=torch.tensor(axis_w, **f32),
        lows=torch.tensor(limits[:, 0], **f32), highs=torch.tensor(limits[:, 1], **f32),
        swing=torch.tensor([SWING_LIMITS[b] for b in _BALL], **f32), pairs=pairs, pair_w=torch.tensor(pair_w, **f32),
        spin_w=torch.tensor(spin_weights(phases, cfg), **f32),
        phases=phases, cam_rot=None if cam_rot is None else torch.tensor(cam_rot[:, None], **f32),
    )


def phase_share(weight: float, ground_weight: float, phase: np.ndarray) -> np.ndarray:
    """Share (N,) of a prior's `weight` per frame: all of it where `phase` (N,) is 1, `ground_weight`'s share
    where it is 0 (the loss carries `weight`, so frames outside the phase get their share of it)."""
    ground = ground_weight / weight if weight > 0 else 0.0
    return ground + (1.0 - ground) * phase


def spin_weights(phases: Phases, cfg: FitConfig) -> np.ndarray:
    """Share (N,) of spin_weight per frame: all of it in a flip and where the body stands (easing in from
    a torso up-ness of 0.5 to upright, so a crouch keeps most of it), spin_ground_weight's share elsewhere:
    crawling, lying, getting up, where the root rocks as the limbs push it."""
    standing = np.clip((phases.upness - 0.5) / (cfg.phase.upright_upness - 0.5), 0.0, 1.0)
    return phase_share(cfg.spin_weight, cfg.spin_ground_weight, np.maximum(phases.acrobatic, standing))


def depth_weights(torso: np.ndarray, visibility: np.ndarray, cfg: FitConfig) -> np.ndarray:
    """Weight (N, S) of the camera-depth axis of each site's world-landmark error, from the torso rotations
    (N, 4) in the scene frame and the sites' visibility (N, S): depth_weight where the camera looks along the
    body's left-right axis, depth_weight_facing along its front-back axis, times visibility to a power."""
    lateral = np.abs(rot.rotate(torso, np.array([0.0, 0.0, 1.0]))[:, 2])
    weight = cfg.depth_weight_facing + (cfg.depth_weight - cfg.depth_weight_facing) * lateral
    return weight[:, None] * visibility ** cfg.depth_visibility_power


def fit_track(track: Track, fps: float, image_size: tuple[int, int], cfg: FitConfig = FitConfig(),
              progress=None, camera_rotations: np.ndarray | None = None) -> FitResult:
    """Fit humanoid3d to the clean track; returns Y-up rows with the ground at y = 0.

    `progress(done, total)` is called every few optimiser steps. `camera_rotations` (N, 3, 3), p_i = R_i p_0,
    is how a panning or hand-held camera turned (motion.py); the clip is then fitted in the first camera's frame."""
    import torch

    torch.set_num_threads(cfg.torch_threads)
    width, height = image_size
    focal = 0.5 * width / math.tan(math.radians(cfg.hfov_deg) / 2.0)
    centre = np.array([width / 2.0, height / 2.0])
    # The analytic guess, placed by the translation that best projects it onto the image.
    scale = landmark_scale(track.world, track.visibility)
    init = analytic_frames(track.world * scale)
    trans = solve_translation(site_positions(init), track.image[:, SITE_LANDMARKS],
                              track.visibility[:, SITE_LANDMARKS] * SITE_WEIGHTS, focal, centre)
    depth = np.maximum(-trans[:, 2], 0.5)
    moving = camera_rotations is not None and not np.allclose(camera_rotations, np.eye(3), atol=1e-6)
    if moving:
        back = np.swapaxes(camera_rotations, -1, -2)  # each camera's frame to the first's
        trans = (back @ trans[..., None])[..., 0]
        init[:, ROOT_ROT] = rot.multiply(rot.from_matrix(back), init[:, ROOT_ROT])
        init[:, ROOT_ROT] = rot.make_continuous(init[:, ROOT_ROT])
    init[:, ROOT_POS] = gaussian_smooth(trans, 1.0)
    problem = _problem(track, track.world * scale, depth, focal, centre, fps, cfg,
                       camera_rotations if moving else None)

    ball, hinge = split_joints(init)
    params = [torch.tensor(v, dtype=torch.float32, requires_grad=True)
              for v in (init[:, ROOT_POS], init[:, ROOT_ROT], ball, hinge)]
    total_steps, done = cfg.iterations + cfg.contact_iterations, 0

    def run(steps: int, **contacts) -> dict:
        nonlocal done
        opt, parts = Adam(params, cfg.learning_rate), {}
        for _ in range(steps):
            total, parts, _ = problem.losses(*params, **contacts)
            opt.step(torch.autograd.grad(total, params))
            done += 1
            if progress is not None and (done % 10 == 0 or done == total_steps):
                progress(done, total_steps)
        return parts

    def steady_root(final: bool = False) -> None:
        # The longer smoothing of frames not upright is for the root path only: applied between the
        # stages it moved the pose as well (backflip side view 44.8 -> 45.8 mm).
        lying = cfg.depth_smooth_lying_s * fps if final else 0.0
        with torch.no_grad():
            params[0].copy_(torch.tensor(smooth_along_rays(params[0].numpy(), cfg.depth_smooth_s * fps,
                                                           cfg.lateral_smooth_s * fps, upright,
                                                           lying), dtype=torch.float32))

    # 0..1 per frame, eased over 0.1 s so that the two smoothings blend without a step.
    upright = np.clip(gaussian_smooth(problem.phases.upright.astype(float), 0.1 * fps), 0.0, 1.0)
    run(cfg.iterations)
    steady_root()
    with torch.no_grad():
        sites = problem.losses(*params)[2].numpy()
    feet = sites[:, FOOT_SITES[0] + FOOT_SITES[1]].mean(1)
    shoulders = sites[:, _sites_of(L.LEFT_SHOULDER, L.RIGHT_SHOULDER)].mean(1)
    tilt, upright_count = tilt_from_body(shoulders - feet, problem.phases.upright)
    level = level_rotation(tilt if cfg.level_by_tilt else 0.0)
    up = level[1]  # the world's up axis in the scene frame
    contact, ground = detect_contacts(sites, fps, cfg, up)
    stance = standing_still(contact, problem.phases.upright, round(cfg.stance_min_s * fps)) if cfg.stance_weight > 0 else None
    parts = run(cfg.contact_iterations, contact=torch.tensor(contact), ground=torch.tensor(ground, dtype=torch.float32),
                up=torch.tensor(up, dtype=torch.float32), stance=None if stance is None else torch.tensor(stance))
    if cfg.ground_depth > 0:
        with torch.no_grad():
            sites = problem.losses(*params)[2].numpy()
            rested = rest_on_ground(params[0].numpy(), sites, up, ground, ground_share(problem.phases, cfg),
                                    cfg.ground_depth_drop)
            params[0].copy_(torch.tensor(rested, dtype=torch.float32))
    steady_root(final=True)

    frames, scene_from_world = to_world(_rows(*(p.detach().numpy() for p in params)), ground, level)
    camera = CameraEstimate(math.degrees(tilt), -ground, cfg.hfov_deg, upright_count, cfg.level_by_tilt)
    # A cross-check of the metric scale taken from bone lengths (the mocap itself reads 8.9).
    gravity = flight_gravity(centre_of_mass(frames)[:, 1], airborne(frames, cfg.flight_clearance), fps,
                             min_frames=6, min_rise=cfg.flight_min_rise, long_s=cfg.flight_long_s)
    logger.info("fit: scale %.3f, focal %.0f px, camera tilt %.1f deg at %.2f m, contact frames R %d L %d, "
                "gravity check %.1f m/s^2", scale, focal, camera.tilt_deg, camera.height_m, int(contact[:, 0].sum()),
                int(contact[:, 1].sum()), gravity)
    return FitResult(frames, contact, scene_from_world, focal, gravity,
                     {k: float(v.detach()) for k, v in parts.items()}, camera, problem.phases,
                     camera_rotations if moving else None)


def smooth_along_rays(root_pos: np.ndarray, depth_sigma: float, lateral_sigma: float,
                      upright: np.ndarray | None = None, lying_sigma: float = 0.0) -> np.ndarray:
    """Root positions (N, 3) in the scene frame (camera at the origin looking down -z) with the
    distance smoothed over `depth_sigma` frames along each camera ray, and the image position over
    `lateral_sigma` frames (both Gaussian, zero phase). With `upright` (N,) 0..1, frames below 1 take
    their distance partly from a smoothing over `lying_sigma` frames instead."""
    depth = np.maximum(-root_pos[:, 2], 1e-3)
    image = root_pos[:, :2] / depth[:, None]  # the ray (image position over the focal length)
    smooth = gaussian_smooth(depth, depth_sigma)
    if upright is not None and lying_sigma > depth_sigma:
        smooth = upright * smooth + (1.0 - upright) * gaussian_smooth(depth, lying_sigma)
    depth = smooth
    image = gaussian_smooth(image, lateral_sigma)
    return np.concatenate([image * depth[:, None], -depth[:, None]], axis=1)


def ground_share(phases: Phases, cfg: FitConfig) -> np.ndarray:
    """Share (N,) of each frame's camera distance that `rest_on_ground` takes from the ground: where the
    torso lies (`FitConfig.ground_depth_upness`), not in a flip's flight."""
    low, high = cfg.ground_depth_upness
    lying = np.clip((high - phases.upness) / (high - low), 0.0, 1.0)
    return cfg.ground_depth * lying * (1.0 - phases.flight)


def rest_on_ground(root_pos: np.ndarray, sites: np.ndarray, up: np.ndarray, ground: float, share: np.ndarray,
                   drop: tuple[float, float]) -> np.ndarray:
    """Root positions (N, 3) in the scene frame moved along their camera rays so that, by `share` (N,) 0..1 per
    frame, the lowest of the `sites` (N, S, 3) rests on the ground (height `ground` along `up`).

    A body on the ground has its distance in the slope of the rays to where it touches the floor; its apparent
    size, which sets the distance otherwise, changes with the pose as much as with the distance when it lies,
    crawls or gets up (720p crawl 45 degrees: root path 2.7 times too long)."""
    height = root_pos @ up  # the root's height relative to the camera: negative below it
    lowest = (sites @ up).min(axis=1)
    below = np.minimum(height, -1e-3)
    factor = np.clip(1.0 + (ground - lowest) / below, 0.5, 2.0)  # sites + (factor - 1) root: lowest on the ground
    trust = np.clip((-height - drop[0]) / (drop[1] - drop[0]), 0.0, 1.0)
    weight = np.clip(share, 0.0, 1.0) * trust
    return root_pos * (1.0 + weight * (factor - 1.0))[:, None]


def _rows(root_pos: np.ndarray, root_q: np.ndarray, ball_q: np.ndarray, hinge: np.ndarray) -> np.ndarray:
    """DeepMimic rows of the unknowns: quaternions normalised, hinges clipped to their limits."""
    frames = np.zeros((len(root_pos), FRAME_WIDTH))
    frames[:, ROOT_POS] = root_pos
    frames[:, ROOT_ROT] = rot.normalize(root_q)
    limits = np.array([humanoid3d().bodies[j.link].limits for j in HINGE_JOINTS])
    set_joints(frames, rot.normalize(ball_q), np.clip(hinge, limits[:, 0], limits[:, 1]))
    return frames


def detect_contacts(sites: np.ndarray, fps: float, cfg: FitConfig, up: np.ndarray = np.array([0.0, 1.0, 0.0])
                    ) -> tuple[np.ndarray, float]:
    """Feet (right, left) in contact per frame, and the ground height (height of the soles along `up`,
    the world's up axis in the scene frame)."""
    right, left = FOOT_SITES
    height = sites @ up
    soles = np.stack([height[:, right].min(1), height[:, left].min(1)], 1)
    centre = np.stack([sites[:, right].mean(1), sites[:, left].mean(1)], 1)
    speed = np.zeros(soles.shape)
    speed[1:-1] = np.linalg.norm(centre[2:] - centre[:-2], axis=-1) * fps / 2.0
    speed[0], speed[-1] = speed[1], speed[-2]
    slow = speed < cfg.contact_speed
    ground = float(np.percentile(soles[slow], 30)) if slow.any() else float(soles.min())
    contact = slow & (soles < ground + cfg.contact_height)
    return contact, ground


def standing_still(contact: np.ndarray, upright: np.ndarray, min_frames: int) -> np.ndarray:
    """(N,) bool: frames in a stretch of at least `min_frames` with both feet in contact (`contact` (N, 2))
    and the torso `upright` (N,) bool."""
    out = np.zeros(len(upright), dtype=bool)
    for start, end in true_runs(contact.all(axis=1) & upright):
        if end - start >= min_frames:
            out[start:end] = True
    return out


def to_world(frames: np.ndarray, ground: float, level: np.ndarray = np.eye(3)) -> tuple[np.ndarray, np.ndarray]:
    """Move scene-frame rows to a DeepMimic world: levelled by `level` (camera tilt, see camera.py), ground
    (a height in the levelled frame) at y = 0, first root at x = z = 0, first heading +x."""
    frames = frames.copy()
    frames[:, ROOT_POS] = frames[:, ROOT_POS] @ level.T
    frames[:, ROOT_ROT] = rot.multiply(rot.from_matrix(level), frames[:, ROOT_ROT])
    fwd = rot.rotate(frames[0, ROOT_ROT], np.array([1.0, 0.0, 0.0]))
    yaw = -math.atan2(-fwd[2], fwd[0])
    turn = rot.from_axis_angle(np.array([0.0, 1.0, 0.0]), yaw)
    origin = np.array([frames[0, 1], ground, frames[0, 3]])
    out = frames.copy()
    out[:, ROOT_POS] = rot.rotate(turn, frames[:, ROOT_POS] - origin)
    out[:, ROOT_ROT] = rot.make_continuous(rot.canonical(rot.multiply(turn, frames[:, ROOT_ROT])))
    for start in QUAT_COLUMNS[1:]:
        out[:, start : start + 4] = rot.make_continuous(out[:, start : start + 4])
    scene_from_world = np.eye(4)
    scene_from_world[:3, :3] = level.T @ rot.to_matrix(rot.conjugate(turn))
    scene_from_world[:3, 3] = level.T @ origin
    return out, scene_from_world


def airborne(frames: np.ndarray, clearance: float) -> np.ndarray:
    """(N,) bool: every site of world rows (ground at y = 0) higher than `clearance` (m) off the ground."""
    return site_positions(frames)[:, :, 1].min(axis=1) > clearance


def centre_of_mass(frames: np.ndarray) -> np.ndarray:
    """(N, 3) centre of mass of humanoid3d (each body's mass at its shape centre)."""
    pos, quat = forward_kinematics(frames)
    masses = np.array([b.mass for b in humanoid3d().bodies])
    return np.einsum("nbk,b->nk", shape_centers(pos, quat), masses / masses.sum())


