"""Props marked as colliders for rollouts, exported as the simulator's plain data."""
from __future__ import annotations

import bpy
import numpy as np

from ..core.colliders import collider_data
from ..core.errors import InvalidInputError


def mark_collider(
    obj: bpy.types.Object,
    shape: str = "BOX",
    *,
    friction: float = 0.9,
    soft: bool = False,
    stiffness: float = 3000.0,
    damping: float = 300.0,
) -> None:
    """Mark `obj` as a collider (settings in obj.backflip.collider)."""
    if shape in ("BOX", "MESH") and obj.type != "MESH":
        raise InvalidInputError(f"{obj.name} is not a mesh", hint="Use a Plane collider, or pick a mesh object")
    settings = obj.backflip.collider
    settings.enabled = True
    settings.shape = shape
    settings.friction = friction
    settings.soft = soft
    settings.stiffness = stiffness
    settings.damping = damping


def _local_bounds(obj: bpy.types.Object) -> tuple[np.ndarray, np.ndarray]:
    corners = np.array([tuple(c) for c in obj.bound_box])
    return corners.min(axis=0), corners.max(axis=0)


def _triangles(obj: bpy.types.Object, depsgraph: bpy.types.Depsgraph) -> tuple[np.ndarray, np.ndarray]:
    """Evaluated mesh (modifiers applied), object frame: vertices (V, 3) and triangles (T, 3)."""
    evaluated = obj.evaluated_get(depsgraph)
    mesh = evaluated.to_mesh()
    try:
        mesh.calc_loop_triangles()
        vertices = np.empty(len(mesh.vertices) * 3, dtype=np.float64)
        mesh.vertices.foreach_get("co", vertices)
        triangles = np.empty(len(mesh.loop_triangles) * 3, dtype=np.int64)
        mesh.loop_triangles.foreach_get("vertices", triangles)
    finally:
        evaluated.to_mesh_clear()
    return vertices.reshape(-1, 3), triangles.reshape(-1, 3)


def object_collider(obj: bpy.types.Object, depsgraph: bpy.types.Depsgraph) -> dict:
    """`obj`'s collider as plain data (Y up), from its evaluated pose and geometry."""
    settings = obj.backflip.collider
    evaluated = obj.evaluated_get(depsgraph)
    kind = settings.shape.lower()
    geometry = {}
    if kind == "box":
        lo, hi = _local_bounds(evaluated)
        geometry = {"local_min": lo, "local_max": hi}
    elif kind == "mesh":
        vertices, triangles = _triangles(obj, depsgraph)
        geometry = {"vertices": vertices, "triangles": triangles}
    soft = {"stiffness": settings.stiffness, "damping": settings.damping} if settings.soft else {}
    return collider_data(kind, np.array(evaluated.matrix_world), friction=settings.friction, **soft, **geometry)


def scene_colliders(scene: bpy.types.Scene, depsgraph: bpy.types.Depsgraph | None = None) -> list[dict]:
    """Every marked collider of `scene`, sorted by object name, as the simulator's custom set."""
    depsgraph = depsgraph or bpy.context.evaluated_depsgraph_get()
    objects = sorted((o for o in scene.objects if o.backflip.collider.enabled), key=lambda o: o.name)
    return [object_collider(o, depsgraph) for o in objects]
