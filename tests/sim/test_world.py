"""The custom set: a box stops a falling character, a mesh platform too, a soft box lets it sink."""
from __future__ import annotations

import numpy as np

from trainer_service.sim.config import ColliderConfig, SimConfig
from trainer_service.sim.env import ImitationEnv

NO_TERMINATION = dict(fall_termination=False, pose_termination_distance=0.0)
# Top face at y = 0, centred under the clip's start; no ground plane below it.
PLATFORM = dict(position=(0.0, -0.25, 0.0), size=(3.0, 0.5, 3.0))


def _lowest(backflip, collider: ColliderConfig, lift: float, steps: int) -> tuple[float, float]:
    """Lowest root height and lowest foot-centre height while the character stands / lands on `collider`."""
    config = SimConfig(colliders=[collider], start_position=(0.0, lift, 0.0), **NO_TERMINATION)
    lowest_root, lowest_foot = np.inf, np.inf
    with ImitationEnv(backflip, config) as env:
        env.reset(start_time=0.0)
        for _ in range(steps):
            env.step(np.zeros(env.action_size))
            sim = env.body_state()
            lowest_root = min(lowest_root, sim.root_pos[1])
            lowest_foot = min(lowest_foot, sim.link_pos[[5, 11], 1].min())
    return lowest_root, lowest_foot


def test_box_stops_a_falling_character(backflip) -> None:
    root, foot = _lowest(backflip, ColliderConfig(kind="box", **PLATFORM), lift=1.0, steps=20)
    assert foot > -0.01 and root > 0.05  # landed on the top face (y = 0), never through it
    # Without the box the same fall goes on below y = 0.
    root_free, _ = _lowest(backflip, ColliderConfig(kind="box", position=(10.0, -0.25, 0.0), size=(1, 0.5, 1)), 1.0, 20)
    assert root_free < 0.0


def test_mesh_platform_stops_a_falling_character(backflip) -> None:
    square = ColliderConfig(
        kind="mesh", vertices=[[-1.5, 0, -1.5], [1.5, 0, -1.5], [1.5, 0, 1.5], [-1.5, 0, 1.5]],
        indices=[0, 2, 1, 0, 3, 2],
    )
    root, foot = _lowest(backflip, square, lift=0.5, steps=15)
    assert foot > -0.05 and root > 0.3


def test_soft_box_lets_the_character_sink(backflip) -> None:
    _, hard = _lowest(backflip, ColliderConfig(kind="box", **PLATFORM), lift=0.0, steps=8)
    # pybullet applies the stiffness per contact point (about 8 under two feet): ~1 kN/m is a soft mattress.
    soft_box = ColliderConfig(kind="box", stiffness=1000.0, damping=100.0, **PLATFORM)
    _, soft = _lowest(backflip, soft_box, lift=0.0, steps=8)
    assert hard > 0.0
    assert soft < hard - 0.03
