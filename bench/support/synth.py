"""Closed-loop test footage: an `anny` human skinned to a humanoid3d clip, rasterised in numpy.

The anny mesh (Apache-2.0, MakeHuman based, shipped in its wheel) is re-proportioned onto the
humanoid3d skeleton: each humanoid body gets a rest map (anchor + rotation + stretch along the
bone) taking the anny bone segment onto the humanoid one, and anny's skinning weights, summed
per humanoid body, blend the posed maps. So the rendered person's joints sit exactly where the
humanoid's forward kinematics put them, and the source clip is the ground truth.

Only the bench and the sample-video script use this module (so it lives beside them, outside the shipped
trainer); `anny` is the `bench` extra.
"""
from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backflip_addon.core import rotations as rot
from backflip_addon.core.clip import MotionClip
from backflip_addon.core.files import replacing, write_atomic
from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.kinematics import forward_kinematics
from backflip_addon.core.posing import identity_row
from backflip_addon.core.skeleton import humanoid3d

logger = logging.getLogger(__name__)

CACHE_VERSION = 1
# anny: x = the body's left, y = back, z = up. humanoid3d: x = forward, y = up, z = right.
_ANNY_TO_HUMANOID = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, 1.0], [-1.0, 0.0, 0.0]])

# Which humanoid body each anny bone follows (first matching prefix wins).
_BONE_PREFIXES = (
    ("upperleg", "hip"), ("lowerleg", "knee"), ("foot", "ankle"), ("toe", "ankle"),
    ("upperarm", "shoulder"), ("lowerarm", "elbow"), ("wrist", "wrist"), ("finger", "wrist"),
    ("metacarpal", "wrist"), ("neck", "neck"), ("head", "neck"), ("eye", "neck"),
    ("spine03", "chest"), ("spine02", "chest"), ("spine01", "chest"), ("clavicle", "chest"),
    ("shoulder01", "chest"), ("spine", "root"), ("pelvis", "root"), ("root", "root"),
)
# Clothing: albedo (RGB 0..1) per humanoid body.
_SKIN = (0.80, 0.60, 0.48)
_SHIRT = (0.75, 0.22, 0.18)
_TROUSERS = (0.16, 0.22, 0.40)
_SHOES = (0.12, 0.12, 0.12)
_ALBEDO = {
    "root": _TROUSERS, "chest": _SHIRT, "neck": _SKIN, "right_hip": _TROUSERS, "right_knee": _TROUSERS,
    "right_ankle": _SHOES, "right_shoulder": _SHIRT, "right_elbow": _SKIN, "right_wrist": _SKIN,
    "left_hip": _TROUSERS, "left_knee": _TROUSERS, "left_ankle": _SHOES, "left_shoulder": _SHIRT,
    "left_elbow": _SKIN, "left_wrist": _SKIN,
}


@dataclass(frozen=True)
class SkinnedBody:
    """A mesh bound to humanoid3d: vertex = sum_b weights[v, b] * (P_b + Q_b local[v, b])."""

    local: np.ndarray  # (V, B, 3) float32, vertex in body b's rest frame (metres)
    weights: np.ndarray  # (V, B) float32, rows sum to 1
    faces: np.ndarray  # (F, 3) int32, counter-clockwise seen from outside
    albedo: np.ndarray  # (V, 3) float32


def _minimal_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation matrix taking direction a onto direction b by the shortest arc."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    axis = np.cross(a, b)
    s = np.linalg.norm(axis)
    if s < 1e-9:
        return np.eye(3)
    angle = math.atan2(s, float(a @ b))
    return rot.to_matrix(rot.from_axis_angle(axis / s, angle))


def _stretch(direction: np.ndarray, along: float, lateral_axis: np.ndarray | None = None, lateral: float = 1.0) -> np.ndarray:
    d = direction / np.linalg.norm(direction)
    m = np.eye(3) + (along - 1.0) * np.outer(d, d)
    if lateral_axis is not None:
        u = lateral_axis - d * (lateral_axis @ d)
        u /= np.linalg.norm(u)
        m = m + (lateral - 1.0) * np.outer(u, u)
    return m


def build_body() -> SkinnedBody:
    """Bind the default anny body to humanoid3d (needs the `anny` package; first use builds its cache)."""
    import anny  # the bench extra: imported late so the trainer never needs it
    import torch

    with torch.no_grad():
        model = anny.Anny()
        out = model()
    verts = out["rest_vertices"][0].double().numpy() @ _ANNY_TO_HUMANOID.T
    heads = out["rest_bone_heads"][0].double().numpy() @ _ANNY_TO_HUMANOID.T
    labels = list(model.bone_labels)
    head = {name: heads[labels.index(name)] for name in labels}
    faces = model.get_triangular_faces().numpy().astype(np.int32)

    skel = humanoid3d()
    rest_pos, _ = forward_kinematics(identity_row()[None])
    joint = {name: rest_pos[0, i] for i, name in enumerate(skel.names)}

    anchors: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # body -> (anny anchor A, linear map L)
    hip_mid = 0.5 * (head["upperleg01.L"] + head["upperleg01.R"])
    shoulder_mid = 0.5 * (head["upperarm01.L"] + head["upperarm01.R"])
    lateral = np.array([0.0, 0.0, 1.0])
    hum_shoulder_mid = 0.5 * (joint["left_shoulder"] + joint["right_shoulder"])

    def segment(a0, a1, h0, h1, lat_axis=None, lat=1.0):
        r = _minimal_rotation(a1 - a0, h1 - h0)
        s = _stretch(a1 - a0, np.linalg.norm(h1 - h0) / np.linalg.norm(a1 - a0), lat_axis, lat)
        return r @ s

    hip_ratio = np.linalg.norm(joint["left_hip"] - joint["right_hip"]) / np.linalg.norm(head["upperleg01.L"] - head["upperleg01.R"])
    anchors["root"] = (hip_mid, segment(hip_mid, head["spine02"], joint["root"], joint["chest"], lateral, hip_ratio))
    sh_ratio = np.linalg.norm(joint["left_shoulder"] - joint["right_shoulder"]) / np.linalg.norm(head["upperarm01.L"] - head["upperarm01.R"])
    chest_map = segment(head["spine02"], shoulder_mid, joint["chest"], hum_shoulder_mid, lateral, sh_ratio)
    anchors["chest"] = (head["spine02"], chest_map)
    # The neck follows the chest's map at rest, so the head keeps anny's proportions.
    anchors["neck"] = (head["spine02"] + np.linalg.solve(chest_map, joint["neck"] - joint["chest"]), chest_map)
    for side, s in (("left", "L"), ("right", "R")):
        anchors[f"{side}_hip"] = (head[f"upperleg01.{s}"], segment(head[f"upperleg01.{s}"], head[f"lowerleg01.{s}"], joint[f"{side}_hip"], joint[f"{side}_knee"]))
        shin = segment(head[f"lowerleg01.{s}"], head[f"foot.{s}"], joint[f"{side}_knee"], joint[f"{side}_ankle"])
        anchors[f"{side}_knee"] = (head[f"lowerleg01.{s}"], shin)
        anchors[f"{side}_ankle"] = (head[f"foot.{s}"], _minimal_rotation(head[f"foot.{s}"] - head[f"lowerleg01.{s}"], joint[f"{side}_ankle"] - joint[f"{side}_knee"]))
        anchors[f"{side}_shoulder"] = (head[f"upperarm01.{s}"], segment(head[f"upperarm01.{s}"], head[f"lowerarm01.{s}"], joint[f"{side}_shoulder"], joint[f"{side}_elbow"]))
        forearm = segment(head[f"lowerarm01.{s}"], head[f"wrist.{s}"], joint[f"{side}_elbow"], joint[f"{side}_wrist"])
        anchors[f"{side}_elbow"] = (head[f"lowerarm01.{s}"], forearm)
        anchors[f"{side}_wrist"] = (head[f"wrist.{s}"], forearm)

    body_index = {name: i for i, name in enumerate(skel.names)}
    bone_to_body = np.zeros(len(labels), dtype=np.int64)
    for i, label in enumerate(labels):
        stem, _, side = label.partition(".")
        side_name = {"L": "left_", "R": "right_"}.get(side, "")
        part = next(p for prefix, p in _BONE_PREFIXES if stem.startswith(prefix))
        bone_to_body[i] = body_index[part if part in ("root", "chest", "neck") else side_name + part]

    count = len(skel.bodies)
    weights = np.zeros((len(verts), count))
    bone_w = model.vertex_bone_weights.double().numpy()
    bone_i = model.vertex_bone_indices.numpy()
    np.add.at(weights, (np.repeat(np.arange(len(verts)), bone_w.shape[1]), bone_to_body[bone_i].ravel()), bone_w.ravel())
    weights /= weights.sum(axis=1, keepdims=True)
    local = np.zeros((len(verts), count, 3))
    for name, (a, linear) in anchors.items():
        b = body_index[name]
        local[:, b] = (verts - a) @ linear.T
    albedo = weights @ np.array([_ALBEDO[n] for n in skel.names])
    return SkinnedBody(local.astype(np.float32), weights.astype(np.float32), faces, albedo.astype(np.float32))


def load_body(cache: str | Path) -> SkinnedBody:
    """The bound body, from `cache` (.npz) or built with anny and then cached there."""
    cache = Path(cache)
    if cache.exists():
        with np.load(cache) as data:
            if int(data["version"]) == CACHE_VERSION:
                return SkinnedBody(data["local"], data["weights"], data["faces"], data["albedo"])
    body = build_body()
    buffer = io.BytesIO()
    np.savez(buffer, version=CACHE_VERSION, local=body.local, weights=body.weights, faces=body.faces, albedo=body.albedo)
    write_atomic(cache, buffer.getvalue())
    return body


def pose_vertices(body: SkinnedBody, frame: np.ndarray) -> np.ndarray:
    """World vertices (V, 3) for one DeepMimic row (Y up, metres)."""
    pos, quat = forward_kinematics(frame[None])
    mats = rot.to_matrix(quat[0]).astype(np.float32)  # (B, 3, 3)
    posed = np.einsum("bij,vbj->vbi", mats, body.local) + pos[0].astype(np.float32)[None]
    return np.einsum("vb,vbi->vi", body.weights, posed)


# --- camera and rasteriser ---------------------------------------------------------------------
@dataclass(frozen=True)
class Camera:
    """Pinhole camera, OpenCV convention (x right, y down, z forward) in a Y-up world."""

    position: tuple[float, float, float]
    target: tuple[float, float, float]
    hfov_deg: float
    width: int
    height: int

    @property
    def focal_px(self) -> float:
        return 0.5 * self.width / math.tan(math.radians(self.hfov_deg) / 2.0)

    def world_to_camera(self) -> np.ndarray:
        """Rotation (3, 3) whose rows are the camera axes in world coordinates."""
        forward = np.subtract(self.target, self.position)
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, [0.0, 1.0, 0.0])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        return np.stack([right, down, forward])

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (..., 2) and depth (...) of world points (..., 3)."""
        cam = (np.asarray(points) - np.asarray(self.position)) @ self.world_to_camera().T
        f = self.focal_px
        uv = np.stack([f * cam[..., 0] / cam[..., 2] + self.width / 2.0, f * cam[..., 1] / cam[..., 2] + self.height / 2.0], -1)
        return uv, cam[..., 2]


def orbit_camera(angle_deg: float, width: int, height: int, distance: float = 5.0, hfov_deg: float = 50.0,
                 target: tuple[float, float, float] = (-0.5, 1.0, 0.0), elevation_deg: float = 0.0) -> Camera:
    """Camera looking at the target from `elevation_deg` above it (0 = level); angle 0 looks along -z
    (a side view of a flip about z), 90 along -x (the front of a humanoid facing +x)."""
    a, e = math.radians(angle_deg), math.radians(elevation_deg)
    flat = distance * math.cos(e)
    position = (target[0] + flat * math.sin(a), target[1] + distance * math.sin(e), target[2] + flat * math.cos(a))
    return Camera(position, target, hfov_deg, width, height)


def moving_cameras(base: Camera, count: int, pan_deg: float = 0.0, shake_deg: float = 0.0, shake_m: float = 0.0,
                   seed: int = 0) -> list[Camera]:
    """One camera per frame: `base` turned about the vertical through its position by a linear pan of
    `pan_deg` over the clip, plus a hand-held wobble (smooth noise of `shake_deg` in aim, `shake_m` in position)."""
    rng = np.random.default_rng(seed)

    def wobble(scale: float, dims: int) -> np.ndarray:
        # Noise smoothed over ~4 frames: a hand shakes at a few hertz, not frame to frame.
        raw = rng.normal(size=(count + 16, dims))
        kernel = np.exp(-0.5 * (np.arange(-8, 9) / 3.0) ** 2)
        smooth = np.stack([np.convolve(raw[:, k], kernel / kernel.sum(), "same") for k in range(dims)], 1)[8:-8]
        return scale * smooth / max(float(smooth.std()), 1e-9)

    aim = wobble(math.radians(shake_deg), 2) if shake_deg else np.zeros((count, 2))
    move = wobble(shake_m, 3) if shake_m else np.zeros((count, 3))
    pan = np.radians(np.linspace(-0.5, 0.5, count) * pan_deg)
    forward = np.subtract(base.target, base.position)
    out = []
    for i in range(count):
        yaw, pitch = pan[i] + aim[i, 0], aim[i, 1]
        c, s = math.cos(yaw), math.sin(yaw)
        f = np.array([c * forward[0] + s * forward[2], forward[1], -s * forward[0] + c * forward[2]])
        f[1] += math.tan(pitch) * math.hypot(f[0], f[2])
        position = np.asarray(base.position) + move[i]
        out.append(Camera(tuple(position), tuple(position + f), base.hfov_deg, base.width, base.height))
    return out


def _background(cam: Camera, floor_y: float) -> np.ndarray:
    """Wall and tiled floor (H, W, 3) float RGB."""
    r = cam.world_to_camera()
    f = cam.focal_px
    u, v = np.meshgrid(np.arange(cam.width) + 0.5, np.arange(cam.height) + 0.5)
    rays = np.stack([(u - cam.width / 2) / f, (v - cam.height / 2) / f, np.ones_like(u)], -1) @ r
    t = (floor_y - cam.position[1]) / np.where(rays[..., 1] < -1e-6, rays[..., 1], -1e-6)
    hit = np.asarray(cam.position) + t[..., None] * rays
    floor = rays[..., 1] < -1e-3
    tiles = ((np.floor(hit[..., 0] / 0.5) + np.floor(hit[..., 2] / 0.5)) % 2)[..., None]
    floor_rgb = np.array([0.55, 0.50, 0.42]) + 0.06 * tiles
    wall_rgb = np.array([0.78, 0.80, 0.82]) - 0.10 * (v / cam.height)[..., None]
    return np.where(floor[..., None], floor_rgb, wall_rgb)


def rasterize(cam: Camera, verts: np.ndarray, body: SkinnedBody, image: np.ndarray) -> np.ndarray:
    """Draw the posed mesh over `image` (H, W, 3) with a z-buffer and Lambert shading."""
    uv, depth = cam.project(verts)
    tri = body.faces
    normals = _vertex_normals(verts, tri)
    light = np.array([0.3, 0.8, 0.5]) / np.linalg.norm([0.3, 0.8, 0.5])
    to_cam = np.asarray(cam.position) - verts
    to_cam /= np.linalg.norm(to_cam, axis=1, keepdims=True)
    facing = np.sign(np.sum(normals * to_cam, axis=1, keepdims=True))
    shade = 0.35 + 0.65 * np.clip(np.sum(normals * facing * light, axis=1, keepdims=True), 0.0, 1.0)
    color = body.albedo * shade

    p = uv[tri]  # (F, 3, 2)
    z = depth[tri]
    area = (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 2, 0] - p[:, 0, 0]) * (p[:, 1, 1] - p[:, 0, 1])
    lo = np.floor(p.min(axis=1)).astype(np.int64)
    hi = np.ceil(p.max(axis=1)).astype(np.int64)
    h, w = image.shape[:2]
    keep = (np.abs(area) > 1e-9) & (z.min(axis=1) > 0.05) & (hi[:, 0] >= 0) & (hi[:, 1] >= 0) & (lo[:, 0] < w) & (lo[:, 1] < h)
    size = (hi - lo).max(axis=1)
    pix_all, z_all, c_all = [], [], []
    k = 1
    while True:
        sel = np.nonzero(keep & (size <= k) & (size > k // 2 if k > 1 else True))[0]
        if len(sel):
            pix, zz, cc = _fragments(p[sel], z[sel], area[sel], lo[sel], k, tri[sel], color, w, h)
            pix_all.append(pix), z_all.append(zz), c_all.append(cc)
        if k >= size[keep].max(initial=1):
            break
        k *= 2
    if not pix_all:
        return image
    pix = np.concatenate(pix_all)
    zz = np.concatenate(z_all)
    cc = np.concatenate(c_all)
    order = np.lexsort((zz, pix))
    pix, cc = pix[order], cc[order]
    first = np.ones(len(pix), dtype=bool)
    first[1:] = pix[1:] != pix[:-1]
    out = image.reshape(-1, 3).copy()
    out[pix[first]] = cc[first]
    return out.reshape(image.shape)


def _vertex_normals(verts: np.ndarray, tri: np.ndarray) -> np.ndarray:
    fn = np.cross(verts[tri[:, 1]] - verts[tri[:, 0]], verts[tri[:, 2]] - verts[tri[:, 0]])
    normals = np.zeros_like(verts)
    for corner in range(3):
        for axis in range(3):
            normals[:, axis] += np.bincount(tri[:, corner], weights=fn[:, axis], minlength=len(verts))
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def _fragments(p, z, area, lo, k, tri, color, w, h):
    oy, ox = np.meshgrid(np.arange(k + 1), np.arange(k + 1), indexing="ij")
    px = lo[:, 0, None] + ox.ravel()[None]
    py = lo[:, 1, None] + oy.ravel()[None]
    cx, cy = px + 0.5, py + 0.5

    def edge(a, b):
        return (p[:, b, 0, None] - p[:, a, 0, None]) * (cy - p[:, a, 1, None]) - (p[:, b, 1, None] - p[:, a, 1, None]) * (cx - p[:, a, 0, None])

    inv = 1.0 / area[:, None]
    w0 = edge(1, 2) * inv
    w1 = edge(2, 0) * inv
    w2 = edge(0, 1) * inv
    inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0) & (px >= 0) & (py >= 0) & (px < w) & (py < h)
    f, j = np.nonzero(inside)
    b0, b1, b2 = w0[f, j], w1[f, j], w2[f, j]
    zz = b0 * z[f, 0] + b1 * z[f, 1] + b2 * z[f, 2]
    cc = b0[:, None] * color[tri[f, 0]] + b1[:, None] * color[tri[f, 1]] + b2[:, None] * color[tri[f, 2]]
    return py[f, j] * w + px[f, j], zz, cc


def render_frames(body: SkinnedBody, cam: Camera, poses: list[np.ndarray], supersample: int = 2) -> np.ndarray:
    """One uint8 BGR frame (H, W, 3); several poses are averaged (motion blur over the shutter)."""
    big = Camera(cam.position, cam.target, cam.hfov_deg, cam.width * supersample, cam.height * supersample)
    verts = [pose_vertices(body, p) for p in poses]
    floor_y = 0.0
    background = _background(big, floor_y)
    acc = np.zeros_like(background)
    for v in verts:
        acc += rasterize(big, v, body, background)
    img = acc / len(verts)
    img = img.reshape(cam.height, supersample, cam.width, supersample, 3).mean(axis=(1, 3))
    return np.clip(img[..., ::-1] * 255.0 + 0.5, 0, 255).astype(np.uint8)


def flip_timeline(clip: MotionClip, fps: float, hold_start: float, hold_end: float) -> np.ndarray:
    """Clip times (s) of each video frame: the first pose held, the clip once, the last pose held."""
    if fps <= 0:
        raise InvalidInputError(f"frame rate must be positive, got {fps}", "pass e.g. 30")
    count = int(round((hold_start + clip.duration + hold_end) * fps)) + 1
    return np.clip(np.arange(count) / fps - hold_start, 0.0, clip.duration)


def frame_count(clip: MotionClip, fps: float, hold_start: float = 0.4, hold_end: float = 0.35) -> int:
    """Frames `render_video` writes for the clip (with its default holds)."""
    return len(flip_timeline(clip, fps, hold_start, hold_end))


def sample_poses(clip: MotionClip, times: np.ndarray) -> np.ndarray:
    """Poses (N, 44) at clip times, the clip played once (no wrap)."""
    once = MotionClip(clip.frames, loop="none", extras=clip.extras, name=clip.name)
    return once.sample(times)


def render_video(body: SkinnedBody, clip: MotionClip, cam: Camera | list[Camera], path: str | Path, fps: float = 30.0,
                 hold_start: float = 0.4, hold_end: float = 0.35, blur_samples: int = 1,
                 supersample: int = 2, progress=None) -> np.ndarray:
    """Render the clip to an mp4 (written atomically); returns the ground-truth poses (N, 44).

    blur_samples > 1 averages that many poses spread over a 1/fps shutter. `cam` is one camera or one
    per frame (see `moving_cameras`; `frame_count` says how many).
    """
    import cv2

    times = flip_timeline(clip, fps, hold_start, hold_end)
    truth = sample_poses(clip, times)
    cams = cam if isinstance(cam, list) else [cam] * len(times)
    if len(cams) != len(times):
        raise InvalidInputError(f"{len(cams)} cameras for {len(times)} frames", "pass one camera per frame (frame_count)")
    with replacing(path, Path(path).suffix) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (cams[0].width, cams[0].height))
        try:
            for i, t in enumerate(times):
                offsets = (np.arange(blur_samples) + 0.5) / blur_samples - 0.5 if blur_samples > 1 else np.zeros(1)
                sub = sample_poses(clip, np.clip(t + offsets / fps, 0.0, clip.duration)) if blur_samples > 1 else truth[i : i + 1]
                writer.write(render_frames(body, cams[i], list(sub), supersample))
                if progress is not None:
                    progress(i + 1, len(times))
        finally:
            writer.release()
    return truth
