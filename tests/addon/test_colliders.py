"""Colliders exported from Blender land where Blender has them, in the simulator's real pybullet world.

Rays cast in Blender (Z up) and in pybullet (Y up, fed the exported plain data through the
trainer's own ColliderConfig/world code) must hit the same points.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from backflip_addon.core import axes
from backflip_addon.core.colliders import collider_data
from backflip_addon.core.errors import InvalidInputError


def test_unrotated_box_stays_unrotated_with_height_on_y() -> None:
    data = collider_data("box", np.eye(4), local_min=[-1.0, -2.0, 0.0], local_max=[1.0, 2.0, 0.5])
    assert data["rotation"] == pytest.approx([1.0, 0.0, 0.0, 0.0])
    assert data["size"] == pytest.approx([2.0, 0.5, 4.0])  # Blender z (0.5) is the Y-up height
    assert data["position"] == pytest.approx([0.0, 0.25, 0.0])
    assert data["stiffness"] is None and data["damping"] is None


def test_soft_collider_needs_both_constants() -> None:
    with pytest.raises(InvalidInputError):
        collider_data("plane", np.eye(4), stiffness=3000.0)
    soft = collider_data("plane", np.eye(4), stiffness=3000.0, damping=300.0, friction=0.5)
    assert (soft["stiffness"], soft["damping"], soft["friction"]) == (3000.0, 300.0, 0.5)


def _blender_set(context):
    """A rotated, non-uniformly scaled box, a tilted mesh ramp and a ground plane, all marked."""
    import bpy

    from backflip_addon.blender import colliders

    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(0.4, 0.2, 0.6), rotation=(0.3, -0.2, 0.8))
    box = context.active_object
    box.scale = (1.5, 0.7, 0.4)
    colliders.mark_collider(box, "BOX", friction=0.7)
    bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=1, radius=0.6, location=(-1.2, 0.5, 0.5))
    rock = context.active_object
    rock.scale = (1.0, 2.0, 0.8)
    rock.rotation_euler = (0.0, 0.4, 0.2)
    colliders.mark_collider(rock, "MESH", soft=True, stiffness=5000.0, damping=200.0)
    bpy.ops.mesh.primitive_plane_add(size=2.0, location=(0.0, 0.0, -0.3), rotation=(0.1, 0.05, 0.0))
    ground = context.active_object
    colliders.mark_collider(ground, "PLANE")
    context.view_layer.update()
    return box, rock, ground


def test_scene_colliders_hit_like_blender(empty_scene) -> None:
    import bpy

    # The add-on's bpy 4.5 environment has no simulator; the main run checks this against pybullet.
    pybullet = pytest.importorskip("pybullet")
    from mathutils import Vector
    from pybullet_utils import bullet_client

    from backflip_addon.blender import colliders
    from trainer_service.sim import world
    from trainer_service.sim.config import ColliderConfig

    context = bpy.context
    box, rock, ground = _blender_set(context)
    bpy.data.objects.new("not a collider", None)  # unmarked things are left out
    data = colliders.scene_colliders(empty_scene)
    assert [d["kind"] for d in data] == ["box", "mesh", "plane"]  # sorted by name: Cube, Icosphere, Plane
    assert data[0]["friction"] == pytest.approx(0.7) and data[0]["stiffness"] is None
    assert data[1]["stiffness"] == pytest.approx(5000.0) and data[1]["damping"] == pytest.approx(200.0)

    client = bullet_client.BulletClient(connection_mode=pybullet.DIRECT)
    try:
        world.add_colliders(client, [ColliderConfig.from_dict(d) for d in data])
        rng = np.random.default_rng(3)
        direction = rng.normal(size=(200, 3))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        # From above the set, aimed at points around the props: some rays hit each collider.
        origins = np.array([0.0, 0.0, 4.0]) + rng.uniform(-2.5, 2.5, (200, 3)) * [1, 1, 0]
        targets = rng.uniform([-2.0, -1.0, -0.6], [1.5, 1.5, 1.2], (200, 3))
        rays = targets - origins
        rays /= np.linalg.norm(rays, axis=1, keepdims=True)
        length = 12.0
        depsgraph = context.evaluated_depsgraph_get()
        expected = []
        for origin, ray in zip(origins, rays):
            hit, location, *_ = empty_scene.ray_cast(depsgraph, Vector(origin), Vector(ray), distance=length)
            expected.append(np.array(location) if hit else None)
        results = client.rayTestBatch(
            axes.from_blender_positions(origins).tolist(), axes.from_blender_positions(origins + length * rays).tolist()
        )
    finally:
        client.disconnect()
    hits = 0
    for want, (body, _link, _fraction, position, _normal) in zip(expected, results):
        if want is None:
            # Blender's plane is finite (2 m); the simulator's ground is infinite: only its misses may differ.
            continue
        assert body >= 0, f"pybullet missed a ray that hit {want} in Blender"
        got = axes.to_blender_positions(np.array(position))
        assert np.linalg.norm(got - want) < 2e-3, f"hit at {got}, Blender at {want}"
        hits += 1
    assert hits > 100


def test_mark_collider_rejects_non_mesh_box(empty_scene) -> None:
    import bpy

    from backflip_addon.blender import colliders

    empty = bpy.data.objects.new("empty", None)
    empty_scene.collection.objects.link(empty)
    with pytest.raises(InvalidInputError, match="not a mesh"):
        colliders.mark_collider(empty, "BOX")
    colliders.mark_collider(empty, "PLANE")  # a plane needs no geometry
    assert empty.backflip.collider.enabled


def test_operator_marks_selection(empty_scene) -> None:
    import bpy

    bpy.ops.mesh.primitive_cube_add(size=2.0)
    cube = bpy.context.active_object
    assert bpy.ops.backflip.mark_collider(shape="MESH", friction=1.1, soft=True) == {"FINISHED"}
    settings = cube.backflip.collider
    assert settings.enabled and settings.shape == "MESH" and settings.soft
    assert settings.friction == pytest.approx(1.1)
    from backflip_addon.blender import colliders

    (data,) = colliders.scene_colliders(empty_scene)
    assert len(data["indices"]) == 12 * 3 and len(data["vertices"]) == 8
    assert math.isclose(max(v[1] for v in data["vertices"]), 1.0, abs_tol=1e-6)  # Blender z -> Y up
