"""Quaternion helpers and the one Y-up ⇄ Z-up conversion."""
from __future__ import annotations

import numpy as np

from backflip_addon.core import axes
from backflip_addon.core import rotations as rot


def random_quats(n: int, seed: int = 0) -> np.ndarray:
    return rot.normalize(np.random.default_rng(seed).normal(size=(n, 4)))


def test_matrix_roundtrip_and_rotate_agree() -> None:
    q = random_quats(200)
    v = np.random.default_rng(1).normal(size=(200, 3))
    np.testing.assert_allclose(rot.rotate(q, v), np.einsum("nij,nj->ni", rot.to_matrix(q), v), atol=1e-12)
    assert np.max(rot.angle_between(rot.from_matrix(rot.to_matrix(q)), q)) < 1e-6


def test_rotvec_roundtrip() -> None:
    q = rot.canonical(random_quats(100, 2))
    np.testing.assert_allclose(rot.from_rotvec(rot.to_rotvec(q)), q, atol=1e-12)
    np.testing.assert_allclose(rot.from_rotvec(np.zeros(3)), rot.IDENTITY)


def test_slerp_endpoints_and_shortest_path() -> None:
    a, b = random_quats(2, 3)
    np.testing.assert_allclose(rot.slerp(a, b, 0.0), a, atol=1e-12)
    assert rot.angle_between(rot.slerp(a, -b, 1.0), b) < 1e-6
    half = rot.slerp(a, b, 0.5)
    assert abs(rot.angle_between(a, half) - rot.angle_between(half, b)) < 1e-9


def test_make_continuous_removes_sign_flips() -> None:
    q = random_quats(1, 4).repeat(5, 0)
    q[2] *= -1
    fixed = rot.make_continuous(q)
    assert np.all(np.sum(fixed[1:] * fixed[:-1], axis=-1) > 0)


def test_y_up_becomes_z_up_and_back() -> None:
    np.testing.assert_allclose(axes.to_blender_positions([0.0, 1.0, 0.0]), [0.0, 0.0, 1.0], atol=1e-15)
    np.testing.assert_allclose(axes.to_blender_positions([0.0, 0.0, 1.0]), [0.0, -1.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(axes.to_blender_positions([1.0, 0.0, 0.0]), [1.0, 0.0, 0.0], atol=1e-15)
    p = np.random.default_rng(5).normal(size=(10, 3))
    np.testing.assert_allclose(axes.from_blender_positions(axes.to_blender_positions(p)), p, atol=1e-12)
    q = random_quats(10, 6)
    assert np.max(rot.angle_between(axes.from_blender_rotations(axes.to_blender_rotations(q)), q)) < 1e-6
    # A rotated vector converts the same whether rotated before or after the conversion.
    v = np.random.default_rng(7).normal(size=(10, 3))
    np.testing.assert_allclose(
        axes.to_blender_positions(rot.rotate(q, v)),
        rot.rotate(axes.to_blender_rotations(q), axes.to_blender_positions(v)),
        atol=1e-12,
    )
