"""From per-frame candidates to one clean landmark track.

Order matters (smoothing raw xyz with 180 degree outliers in it made things worse):
1. pick, per frame, the candidate (and left/right reading) most consistent with its neighbours
   (Viterbi over the clip; cost = torso turn + 2D jump + low visibility), or drop the frame when
   every reading of it is a glitch (a path may step over a few frames, at a price);
2. resolve left/right swaps of single limbs the same way;
3. reject frames whose torso turn breaks a constant-spin prediction from their neighbours;
4. refill gaps: torso rotation by slerp, torso-local landmarks and 2D points linearly;
5. smooth zero-phase (a Gaussian, applied both ways at once) in rotation / torso-local space.

Coordinates: the "scene" frame is the camera with y up and z towards the viewer (mediapipe's
camera axes with y and z negated), so a Y-up humanoid can be fitted directly in it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from backflip_addon.core import rotations as rot
from backflip_addon.core.errors import VideoError

from .pose import KEY_LANDMARKS, MIRROR, Detections, Landmark as L

logger = logging.getLogger(__name__)

CAMERA_TO_SCENE = np.array([1.0, -1.0, -1.0])
L_HIP, R_HIP, L_SH, R_SH = L.LEFT_HIP, L.RIGHT_HIP, L.LEFT_SHOULDER, L.RIGHT_SHOULDER
_LIMBS = {
    "arms": (np.array([L.LEFT_ELBOW, L.LEFT_WRIST, L.LEFT_PINKY, L.LEFT_INDEX, L.LEFT_THUMB]),
             np.array([L.RIGHT_ELBOW, L.RIGHT_WRIST, L.RIGHT_PINKY, L.RIGHT_INDEX, L.RIGHT_THUMB])),
    "legs": (np.array([L.LEFT_KNEE, L.LEFT_ANKLE, L.LEFT_HEEL, L.LEFT_FOOT_INDEX]),
             np.array([L.RIGHT_KNEE, L.RIGHT_ANKLE, L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX])),
}


@dataclass(frozen=True)
class CleanConfig:
    """Outlier rejection, refill and smoothing of the landmark track."""

    turn_weight: float = 1.0
    """Viterbi cost per 45 degrees of torso turn between consecutive frames."""
    jump_weight: float = 1.0
    """Viterbi cost per torso length of mean 2D landmark jump between consecutive frames."""
    visibility_weight: float = 1.0
    """Viterbi cost per unit of missing limb-joint visibility."""
    swap_limbs: bool = True
    """Also resolve left/right swaps of the arms or legs alone."""
    outlier_deg: float = 50.0
    """A frame whose torso is further than this from the constant-spin prediction is rejected (degrees)."""
    min_found_fraction: float = 0.3
    """Fewer frames than this with a person is an error (fraction of the clip)."""
    smooth_s: float = 0.05
    """Standard deviation of the zero-phase Gaussian smoothing (seconds). Measured on the 4 bench
    views (mean PA-MPJPE all / inverted, mm): 0.02 50.1/69.7, 0.03 50.6/68.8, 0.04-0.06 50.2-50.5/67.7-67.9,
    0.08 51.1/69.7."""
    acrobatic_smooth_s: float = 0.03
    """... and where the body turns over (a flip, a roll, a cartwheel; see phase.py), in seconds: there
    the body turns up to 20 degrees a frame and 0.05 s rounds the turn off (see FitConfig.smooth_weight)."""
    refilled_visibility: float = 0.3
    """Visibility given to interpolated 2D points in refilled frames (0..1)."""
    max_dropped: int = 3
    """The candidate path may step over up to this many consecutive frames (then refilled) ..."""
    drop_cost: float = 1.0
    """... each at this cost (in the Viterbi's units: a 45 degree torso turn is 1). A frame where
    mediapipe reads the body half-turned (a cartwheel seen from the front: the torso a quarter turn
    off, left and right in between) costs about 2 to enter and 2 to leave in either reading, so the
    path used to pass through it and could leave it mirrored, for 20 frames (400 mm); stepping over
    it is cheaper. A good frame is not dropped: going round it saves less than this."""


@dataclass
class Track:
    """One clean landmark track (N frames)."""

    world: np.ndarray  # (N, 33, 3) metres, scene frame, origin between the hips
    image: np.ndarray  # (N, 33, 2) pixels
    visibility: np.ndarray  # (N, 33) 0..1
    torso: np.ndarray  # (N, 4) torso rotation in the scene frame (x forward, y up, z right)
    confidence: np.ndarray  # (N,) 0..1 (0 for refilled frames)
    refilled: np.ndarray  # (N,) bool
    rotation: np.ndarray  # (N,) degrees the chosen candidate's image was turned (-1 where refilled)
    found: np.ndarray  # (N,) bool, mediapipe found a person (before outlier rejection)


def torso_matrix(world: np.ndarray) -> np.ndarray:
    """Torso frames (..., 3, 3), columns = forward, up, right, from scene-frame landmarks (..., 33, 3)."""
    right = (world[..., R_HIP, :] - world[..., L_HIP, :]) + (world[..., R_SH, :] - world[..., L_SH, :])
    up = 0.5 * (world[..., L_SH, :] + world[..., R_SH, :] - world[..., L_HIP, :] - world[..., R_HIP, :])
    z = right / np.maximum(np.linalg.norm(right, axis=-1, keepdims=True), 1e-9)
    y = up - np.sum(up * z, axis=-1, keepdims=True) * z
    y /= np.maximum(np.linalg.norm(y, axis=-1, keepdims=True), 1e-9)
    x = np.cross(y, z)
    return np.stack([x, y, z], axis=-1)


def _torso_px(image: np.ndarray) -> np.ndarray:
    sh = 0.5 * (image[..., L_SH, :] + image[..., R_SH, :])
    hip = 0.5 * (image[..., L_HIP, :] + image[..., R_HIP, :])
    return np.maximum(np.linalg.norm(sh - hip, axis=-1), 1.0)


def _viterbi(unary: np.ndarray, pair) -> np.ndarray:
    """Best state path; unary (T, S) with inf for impossible states, pair(t) -> (S, S) cost t-1 -> t."""
    cost = unary[0].copy()
    back = np.zeros(unary.shape, dtype=np.int64)
    for t in range(1, len(unary)):
        total = cost[:, None] + pair(t)
        back[t] = np.argmin(total, axis=0)
        cost = total[back[t], np.arange(unary.shape[1])] + unary[t]
    path = np.zeros(len(unary), dtype=np.int64)
    path[-1] = int(np.argmin(cost))
    for t in range(len(unary) - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def viterbi_dropping(unary: np.ndarray, pair, max_dropped: int, drop_cost: float) -> np.ndarray:
    """Best state path (T,) where a frame may also be dropped (-1): unary (T, S) with inf for impossible
    states, pair(i, j) -> (S, S) cost of going from frame i straight to frame j > i, and `drop_cost`
    for each frame stepped over (at most `max_dropped` in a row, at the ends too)."""
    t_count, s_count = unary.shape
    cost = np.full((t_count, s_count), np.inf)
    back = np.full((t_count, s_count, 2), -1, dtype=np.int64)  # (previous kept frame, its state)
    for j in range(t_count):
        if j <= max_dropped:  # the path may start here, the frames before dropped
            cost[j] = unary[j] + drop_cost * j
        for i in range(max(0, j - max_dropped - 1), j):
            total = cost[i][:, None] + pair(i, j) + drop_cost * (j - i - 1)
            best = np.argmin(total, axis=0)
            value = total[best, np.arange(s_count)] + unary[j]
            better = value < cost[j]
            cost[j, better] = value[better]
            back[j, better] = np.stack([np.full(int(better.sum()), i), best[better]], 1)
    ends = [(cost[j].min() + drop_cost * (t_count - 1 - j), j) for j in range(max(0, t_count - 1 - max_dropped), t_count)]
    _, j = min(ends)
    path = -np.ones(t_count, dtype=np.int64)
    state = int(np.argmin(cost[j]))
    while j >= 0:
        path[j] = state
        j, state = (int(v) for v in back[j, state])
    return path


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return rot.angle_between(a, b)


def select_candidates(det: Detections, cfg: CleanConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: world (scene frame), image, visibility of the chosen reading, and the chosen slot (-1 = none
    found, -2 = dropped as a glitch: see CleanConfig.max_dropped)."""
    n, c = det.valid.shape
    world = det.world * CAMERA_TO_SCENE
    # State s < C: candidate s as read; s >= C: the same candidate with left and right exchanged.
    states_world = np.concatenate([world, world[:, :, MIRROR]], axis=1)
    states_image = np.concatenate([det.image, det.image[:, :, MIRROR]], axis=1)
    states_vis = np.concatenate([det.visibility, det.visibility[:, :, MIRROR]], axis=1)
    valid = np.concatenate([det.valid, det.valid], axis=1)
    quats = rot.from_matrix(torso_matrix(states_world))
    score = states_vis[..., KEY_LANDMARKS].mean(axis=-1)
    unary = np.where(valid, cfg.visibility_weight * (1.0 - score), np.inf)
    unary[:, c:] += 0.05  # prefer mediapipe's own reading on a tie
    frames = np.nonzero(valid.any(axis=1))[0]
    if len(frames) == 0:
        raise VideoError("no person was found in any frame", "use a video where one person is fully in view")
    key_image = states_image[:, :, KEY_LANDMARKS]

    def pair(i: int, j: int) -> np.ndarray:
        # The change per video frame (frames without a person are stepped over for free), once per
        # detection stepped over: a path through the dropped detections would have paid about that.
        a, b = frames[i], frames[j]
        turn = _angle(quats[a][:, None], quats[b][None, :]) / (np.pi / 4)
        scale = np.median(_torso_px(states_image[b][valid[b]]))
        jump = np.linalg.norm(key_image[a][:, None] - key_image[b][None, :], axis=-1).mean(-1) / scale
        return (cfg.turn_weight * turn + cfg.jump_weight * jump) * (j - i) / (b - a)

    path = viterbi_dropping(unary[frames], pair, cfg.max_dropped, cfg.drop_cost)
    chosen = -np.ones(n, dtype=np.int64)
    chosen[frames] = np.where(path >= 0, path, -2)
    kept = frames[path >= 0]
    path = path[path >= 0]
    sel_world = np.zeros((n, 33, 3))
    sel_image = np.zeros((n, 33, 2))
    sel_vis = np.zeros((n, 33))
    sel_world[kept] = states_world[kept, path]
    sel_image[kept] = states_image[kept, path]
    sel_vis[kept] = states_vis[kept, path]
    return sel_world, sel_image, sel_vis, chosen


def resolve_limb_swaps(world: np.ndarray, image: np.ndarray, vis: np.ndarray, found: np.ndarray) -> int:
    """Exchange left/right arms or legs in place where that reads more continuously; returns how many."""
    frames = np.nonzero(found)[0]
    if len(frames) < 3:
        return 0
    local = np.einsum("nji,nkj->nki", torso_matrix(world), world)  # torso-local (R^T x)
    scale = _torso_px(image)
    swaps = 0
    for left, right in _LIMBS.values():
        both = np.concatenate([left, right])
        flipped = np.concatenate([right, left])
        loc = np.stack([local[:, both], local[:, flipped]], axis=1)  # (N, 2, K, 3)
        img = np.stack([image[:, both], image[:, flipped]], axis=1)

        def pair(i: int) -> np.ndarray:
            a, b = frames[i - 1], frames[i]
            d3 = np.linalg.norm(loc[a][:, None] - loc[b][None, :], axis=-1).mean(-1) / 0.5
            d2 = np.linalg.norm(img[a][:, None] - img[b][None, :], axis=-1).mean(-1) / scale[b]
            return d3 + d2

        unary = np.tile([0.0, 0.15], (len(frames), 1))
        path = _viterbi(unary, pair)
        for t in frames[path == 1]:
            for arr in (world, image, vis):
                arr[t, both] = arr[t, flipped]
            swaps += 1
    return swaps


def reject_spin_outliers(quats: np.ndarray, keep: np.ndarray, max_deg: float, max_gap: int = 4) -> np.ndarray:
    """Drop frames, worst first, whose torso is far from the slerp of their nearest kept neighbours."""
    keep = keep.copy()
    limit = np.radians(max_deg)
    while True:
        idx = np.nonzero(keep)[0]
        if len(idx) < 3:
            return keep
        prev, cur, nxt = idx[:-2], idx[1:-1], idx[2:]
        ok = (cur - prev <= max_gap) & (nxt - cur <= max_gap)
        alpha = (cur - prev) / (nxt - prev)
        pred = rot.slerp(quats[prev], quats[nxt], alpha)
        err = np.where(ok, _angle(pred, quats[cur]), 0.0)
        worst = int(np.argmax(err))
        if err[worst] <= limit:
            return keep
        keep[cur[worst]] = False


def _interpolate_gaps(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Linear interpolation over time of (N, ...) values where keep is False; ends hold."""
    idx = np.nonzero(keep)[0]
    t = np.arange(len(values))
    flat = values.reshape(len(values), -1)
    out = np.stack([np.interp(t, idx, flat[idx, j]) for j in range(flat.shape[1])], axis=1)
    return out.reshape(values.shape)


def _slerp_gaps(quats: np.ndarray, keep: np.ndarray) -> np.ndarray:
    idx = np.nonzero(keep)[0]
    out = quats.copy()
    for t in np.nonzero(~keep)[0]:
        after = idx[idx > t]
        before = idx[idx < t]
        if len(before) == 0:
            out[t] = quats[after[0]]
        elif len(after) == 0:
            out[t] = quats[before[-1]]
        else:
            a, b = before[-1], after[0]
            out[t] = rot.slerp(quats[a], quats[b], (t - a) / (b - a))
    return out


def gaussian_smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing along axis 0 with edge reflection; sigma in frames."""
    if sigma <= 0 or len(values) < 2:
        return values.copy()
    radius = max(1, int(np.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    pad = np.pad(values, [(radius, radius)] + [(0, 0)] * (values.ndim - 1), mode="reflect" if len(values) > radius else "edge")
    out = np.zeros_like(values, dtype=np.float64)
    for i, w in enumerate(k):
        out += w * pad[i : i + len(values)]
    return out


def smooth_rotations(quats: np.ndarray, sigma: float) -> np.ndarray:
    """Zero-phase smoothing of a continuous quaternion track (chordal mean in a sliding window)."""
    q = rot.make_continuous(quats)
    return rot.normalize(gaussian_smooth(q, sigma))


def _smooth_track(quats: np.ndarray, local: np.ndarray, fps: float, cfg: CleanConfig) -> tuple[np.ndarray, np.ndarray]:
    """Torso rotations and torso-local landmarks smoothed over smooth_s, or over acrobatic_smooth_s where
    the body turns over (blended by phase.py's acrobatic weight): a flip turns 20 degrees a frame."""
    from .phase import detect_phases  # phase.py builds on this module's smoothing

    slow = smooth_rotations(quats, cfg.smooth_s * fps), gaussian_smooth(local, cfg.smooth_s * fps)
    if cfg.acrobatic_smooth_s == cfg.smooth_s:
        return slow
    fast = smooth_rotations(quats, cfg.acrobatic_smooth_s * fps), gaussian_smooth(local, cfg.acrobatic_smooth_s * fps)
    w = detect_phases(slow[0], fps).acrobatic[:, None]
    same_sign = slow[0] * np.sign(np.sum(fast[0] * slow[0], axis=-1, keepdims=True))  # q and -q are one rotation
    blended = rot.normalize(w * fast[0] + (1.0 - w) * same_sign)
    return blended, w[..., None] * fast[1] + (1.0 - w[..., None]) * slow[1]


def clean(det: Detections, fps: float, cfg: CleanConfig = CleanConfig()) -> Track:
    """Select, de-swap, reject, refill and smooth; raises VideoError when too few frames hold a person."""
    n = det.num_frames
    world, image, vis, chosen = select_candidates(det, cfg)
    found = chosen >= 0  # found and not dropped as a glitch
    if found.sum() < max(2, cfg.min_found_fraction * n):
        raise VideoError(
            f"a person was found in only {int(found.sum())} of {n} frames",
            "trim the video to the flip (--start/--end) and make sure the whole body is in view",
        )
    swaps = resolve_limb_swaps(world, image, vis, found) if cfg.swap_limbs else 0
    mats = torso_matrix(world)
    quats = rot.make_continuous(np.where(found[:, None], rot.from_matrix(mats), rot.IDENTITY))
    keep = reject_spin_outliers(quats, found, cfg.outlier_deg)
    local = np.einsum("nji,nkj->nki", mats, world)
    quats = rot.make_continuous(_slerp_gaps(quats, keep))
    local = _interpolate_gaps(local, keep)
    image = _interpolate_gaps(image, keep)
    vis = np.where(keep[:, None], vis, cfg.refilled_visibility * _interpolate_gaps(vis, keep))
    quats, local = _smooth_track(quats, local, fps, cfg)
    world = np.einsum("nij,nkj->nki", rot.to_matrix(quats), local)
    confidence = np.where(keep, vis[:, KEY_LANDMARKS].mean(axis=1), 0.0)
    rotation = np.where(keep, det.rotation[np.arange(n), np.where(chosen >= 0, chosen % det.valid.shape[1], 0)], -1)
    logger.info("clean: %d found, %d dropped as glitches, %d limb swaps fixed, %d spin outliers, %d frames refilled",
                int((chosen != -1).sum()), int((chosen == -2).sum()), swaps, int((found & ~keep).sum()), int((~keep).sum()))
    return Track(world, image, vis, quats, confidence, ~keep, rotation, det.valid.any(axis=1))
