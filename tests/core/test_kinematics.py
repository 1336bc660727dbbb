"""Numpy FK against pybullet itself, on every frame of every clip shipped with pybullet."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from backflip_addon.core import rotations as rot
from backflip_addon.core.clip import load_clip
from backflip_addon.core.kinematics import forward_kinematics, shape_centers
from backflip_addon.core.skeleton import CLIP_COLUMNS, Skeleton, humanoid3d, skeleton_from_urdf

TOLERANCE_M = 1e-3


@pytest.fixture(scope="module")
def bullet(pybullet_data_dir: Path):
    import pybullet

    client = pybullet.connect(pybullet.DIRECT)
    body = pybullet.loadURDF(
        str(pybullet_data_dir / "humanoid" / "humanoid.urdf"),
        globalScaling=0.25,
        flags=pybullet.URDF_MAINTAIN_LINK_ORDER,
        physicsClientId=client,
    )
    yield pybullet, client, body
    pybullet.disconnect(client)


def _xyzw(q: np.ndarray) -> list[float]:
    q = q / np.linalg.norm(q)  # pybullet takes base orientations as given, unnormalised
    return [q[1], q[2], q[3], q[0]]


def pybullet_link_frames(bullet, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Link-frame origins and centres of mass (F, 15, 3) that pybullet computes for clip rows."""
    pb, client, body = bullet
    skeleton = humanoid3d()
    joints = [skeleton.index(name) for name, _, _ in CLIP_COLUMNS]
    links = list(range(pb.getNumJoints(body, physicsClientId=client)))
    origins, centres = [], []
    for row in frames:
        pb.resetBasePositionAndOrientation(body, row[1:4], _xyzw(row[4:8]), physicsClientId=client)
        targets = [_xyzw(row[s : s + 4]) if w == 4 else [row[s]] for _, s, w in CLIP_COLUMNS]
        pb.resetJointStatesMultiDof(body, joints, targets, physicsClientId=client)
        states = pb.getLinkStates(body, links, physicsClientId=client)
        origins.append([s[4] for s in states])
        centres.append([s[0] for s in states])
    return np.array(origins), np.array(centres)


def fk_error(bullet, frames: np.ndarray, skeleton: Skeleton) -> float:
    """Largest distance (m) between our FK and pybullet's, over bodies, frames, origins and COMs."""
    pos, rotations = forward_kinematics(frames, skeleton)
    origins, centres = pybullet_link_frames(bullet, frames)
    return max(
        np.abs(pos - origins).max(),
        np.abs(shape_centers(pos, rotations, skeleton) - centres).max(),
    )


def test_shipped_skeleton_matches_urdf(pybullet_data_dir: Path) -> None:
    assert skeleton_from_urdf(pybullet_data_dir / "humanoid" / "humanoid.urdf") == humanoid3d()
    assert len(humanoid3d().bodies) == 15


def test_fk_agrees_with_pybullet_on_every_clip(bullet, motions_dir: Path) -> None:
    clips = sorted(motions_dir.glob("humanoid3d_*.txt"))
    assert len(clips) == 15
    for path in clips:
        error = fk_error(bullet, load_clip(path).frames, humanoid3d())
        assert error < TOLERANCE_M, f"{path.name}: FK differs from pybullet by {error * 1000:.3f} mm"


def test_perturbed_joint_offset_is_caught(bullet, backflip_clip_path: Path) -> None:
    skeleton = humanoid3d()
    bodies = list(skeleton.bodies)
    knee = skeleton.index("left_knee")
    x, y, z = bodies[knee].offset
    bodies[knee] = dataclasses.replace(bodies[knee], offset=(x, y - 0.002, z))
    error = fk_error(bullet, load_clip(backflip_clip_path).frames, Skeleton(tuple(bodies)))
    assert error > TOLERANCE_M


def test_fk_rotations_compose_parent_and_local(backflip_clip_path: Path) -> None:
    skeleton = humanoid3d()
    frames = load_clip(backflip_clip_path).frames
    _, world = forward_kinematics(frames, skeleton)
    chest = skeleton.index("chest")
    expected = rot.multiply(rot.normalize(frames[:, 4:8]), rot.normalize(frames[:, 8:12]))
    assert np.max(rot.angle_between(world[:, chest], expected)) < 1e-9


def test_the_joint_layout_is_the_clip_row_and_the_urdf_links() -> None:
    import numpy as np

    from backflip_addon.core import skeleton

    joints = skeleton.JOINTS
    assert [j.column for j in joints][0] == skeleton.ROOT_ROT.stop and skeleton.FRAME_WIDTH == 44
    assert all(a.column + a.width == b.column for a, b in zip(joints, joints[1:])), "columns are contiguous"
    # Ball joints are exactly the bodies the URDF joins with a spherical joint, hinges the revolute ones.
    body = skeleton.humanoid3d().bodies
    assert [body[j.link].joint_type for j in joints] == ["spherical" if j.ball else "revolute" for j in joints]
    controlled = {b.name for b in body if b.joint_type in ("spherical", "revolute")}
    assert set(skeleton.JOINT_NAMES) == controlled
    assert skeleton.ACTION_SIZE == 28
    assert sorted(skeleton.ACTION_BALL_INDEX.tolist() + skeleton.ACTION_HINGE_INDEX.tolist()) == list(range(28))
    rows = np.random.default_rng(3).normal(size=(5, 44))
    ball, hinge = skeleton.split_joints(rows)
    assert ball.shape == (5, 8, 4) and hinge.shape == (5, 4)
    assert np.array_equal(ball[:, 2], rows[:, 16:20]) and np.array_equal(hinge[:, 1], rows[:, 29])
    again = rows.copy()
    again[:, 8:] = 0.0
    skeleton.set_joints(again, ball, hinge)
    assert np.array_equal(again, rows)
