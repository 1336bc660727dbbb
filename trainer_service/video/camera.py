"""The camera's height and downward tilt, read from the person: standing people are vertical, and
their feet rest on the ground.

The fit works in the camera's frame (x right, y up in the image, z towards the viewer). A camera
tilted down by t sees the world's up axis as (0, cos t, sin t): leaning towards it. The tilt is the
mean lean of the body's long axis (ankles to shoulders) over the upright frames; roll is taken as
zero (a hand-held camera's roll is small, and a walk's sideways sway would read as roll). Once the
scene is levelled, the ground is where the feet stand, and the camera is that far above it.

The tilt read this way is biased: mediapipe leans a standing body towards the camera by about 7
degrees seen level from the side and up to 19 from the front, so the fit only reports it unless
FitConfig.level_by_tilt asks it to level the clip. The focal length is not estimated: over a clip
the reprojection residual changed by under 3 % between 35 and 80 degrees of field of view, with its
minimum at different places on different clips; it is a setting (FitConfig.hfov_deg).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CameraEstimate:
    """Where the camera stood, as the fit read it."""

    tilt_deg: float
    """Downward tilt of the optical axis (degrees; 0 = level, positive = looking down)."""
    height_m: float
    """Height of the camera above the ground (metres)."""
    hfov_deg: float
    """Horizontal field of view the fit used (degrees)."""
    upright_frames: int
    """Frames the tilt was read from (0: none upright, the camera is taken as level)."""
    levelled: bool
    """The clip was levelled by the tilt (else the tilt is only reported and the height is measured
    as if the camera were level)."""

    def as_dict(self) -> dict:
        return {"tilt_down_deg": round(self.tilt_deg, 1), "height_m": round(self.height_m, 3),
                "hfov_deg": round(self.hfov_deg, 1), "upright_frames": self.upright_frames, "levelled": self.levelled}


def tilt_from_body(axis: np.ndarray, upright: np.ndarray, max_deg: float = 60.0) -> tuple[float, int]:
    """Downward tilt (radians) of a camera from body long axes (N, 3) in its frame and the upright mask (N,).

    The axes are normalised and averaged over the upright frames; their lean towards the camera
    (+z) against y is the tilt. No upright frame gives 0 (level). Clipped to +-max_deg."""
    axes = axis[upright]
    if len(axes) == 0:
        return 0.0, 0
    mean = (axes / np.maximum(np.linalg.norm(axes, axis=-1, keepdims=True), 1e-9)).mean(0)
    tilt = math.atan2(float(mean[2]), float(mean[1]))
    limit = math.radians(max_deg)
    return float(np.clip(tilt, -limit, limit)), int(len(axes))


def level_rotation(tilt: float) -> np.ndarray:
    """Rotation (3, 3) taking camera-frame points to a level frame (world up = +y) for a camera tilted down by `tilt`."""
    c, s = math.cos(tilt), math.sin(tilt)
    # Rotation about x by -tilt: (0, cos t, sin t) -> (0, 1, 0).
    return np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])
