"""Camera projection maths without Blender: a perspective camera as image coordinates of a photo.

`blender/projection.py` builds the shader that evaluates exactly this per shading point; the numpy
twin here lets tests and tools check it without bpy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InvalidInputError


@dataclass(frozen=True)
class Coefficients:
    """u = ou + su * x / -z and v = ov + sv * y / -z, for camera-space points (x, y, z)."""

    su: float
    sv: float
    ou: float
    ov: float


def projection_coefficients(
    lens: float,
    sensor_width: float,
    sensor_height: float,
    sensor_fit: str,
    shift_x: float,
    shift_y: float,
    width: int,
    height: int,
) -> Coefficients:
    """Blender's perspective camera as image coordinates (0..1) of a `width`x`height` photo.

    Mirrors Blender's view plane: the fitted side (width for HORIZONTAL, height for VERTICAL,
    the longer side for AUTO, which then uses sensor_width) spans lens/sensor; shift moves the
    frame (so the image the other way) in units of that fitted side.
    """
    if lens <= 0 or sensor_width <= 0 or sensor_height <= 0 or width <= 0 or height <= 0:
        raise InvalidInputError(
            f"Camera lens {lens} mm, sensor {sensor_width}x{sensor_height} mm, photo {width}x{height} px",
            hint="Lens, sensor and photo size must all be positive",
        )
    if sensor_fit == "AUTO":
        horizontal, sensor = width >= height, sensor_width
    elif sensor_fit == "HORIZONTAL":
        horizontal, sensor = True, sensor_width
    elif sensor_fit == "VERTICAL":
        horizontal, sensor = False, sensor_height
    else:
        raise InvalidInputError(f"Unknown sensor fit {sensor_fit!r}", hint="Use AUTO, HORIZONTAL or VERTICAL")
    k = lens / sensor
    # Scale of the fitted side relative to each image side.
    to_u, to_v = (1.0, width / height) if horizontal else (height / width, 1.0)
    return Coefficients(su=k * to_u, sv=k * to_v, ou=0.5 - shift_x * to_u, ov=0.5 - shift_y * to_v)


def project_points(points_camera: np.ndarray, c: Coefficients) -> np.ndarray:
    """(N, 3) camera-space points -> (N, 2) image coordinates; the numpy twin of the shader."""
    p = np.asarray(points_camera, dtype=np.float64)
    depth = -p[:, 2]
    return np.stack([c.ou + c.su * p[:, 0] / depth, c.ov + c.sv * p[:, 1] / depth], axis=1)
