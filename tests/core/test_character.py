"""The default character's layout and body, without bpy: Blender's names and facing, blended weights."""
from __future__ import annotations

import numpy as np
import pytest

from backflip_addon.core.body_mesh import body_mesh
from backflip_addon.core.bone_maps import DEFAULT_GROUND_BONE, DEFAULT_RIG, auto_map
from backflip_addon.core.character import default_rig, rest_joints
from backflip_addon.core.skeleton import humanoid3d


def test_every_humanoid_joint_has_a_blender_named_bone() -> None:
    bones = {b.name: b for b in default_rig()}
    assert set(DEFAULT_RIG) == set(humanoid3d().names)
    assert set(DEFAULT_RIG.values()) < set(bones)
    assert set(bones) - set(DEFAULT_RIG.values()) == {"root", "head"}
    assert DEFAULT_RIG["left_knee"] == "shin.L" and DEFAULT_RIG["right_wrist"] == "hand.R" and DEFAULT_RIG["root"] == "pelvis"
    # Blender's own name matching finds the same bones (a default character can be a Target Rig too).
    assert auto_map(list(bones)).bones == DEFAULT_RIG
    assert {b.collection for b in bones.values()} == {"Root", "Body", "Arms", "Legs"}
    assert {b.name for b in bones.values() if b.collection == "Legs"} == {f"{p}.{s}" for p in ("thigh", "shin", "foot") for s in "LR"}


def test_rest_pose_faces_minus_y_with_the_left_side_at_plus_x_arms_down() -> None:
    bones = {b.name: b for b in default_rig()}
    for side, sign in (("L", 1.0), ("R", -1.0)):
        foot = bones[f"foot.{side}"]
        assert foot.tail[1] < foot.head[1] - 0.1  # toes to the front view
        assert sign * bones[f"thigh.{side}"].head[0] > 0.05 and sign * bones[f"hand.{side}"].head[0] > 0.1
        arm = bones[f"upper_arm.{side}"]
        assert (arm.tail - arm.head) @ np.array([0.0, 0.0, -1.0]) == pytest.approx(np.linalg.norm(arm.tail - arm.head))
    # Mirror images: every .L bone is its .R bone with x negated.
    for name, bone in bones.items():
        if name.endswith(".L"):
            twin = bones[name[:-1] + "R"]
            np.testing.assert_allclose(bone.head * [-1, 1, 1], twin.head, atol=1e-9)
            np.testing.assert_allclose(bone.tail * [-1, 1, 1], twin.tail, atol=1e-9)
    joints = rest_joints()
    np.testing.assert_allclose(bones["shin.L"].head, joints["left_knee"])


def test_ground_root_bone_sits_under_the_pelvis_and_carries_it() -> None:
    bones = {b.name: b for b in default_rig()}
    root, pelvis = bones[DEFAULT_GROUND_BONE], bones["pelvis"]
    assert root.parent is None and pelvis.parent == DEFAULT_GROUND_BONE and root.flesh is None
    np.testing.assert_allclose(root.head, [pelvis.head[0], pelvis.head[1], 0.0])
    assert root.tail[2] == 0.0 and pelvis.head[2] > 0.8
    # Parents come first, so the armature can be built in one pass.
    seen = set()
    for bone in default_rig():
        assert bone.parent is None or bone.parent in seen
        seen.add(bone.name)


def test_body_weights_blend_across_joints_and_sum_to_one() -> None:
    bones = {b.name: b for b in default_rig()}
    body = body_mesh(default_rig())
    count = len(body.vertices)
    weights = np.zeros((count, len(body.weights)))
    names = list(body.weights)
    for k, (index, w) in enumerate(body.weights.values()):
        weights[index, k] = w
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-3)
    assert set(names) == {b.name for b in bones.values() if b.flesh is not None}
    assert max(max(f) for f in body.faces) == count - 1 and min(min(f) for f in body.faces) == 0

    def near(point: np.ndarray, within: float) -> np.ndarray:
        return np.linalg.norm(body.vertices - point, axis=1) < within

    # At the knee the skin is half thigh, half shin; mid-shin and mid-thigh it follows one bone.
    knee = bones["shin.L"].head
    thigh, shin = names.index("thigh.L"), names.index("shin.L")
    ring = near(knee, 0.06) & (np.abs(body.vertices[:, 2] - knee[2]) < 0.004)
    assert ring.sum() >= 16
    np.testing.assert_allclose(weights[ring, thigh], 0.5, atol=0.1)
    np.testing.assert_allclose(weights[ring, shin], 0.5, atol=0.1)
    for bone in ("shin.L", "thigh.L", "forearm.R"):
        middle = (bones[bone].head + bones[bone].tail) / 2
        mid = near(middle, 0.09) & (np.abs(body.vertices[:, 2] - middle[2]) < 0.015) & (weights[:, names.index(bone)] > 0)
        assert mid.sum() >= 16 and np.all(weights[mid, names.index(bone)] > 0.999)
    # Weights fall off smoothly: along the shin from the knee down, the thigh's share only decreases.
    front = (np.abs(body.vertices[:, 0] - knee[0]) < 1e-3) & (body.vertices[:, 1] < knee[1]) & (weights[:, shin] > 0)
    order = np.argsort(-body.vertices[front, 2])
    assert np.all(np.diff(weights[front][order, thigh]) <= 1e-9)
    # The body stands on the ground, about as tall as humanoid3d (1.62 m).
    assert body.vertices[:, 2].min() == pytest.approx(0.0, abs=0.01)
    assert body.vertices[:, 2].max() == pytest.approx(1.62, abs=0.02)
