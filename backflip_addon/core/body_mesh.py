"""The default character's body, without bpy: one mesh of capsules round the deform bones, with
vertex weights blended across every joint so the skin bends smoothly instead of creasing.

Each deform bone gets a capsule (a tapered tube with rounded ends) in its own frame: Y along the
bone, X across, Z the side its Z axis is rolled toward. Near a joint shared with the parent (the
bone's head) or the chain child (whose head is the bone's tail), a vertex's weight passes from
one bone to the other with a smoothstep over ±`radius` along the bone: half and half on the joint
itself, so the two capsules that overlap there move as one.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .character import RigBone

_AROUND = 16  # vertices round each ring
_CAP_RINGS = 4  # rings per rounded end
_RING_SPACING = 0.025  # m between rings along a tube: dense enough to bend smoothly at a joint


@dataclass(frozen=True)
class BodyMesh:
    vertices: np.ndarray
    """(V, 3) rest positions, armature space"""
    faces: list[list[int]]
    weights: dict[str, tuple[np.ndarray, np.ndarray]]
    """bone → (vertex indices, weights); a vertex's weights sum to 1"""


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _frame(bone: RigBone) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The bone's X, Y (unit, along the bone), Z axes and its length."""
    along = bone.tail - bone.head
    length = float(np.linalg.norm(along))
    y = along / length
    z = bone.z_axis - np.dot(bone.z_axis, y) * y
    z /= np.linalg.norm(z)
    return np.cross(y, z), y, z, length


def _capsule(bone: RigBone) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
    """A capsule's vertices (V, 3), their distance along the bone from its head (V,), and faces."""
    flesh = bone.flesh
    x, y, z, length = _frame(bone)
    start, end = (flesh.radius_head, length - flesh.radius_tail) if flesh.inset else (0.0, length)
    if end < start:
        start = end = (start + end) / 2.0
    tube = max(2, int(np.ceil((end - start) / _RING_SPACING)) + 1)
    # (distance along the bone, ring radius as a fraction of the end radius, which end's radius)
    rings = [(start - np.cos(a) * flesh.radius_head, np.sin(a), 0.0)
             for a in np.linspace(0.0, np.pi / 2, _CAP_RINGS + 1)[1:-1]]
    rings += [(s, 1.0, (s - start) / (end - start) if end > start else 0.0) for s in np.linspace(start, end, tube)]
    rings += [(end + np.sin(a) * flesh.radius_tail, np.cos(a), 1.0) for a in np.linspace(0.0, np.pi / 2, _CAP_RINGS + 1)[1:-1]]
    theta = np.linspace(0.0, 2.0 * np.pi, _AROUND, endpoint=False)
    points, along = [bone.head + (start - flesh.radius_head) * y], [start - flesh.radius_head]
    for s, fraction, blend in rings:
        radius = fraction * ((1.0 - blend) * flesh.radius_head + blend * flesh.radius_tail)
        section = np.cos(theta)[:, None] * x + flesh.depth * np.sin(theta)[:, None] * z
        points.append(bone.head + s * y + radius * section)
        along += [s] * _AROUND
    points.append(bone.head + (end + flesh.radius_tail) * y)
    along.append(end + flesh.radius_tail)
    vertices = np.vstack([np.atleast_2d(p) for p in points])
    last = len(vertices) - 1
    faces = [[0, 1 + (k + 1) % _AROUND, 1 + k] for k in range(_AROUND)]
    for r in range(len(rings) - 1):
        a, b = 1 + r * _AROUND, 1 + (r + 1) * _AROUND
        faces += [[a + k, a + (k + 1) % _AROUND, b + (k + 1) % _AROUND, b + k] for k in range(_AROUND)]
    top = 1 + (len(rings) - 1) * _AROUND
    faces += [[top + k, top + (k + 1) % _AROUND, last] for k in range(_AROUND)]
    return vertices, np.array(along), faces


def body_mesh(bones: tuple[RigBone, ...]) -> BodyMesh:
    """One mesh of capsules round `bones`' deform bones (those with flesh), smoothly weighted."""
    by_name = {b.name: b for b in bones}
    deform = [b for b in bones if b.flesh is not None]
    chain_child = {}
    for b in deform:
        parent = by_name.get(b.parent) if b.parent else None
        if parent is not None and parent.flesh is not None and np.linalg.norm(parent.tail - b.head) < 1e-6:
            chain_child[parent.name] = b
    all_vertices, faces, weights = [], [], {b.name: ([], []) for b in deform}
    offset = 0
    for bone in deform:
        vertices, along, bone_faces = _capsule(bone)
        count = len(vertices)
        index = offset + np.arange(count)
        own = np.ones(count)
        parent = by_name.get(bone.parent) if bone.parent else None
        if parent is not None and parent.flesh is not None:
            to_parent = 1.0 - _smoothstep((along + bone.flesh.radius_head) / (2.0 * bone.flesh.radius_head))
            _add(weights, parent.name, index, to_parent)
            own -= to_parent
        child = chain_child.get(bone.name)
        if child is not None:
            length = float(np.linalg.norm(bone.tail - bone.head))
            to_child = _smoothstep((along - length + child.flesh.radius_head) / (2.0 * child.flesh.radius_head))
            _add(weights, child.name, index, to_child)
            own -= to_child
        _add(weights, bone.name, index, own)
        all_vertices.append(vertices)
        faces += [[offset + v for v in face] for face in bone_faces]
        offset += count
    return BodyMesh(
        np.vstack(all_vertices), faces,
        {name: (np.concatenate(i).astype(int), np.concatenate(w)) for name, (i, w) in weights.items() if i},
    )


def _add(weights: dict[str, tuple[list, list]], bone: str, index: np.ndarray, values: np.ndarray) -> None:
    keep = values > 1e-4
    weights[bone][0].append(index[keep])
    weights[bone][1].append(values[keep])
