"""A pybullet world holding the set: gravity, solver settings and static colliders from plain data.

Recipe, "add a collider type": add its name to `config.COLLIDER_KINDS`, validate its fields in
`ColliderConfig`, and create its collision shape in `_shape`.
"""
from __future__ import annotations

from .character import quiet_stdout
from .config import ColliderConfig, SimConfig

GRAVITY = -9.8  # m/s^2 along Y, as DeepMimic
SOLVER_ITERATIONS = 10  # as pybullet's DeepMimic port


def connect(config: SimConfig):
    """A fresh DIRECT pybullet client with the physics rate and solver of `config`."""
    import pybullet
    from pybullet_utils import bullet_client

    with quiet_stdout():
        client = bullet_client.BulletClient(connection_mode=pybullet.DIRECT)
    client.setGravity(0.0, GRAVITY, 0.0)
    client.setPhysicsEngineParameter(numSolverIterations=SOLVER_ITERATIONS, numSubSteps=1, deterministicOverlappingPairs=1)
    client.setTimeStep(1.0 / config.physics_hz)
    return client


def add_colliders(client, colliders: list[ColliderConfig]) -> list[int]:
    """Create one static body per collider; returns their body ids."""
    return [_add(client, c) for c in colliders]


def _add(client, c: ColliderConfig) -> int:
    # A maximal-coordinates (rigid) body, as pybullet's DeepMimic ground: contacts between the
    # character and a fixed multibody are solved differently and change the motion.
    w, x, y, z = c.rotation
    body = client.createMultiBody(
        baseMass=0.0, baseCollisionShapeIndex=_shape(client, c), basePosition=list(c.position),
        baseOrientation=[x, y, z, w], useMaximalCoordinates=True,
    )
    client.changeDynamics(body, -1, lateralFriction=c.friction)
    if c.stiffness is not None:
        client.changeDynamics(body, -1, contactStiffness=c.stiffness, contactDamping=c.damping)
    return body


def _shape(client, c: ColliderConfig) -> int:
    if c.kind == "plane":
        return client.createCollisionShape(client.GEOM_PLANE, planeNormal=[0.0, 1.0, 0.0])
    if c.kind == "box":
        return client.createCollisionShape(client.GEOM_BOX, halfExtents=[s / 2.0 for s in c.size])
    return client.createCollisionShape(
        client.GEOM_MESH, vertices=c.vertices, indices=c.indices, meshScale=list(c.size),
        flags=client.GEOM_FORCE_CONCAVE_TRIMESH,
    )


def support_height(client, x: float, z: float, top: float = 100.0) -> float | None:
    """m: height of the highest collider surface straight below (x, top, z); None if nothing is there."""
    hit = client.rayTest([x, top, z], [x, -top, z])[0]
    return None if hit[0] < 0 else float(hit[3][1])
