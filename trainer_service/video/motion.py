"""How the camera turned during the clip (a pan, a hand-held wobble), read from the background.

Small grey copies of the frames are kept while they are decoded (57 KB a frame at 320 x 180);
once the person is found, corners outside the person's box (grown by a margin) are tracked from
frame to frame (Lucas-Kanade) and a homography fitted by RANSAC. A camera that turns without moving maps one frame onto the next by H = K R K^-1, so
with the focal length known R = K^-1 H K, brought to the nearest rotation. A hand-held camera
also moves by centimetres: at a few metres from the scene that reads as a small extra turn.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# OpenCV's camera axes (x right, y down, z forward) to the scene frame's (x right, y up, z back).
_FLIP = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class MotionConfig:
    """Camera motion from the background."""

    enabled: bool = True
    """Track the background; off, the camera is taken as still."""
    width: int = 320
    """Frames are tracked at this width (pixels)."""
    corners: int = 300
    """Corners tracked per frame."""
    still_px: float = 0.5
    """Corners that move less than this (pixels at `width`) are still ..."""
    still_fraction: float = 0.4
    """... and when this fraction of the corners outside the person is still, so is the camera: a
    person badly boxed (upside down, filmed from the front) leaks moving corners into the background,
    and RANSAC then followed the person (a still front view read as a 20 degree turn)."""
    min_corners: int = 20
    """Fewer background corners than this followed: the turn is not read (taken as none)."""
    person_margin: float = 0.15
    """The person's box is grown by this fraction of its size on each side before it is masked out."""


class MotionTracker:
    """Feed frames in order with `add`; `rotations(...)` gives each camera's turn from the first."""

    def __init__(self, cfg: MotionConfig = MotionConfig()) -> None:
        self.cfg = cfg
        self.greys: list[np.ndarray] = []
        self.scale = 1.0

    def add(self, rgb: np.ndarray) -> None:
        import cv2

        h, w = rgb.shape[:2]
        self.scale = self.cfg.width / w
        small = cv2.resize(rgb, (self.cfg.width, max(1, round(h * self.scale))), interpolation=cv2.INTER_AREA)
        self.greys.append(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))

    def rotations(self, hfov_deg: float, image: np.ndarray, visibility: np.ndarray) -> np.ndarray:
        """(N, 3, 3) scene-frame rotations R_i with p_i = R_i p_0 (a point fixed in the world, seen by camera i),
        the person (2D landmarks (N, 33, 2) in the frames' pixels, with their visibility) masked out."""
        if len(self.greys) < 2:
            return np.eye(3)[None].repeat(len(self.greys), 0)
        homographies = []
        for i in range(1, len(self.greys)):
            mask = background_mask(self.greys[i - 1].shape, image[i - 1] * self.scale, visibility[i - 1],
                                   self.cfg.person_margin)
            homographies.append(frame_homography(self.greys[i - 1], self.greys[i], mask, self.cfg))
        size = (self.greys[0].shape[1], self.greys[0].shape[0])
        return chain_rotations(homographies, size, hfov_deg)


def background_mask(shape: tuple[int, int], points: np.ndarray, visibility: np.ndarray, margin: float) -> np.ndarray:
    """uint8 mask (H, W): 255 outside the box round the person's landmarks (N, 2) grown by `margin`."""
    mask = np.full(shape, 255, dtype=np.uint8)
    seen = points[visibility > 0.3]
    if len(seen) < 5:  # the landmarks are still placed (refilled or guessed): a box round them is better than none
        seen = points[np.isfinite(points).all(axis=1)]
    if len(seen) == 0:
        return mask
    lo, hi = seen.min(0), seen.max(0)
    grow = margin * (hi - lo) + 4.0
    x0, y0 = np.floor(lo - grow).astype(int)
    x1, y1 = np.ceil(hi + grow).astype(int)
    mask[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = 0
    return mask


def frame_homography(a: np.ndarray, b: np.ndarray, mask: np.ndarray, cfg: MotionConfig) -> np.ndarray:
    """Homography (3, 3) taking pixels of grey frame `a` to grey frame `b`, from corners where `mask` is set;
    identity when too few corners follow or the background did not move."""
    import cv2

    pts = cv2.goodFeaturesToTrack(a, cfg.corners, 0.01, 8, mask=mask)
    if pts is None or len(pts) < cfg.min_corners:
        return np.eye(3)
    moved, status, _ = cv2.calcOpticalFlowPyrLK(a, b, pts, None, winSize=(21, 21), maxLevel=3)
    ok = status[:, 0] == 1
    if ok.sum() < cfg.min_corners:
        return np.eye(3)
    src, dst = pts[ok, 0], moved[ok, 0]
    if np.mean(np.linalg.norm(dst - src, axis=1) < cfg.still_px) >= cfg.still_fraction:
        return np.eye(3)
    homography, _ = cv2.findHomography(src, dst, cv2.RANSAC, 1.0)
    return np.eye(3) if homography is None else homography


def rotation_of(homography: np.ndarray, focal: float, centre: tuple[float, float]) -> np.ndarray:
    """Nearest rotation (3, 3, OpenCV axes) to K^-1 H K for a pinhole of `focal` pixels at `centre`."""
    k = np.array([[focal, 0.0, centre[0]], [0.0, focal, centre[1]], [0.0, 0.0, 1.0]])
    m = np.linalg.inv(k) @ homography @ k
    u, _, vt = np.linalg.svd(m)
    r = u @ vt
    return r if np.linalg.det(r) > 0 else -r


def chain_rotations(homographies: list[np.ndarray], size: tuple[int, int], hfov_deg: float) -> np.ndarray:
    """(N, 3, 3) scene-frame turns of each camera from the first, from the N - 1 frame-to-frame homographies."""
    focal = 0.5 * size[0] / math.tan(math.radians(hfov_deg) / 2.0)
    centre = (size[0] / 2.0, size[1] / 2.0)
    out = [np.eye(3)]
    for h in homographies:
        step = _FLIP @ rotation_of(h, focal, centre) @ _FLIP
        out.append(step @ out[-1])
    return np.stack(out)
