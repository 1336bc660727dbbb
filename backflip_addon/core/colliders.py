"""Set colliders as the plain data the simulator's custom set takes (bpy-free).

One dict per collider, Y up, metres, quaternions (w, x, y, z); the same keys as
`trainer_service.sim.config.ColliderConfig`:

    {"kind": "plane" | "box" | "mesh", "position": [x, y, z], "rotation": [w, x, y, z],
     "size": [sx, sy, sz], "vertices": [[x, y, z], ...], "indices": [i0, i1, i2, ...],
     "friction": f, "stiffness": k | None, "damping": c | None}

A box's size is its full extents along its own axes; a plane is infinite with normal +Y in its
frame (Blender's local +Z); a mesh carries its vertices in its own frame with scale applied (so
size is 1, 1, 1). stiffness None is a hard contact.
"""
from __future__ import annotations

import numpy as np

from . import axes
from . import rotations as rot
from .errors import InvalidInputError

KINDS = ("box", "plane", "mesh")


def _rigid_parts(matrix_world: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Translation, rotation (w, x, y, z) and per-axis scale of a 4x4 world matrix (no shear)."""
    m = np.asarray(matrix_world, dtype=np.float64)
    linear = m[:3, :3]
    scale = np.linalg.norm(linear, axis=0)
    if np.any(scale < 1e-9):
        raise InvalidInputError("A collider has zero scale", hint="Apply a non-zero scale to the object")
    rotation = linear / scale
    if np.linalg.det(rotation) < 0:  # mirrored: fold the flip into the scale of x
        rotation[:, 0] *= -1.0
        scale[0] *= -1.0
    return m[:3, 3].copy(), rot.normalize(rot.from_matrix(rotation)), scale


def collider_data(
    kind: str,
    matrix_world: np.ndarray,
    *,
    local_min: np.ndarray | None = None,
    local_max: np.ndarray | None = None,
    vertices: np.ndarray | None = None,
    triangles: np.ndarray | None = None,
    friction: float = 0.9,
    stiffness: float | None = None,
    damping: float | None = None,
) -> dict:
    """One Blender object's collider (Z up, its world matrix and local geometry) as Y-up plain data.

    box: the box spanning `local_min`..`local_max` in the object's frame. plane: the object's
    local XY plane. mesh: `vertices` (V, 3) in the object's frame and `triangles` (T, 3).
    """
    if kind not in KINDS:
        raise InvalidInputError(f"Unknown collider kind {kind!r}", hint=f"Use one of {', '.join(KINDS)}")
    if (stiffness is None) != (damping is None):
        raise InvalidInputError("A soft collider needs both stiffness and damping", hint="Set both, or mark it hard")
    location, rotation, scale = _rigid_parts(matrix_world)
    size = np.ones(3)
    verts: list[list[float]] = []
    indices: list[int] = []
    if kind == "box":
        if local_min is None or local_max is None:
            raise InvalidInputError("A box collider needs its local bounds", hint="Give local_min and local_max")
        lo, hi = np.asarray(local_min, dtype=np.float64), np.asarray(local_max, dtype=np.float64)
        centre_local = (lo + hi) / 2.0 * scale
        location = location + rot.rotate(rotation, centre_local)
        # The Y-up frame of the box is the Blender one turned like the world: extents follow.
        size = np.abs(axes.from_blender_positions((hi - lo) * scale))
        if np.any(size <= 0.0):
            raise InvalidInputError("A box collider is flat", hint="Use a plane collider, or give the object depth")
    elif kind == "mesh":
        if vertices is None or triangles is None or len(triangles) == 0:
            raise InvalidInputError("A mesh collider needs vertices and triangles", hint="Use an object with faces")
        verts = axes.from_blender_positions(np.asarray(vertices, dtype=np.float64) * scale).tolist()
        indices = np.asarray(triangles, dtype=np.int64).ravel().tolist()
    return {
        "kind": kind,
        "position": axes.from_blender_positions(location).tolist(),
        "rotation": rot.canonical(axes.from_blender_rotations(rotation)).tolist(),
        "size": size.tolist(),
        "vertices": verts,
        "indices": indices,
        "friction": float(friction),
        "stiffness": None if stiffness is None else float(stiffness),
        "damping": None if damping is None else float(damping),
    }
