"""Per-frame mediapipe pose (static-image mode), with 90/180/270 degree retries for hard frames.

Static mode runs the person detector on every frame, so one bad frame cannot drag the next ones
(the tracker mode drifts through a flip, measured 88-142 mm). Frames where nothing is found, or
where the key landmarks are barely visible, are retried on rotated copies of the image; every
detection is kept as a candidate and `clean.py` picks the one that fits its neighbours.
"""
from __future__ import annotations

import enum
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .read import downscale

logger = logging.getLogger(__name__)

NUM_LANDMARKS = 33


class Landmark(enum.IntEnum):
    """mediapipe Pose's landmark indices, by mediapipe's own names (`mp.solutions.pose.PoseLandmark`)."""

    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


L = Landmark
# The 12 limb joints (shoulders, elbows, wrists, hips, knees, ankles).
KEY_LANDMARKS = np.array([L.LEFT_SHOULDER, L.RIGHT_SHOULDER, L.LEFT_ELBOW, L.RIGHT_ELBOW, L.LEFT_WRIST, L.RIGHT_WRIST,
                          L.LEFT_HIP, L.RIGHT_HIP, L.LEFT_KNEE, L.RIGHT_KNEE, L.LEFT_ANKLE, L.RIGHT_ANKLE])
# Left/right partner of every landmark (the nose and mouth centre map to themselves).
MIRROR = np.array([0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19, 22, 21,
                   24, 23, 26, 25, 28, 27, 30, 29, 32, 31])
ROTATIONS = (0, 90, 180, 270)
_MAX_WAITING = 8  # decoded frames queued for pose at most (8 frames of 720p: 22 MB)


@dataclass(frozen=True)
class PoseConfig:
    """How mediapipe is run on each frame."""

    min_detection_confidence: float = 0.5
    """mediapipe's person-detector threshold (0..1)."""
    retry_below: float = 0.6
    """Retry rotated copies when the mean visibility of the 12 limb joints is below this (0..1)."""
    retry_inverted: bool = True
    """Also pose the frame turned 180 degrees when the upright reading has the shoulders below the hips in
    the image (a flip's inverted frames, where mediapipe reads worst), even when it looks confident."""
    max_candidates: int = 4
    """Detections kept per frame (the upright one plus up to three rotated retries)."""
    threads: int = 2
    """mediapipe graphs run side by side (one per thread; mediapipe releases the GIL)."""
    max_side: int = 640
    """Frames are downscaled to this long side before pose estimation (pixels); the models see 256 px."""


@dataclass
class Detections:
    """Candidates per frame: C slots, `valid` says which hold a detection."""

    image: np.ndarray  # (N, C, 33, 2) pixel coordinates in the input frame
    world: np.ndarray  # (N, C, 33, 3) metres, camera axes (x right, y down, z away), origin between the hips
    visibility: np.ndarray  # (N, C, 33) 0..1
    rotation: np.ndarray  # (N, C) degrees the image was turned clockwise for this candidate
    valid: np.ndarray  # (N, C) bool

    @property
    def num_frames(self) -> int:
        return len(self.valid)

    def score(self) -> np.ndarray:
        """(N, C) mean visibility of the 12 limb joints; 0 where no detection."""
        return np.where(self.valid, self.visibility[..., KEY_LANDMARKS].mean(axis=-1), 0.0)


def reads_upside_down(image: np.ndarray) -> bool:
    """Whether 2D landmarks (33, 2) (pixels, v down) put the shoulders' middle below the hips' middle."""
    shoulders = 0.5 * (image[Landmark.LEFT_SHOULDER, 1] + image[Landmark.RIGHT_SHOULDER, 1])
    hips = 0.5 * (image[Landmark.LEFT_HIP, 1] + image[Landmark.RIGHT_HIP, 1])
    return bool(shoulders > hips)


def _rotation_matrix(degrees: int) -> np.ndarray:
    """2x2 map from rotated-image offsets (about the centre) back to original-image offsets."""
    a = np.radians(degrees)
    c, s = round(np.cos(a)), round(np.sin(a))
    # Turning the image clockwise by a maps an original offset d to R(a) d (y down); invert it.
    return np.array([[c, s], [-s, c]], dtype=np.float64)


def rotate_image(rgb: np.ndarray, degrees: int) -> np.ndarray:
    import cv2

    codes = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    return rgb if degrees == 0 else np.ascontiguousarray(cv2.rotate(rgb, codes[degrees]))


class PoseEstimator:
    """mediapipe Pose graphs (static-image mode, model_complexity=1, the only bundled model)."""

    def __init__(self, config: PoseConfig = PoseConfig()) -> None:
        import mediapipe as mp

        self.config = config
        self._local = threading.local()
        self._make = lambda: mp.solutions.pose.Pose(
            static_image_mode=True,
            model_complexity=1,
            min_detection_confidence=config.min_detection_confidence,
        )
        self._graphs: list = []
        self._lock = threading.Lock()

    def close(self) -> None:
        for graph in self._graphs:
            graph.close()
        self._graphs.clear()

    def __enter__(self) -> "PoseEstimator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _graph(self):
        graph = getattr(self._local, "graph", None)
        if graph is None:
            graph = self._make()
            self._local.graph = graph
            with self._lock:
                self._graphs.append(graph)
        return graph

    def _run(self, rgb: np.ndarray, degrees: int):
        """One candidate (image (33,2) px, world (33,3), visibility (33,)) or None."""
        h, w = rgb.shape[:2]
        turned = rotate_image(rgb, degrees)
        result = self._graph().process(turned)
        if result.pose_landmarks is None or result.pose_world_landmarks is None:
            return None
        th, tw = turned.shape[:2]
        lm = result.pose_landmarks.landmark
        uv = np.array([[p.x * tw - tw / 2.0, p.y * th - th / 2.0] for p in lm])
        vis = np.array([p.visibility for p in lm])
        world = np.array([[p.x, p.y, p.z] for p in result.pose_world_landmarks.landmark])
        back = _rotation_matrix(degrees)
        uv = uv @ back.T + np.array([w / 2.0, h / 2.0])
        world[:, :2] = world[:, :2] @ back.T
        return uv, world, vis

    def detect_frame(self, rgb: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """Candidates [(rotation, image, world, visibility)] for one RGB frame."""
        small = downscale(rgb, self.config.max_side)
        scale = small.shape[1] / rgb.shape[1]
        rgb = small
        found = []
        for degrees in ROTATIONS:
            cand = self._run(rgb, degrees)
            if cand is not None:
                found.append((degrees, cand[0] / scale, cand[1], cand[2]))
                if degrees == 0 and cand[2][KEY_LANDMARKS].mean() >= self.config.retry_below:
                    if not (self.config.retry_inverted and reads_upside_down(cand[0])):
                        break
                    turned = self._run(rgb, 180)  # seen upside down: the model reads an upright body better
                    if turned is not None:
                        found.append((180, turned[0] / scale, turned[1], turned[2]))
                    break
            if len(found) >= self.config.max_candidates:
                break
        return found

    def begin(self, progress=None) -> "PoseBatch":
        """A batch to feed frames into one at a time (they are posed while more are decoded)."""
        return PoseBatch(self, progress)


class PoseBatch:
    """Frames posed in the estimator's threads as they are added; `finish` waits and gathers them."""

    def __init__(self, estimator: PoseEstimator, progress=None) -> None:
        self._estimator = estimator
        self._progress = progress
        self._pool = ThreadPoolExecutor(max(1, estimator.config.threads))
        self._futures: list = []
        self._lock = threading.Lock()
        self._done = 0

    def __enter__(self) -> "PoseBatch":
        return self

    def __exit__(self, *exc) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def add(self, rgb: np.ndarray) -> None:
        # Decoding outpaces pose: wait for older frames so that only a few decoded ones are ever held.
        if len(self._futures) >= _MAX_WAITING:
            self._futures[-_MAX_WAITING].result()
        self._futures.append(self._pool.submit(self._work, rgb))

    def _work(self, rgb: np.ndarray) -> list:
        found = self._estimator.detect_frame(rgb)
        with self._lock:
            self._done += 1
            if self._progress is not None:
                self._progress(self._done, len(self._futures))
        return found

    def finish(self) -> Detections:
        """Detections for every frame added, in order."""
        results = [future.result() for future in self._futures]
        n, c = len(results), self._estimator.config.max_candidates
        out = Detections(
            image=np.zeros((n, c, NUM_LANDMARKS, 2)),
            world=np.zeros((n, c, NUM_LANDMARKS, 3)),
            visibility=np.zeros((n, c, NUM_LANDMARKS)),
            rotation=np.zeros((n, c), dtype=np.int64),
            valid=np.zeros((n, c), dtype=bool),
        )
        for i, found in enumerate(results):
            for k, (degrees, uv, world, vis) in enumerate(found):
                out.image[i, k], out.world[i, k], out.visibility[i, k] = uv, world, vis
                out.rotation[i, k] = degrees
                out.valid[i, k] = True
        found = int(out.valid.any(axis=1).sum())
        retried = int((out.rotation[out.valid] != 0).sum())
        logger.info("pose: %d/%d frames with a person, %d rotated candidates", found, n, retried)
        return out
