"""Hot-path quaternion helpers against core.rotations; config validation."""
from __future__ import annotations

import math

import numpy as np
import pytest

from backflip_addon.core import rotations as rot
from backflip_addon.core.errors import InvalidInputError
from trainer_service.sim.config import ColliderConfig, RewardConfig, SimConfig
from trainer_service.sim.fastmath import multiply_rows, rotvec_rows


def test_fast_quaternions_match_core() -> None:
    rng = np.random.default_rng(1)
    a, b = rot.normalize(rng.normal(size=(8, 4))), rot.normalize(rng.normal(size=(8, 4)))
    v = rng.normal(size=(8, 3))
    v[0] = 0.0
    v[1] = 1e-9
    np.testing.assert_allclose(multiply_rows(a, b), rot.multiply(a, b), atol=1e-14)
    np.testing.assert_allclose(rotvec_rows(v), rot.from_rotvec(v), atol=1e-14)


def test_sim_config_round_trip_and_unknown_key() -> None:
    config = SimConfig(physics_hz=120, colliders=[ColliderConfig(kind="box", size=(1, 2, 3))], reward=RewardConfig(com_w=0))
    again = SimConfig.from_dict(config.to_dict())
    assert again == config and again.substeps == 4
    with pytest.raises(InvalidInputError, match="unknown SimConfig key"):
        SimConfig.from_dict({"physics_hz": 240, "physic_hz": 120})


@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "sphere"}, "unknown collider type"),
        ({"kind": "box", "size": [1.0, -0.5, 1.0]}, "size must be positive"),
        ({"kind": "box", "position": [0.0, float("nan"), 0.0]}, "NaN"),
        ({"kind": "box", "stiffness": 1000.0}, "both stiffness and damping"),
        ({"kind": "mesh", "vertices": [[0, 0, 0], [1, 0, 0], [0, 0, 1]], "indices": [0, 1, 5]}, "indices"),
        ({"kind": "box", "colour": "red"}, "unknown ColliderConfig key"),
    ],
)
def test_bad_colliders_are_clear_errors(data: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as info:
        SimConfig.from_dict({"colliders": [data]})
    assert info.value.hint


def test_physics_rate_must_divide() -> None:
    with pytest.raises(InvalidInputError, match="multiple"):
        SimConfig(physics_hz=100)


def _reference_state(ref, row):
    from trainer_service.sim.character import BodyState

    return BodyState(
        root_pos=ref.root_pos[row].copy(), root_rot=-ref.root_rot[row], root_vel=ref.root_vel[row].copy(),
        root_ang_vel=ref.root_ang_vel[row].copy(), link_pos=ref.body_pos[row].copy(), link_rot=np.zeros((15, 4)),
        link_vel=np.tile(ref.com_vel[row], (15, 1)), link_ang_vel=np.zeros((15, 3)), joint_rot=ref.joint_rot[row].copy(),
        joint_angle=ref.joint_angle[row].copy(), joint_vel=ref.joint_vel[row].copy(), joint_ang_vel=ref.joint_ang_vel[row].copy(),
    )


def test_reward_is_one_on_the_reference_and_drops_with_error(backflip) -> None:
    from trainer_service.sim.reference import build_reference
    from trainer_service.sim.rewards import pose_distance, reward_terms

    config = SimConfig(episode_seconds=1.0)
    ref = build_reference(backflip, config)
    state = _reference_state(ref, 100)  # root quaternion negated: the same rotation
    terms = reward_terms(state, ref, 100, config.reward)
    assert terms.reward == pytest.approx(1.0, abs=1e-12) and pose_distance(state, ref, 100) == 0.0
    state.root_pos += [0.1, 0.0, 0.0]
    state.link_pos += [0.1, 0.0, 0.0]
    moved = reward_terms(state, ref, 100, config.reward)
    assert moved.root_err == pytest.approx(0.01) and moved.end_effector_err == pytest.approx(0.01)
    expected = (0.5 + 0.05 + 0.15 * np.exp(-0.4) + 0.2 * np.exp(-0.05) + 0.1) / 1.0
    assert moved.reward == pytest.approx(expected)
    assert pose_distance(state, ref, 100) == pytest.approx(0.1)


def test_target_observation_is_the_reference_in_the_heading_frame(backflip) -> None:
    from types import SimpleNamespace

    from trainer_service.sim.observation import OBSERVATION_SIZE, TARGET_SIZE, observe
    from trainer_service.sim.reference import build_reference

    ref = build_reference(backflip, SimConfig(episode_seconds=1.0))
    row = 150
    state = _reference_state(ref, row)
    state.link_rot = np.tile(ref.root_rot[row], (15, 1))
    plain = observe(state, 0.3)
    full = observe(state, 0.3, ref, row)
    assert full.shape == (OBSERVATION_SIZE + TARGET_SIZE,) and np.array_equal(full[:OBSERVATION_SIZE], plain)
    target = full[OBSERVATION_SIZE:]
    # On the reference itself the target bodies sit where the character's own bodies are.
    np.testing.assert_allclose(target[:45].reshape(15, 3), plain[2:107].reshape(15, 7)[:, :3], atol=1e-6)
    np.testing.assert_allclose(target[45:49], plain[2:107].reshape(15, 7)[0, 3:], atol=1e-6)
    np.testing.assert_allclose(np.abs(target[49:81]), np.abs(ref.joint_rot[row].ravel()), atol=1e-6)
    assert np.all(target[49:81].reshape(8, 4)[:, 0] >= 0.0)
    # Turning the whole world about +Y changes nothing the policy sees.
    yaw = rot.from_rotvec(np.array([0.0, 0.7, 0.0]))
    turn = lambda v: rot.rotate(yaw, v)  # noqa: E731
    turned_state = _reference_state(ref, row)
    for name in ("root_pos", "root_vel", "root_ang_vel", "link_pos", "link_vel", "link_ang_vel"):
        setattr(turned_state, name, turn(getattr(state, name)))
    turned_state.root_rot = rot.multiply(yaw, state.root_rot)
    turned_state.link_rot = rot.multiply(yaw, state.link_rot)
    turned_ref = SimpleNamespace(body_pos={row: turn(ref.body_pos[row])}, root_rot={row: rot.multiply(yaw, ref.root_rot[row])},
                                 joint_rot=ref.joint_rot, joint_angle=ref.joint_angle)
    np.testing.assert_allclose(observe(turned_state, 0.3, turned_ref, row), full, atol=1e-5)


def test_termination_rules_without_pybullet() -> None:
    import subprocess
    import sys

    from trainer_service.sim.character import LINK_NAMES
    from trainer_service.sim.termination import episode_ending, first_fall_contact

    knee, ankle, ground = LINK_NAMES.index("right_knee"), LINK_NAMES.index("left_ankle"), 0
    config = SimConfig(episode_seconds=1.0)  # 240 rows; 8 physics steps per control step
    feet_only = episode_ending([(ankle, ground)], 0.2, row=80, start_row=0, reference_rows=1000, config=config)
    assert feet_only == episode_ending([], 0.2, 80, 0, 1000, config)
    assert not (feet_only.terminated or feet_only.truncated or feet_only.fell or feet_only.unexpected)
    assert feet_only.first_contact is None
    fall = episode_ending([(ankle, ground), (knee, ground)], 0.2, 80, 0, 1000, config)
    assert fall.terminated and fall.fell and fall.unexpected and fall.first_contact == "right_knee"
    assert not fall.truncated
    assert first_fall_contact([(-1, ground)]) == "root"  # the base link
    # Without fall termination a fall is reported but the episode goes on.
    no_et = SimConfig(episode_seconds=1.0, fall_termination=False)
    kept = episode_ending([(knee, ground)], 0.2, 80, 0, 1000, no_et)
    assert kept.fell and kept.unexpected and not kept.terminated
    # Too far from the reference ends it; 0 switches that off.
    assert episode_ending([], 1.01, 80, 0, 1000, config).terminated
    assert not episode_ending([], 5.0, 80, 0, 1000, SimConfig(pose_termination_distance=0.0)).terminated
    # Time limit (240 rows after the start) and the reference's last rows truncate; a failure wins over both.
    assert episode_ending([], 0.2, 340, 100, 1000, config).truncated
    assert not episode_ending([], 0.2, 339, 100, 1000, config).truncated
    assert episode_ending([], 0.2, 92, 0, 100, config).truncated and not episode_ending([], 0.2, 91, 0, 100, config).truncated
    ended = episode_ending([(knee, ground)], 0.2, 340, 100, 1000, config)
    assert ended.terminated and not ended.truncated
    code = "import sys, trainer_service.sim.termination, trainer_service.sim.rewards; sys.exit('pybullet' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0, "the pure maths must not load pybullet"


def test_unsure_reference_frames_punish_a_deviation_less(backflip) -> None:
    from backflip_addon.core.clip import MotionClip
    from trainer_service.sim.reference import build_reference
    from trainer_service.sim.rewards import reward_terms

    config = SimConfig(episode_seconds=1.0)
    sure = build_reference(backflip, config)
    confidence = np.full(backflip.num_frames, 0.9)
    confidence[10:] = 0.0  # refilled from frame 10 (0.625 s) on
    unsure = build_reference(MotionClip(backflip.frames, backflip.loop, extras={"confidence": confidence.tolist()}), config)
    assert np.all(sure.weight == 1.0)
    row_sure, row_refilled = 60, 200  # 0.25 s and 0.83 s
    assert unsure.weight[row_sure] == 1.0 and unsure.weight[row_refilled] == pytest.approx(config.reward.confidence_floor)
    for row in (row_sure, row_refilled):
        state = _reference_state(sure, row)
        state.root_pos += [0.1, 0.0, 0.0]
        state.link_pos += [0.1, 0.0, 0.0]
        full, weighted = reward_terms(state, sure, row, config.reward), reward_terms(state, unsure, row, config.reward)
        assert weighted.root_err == full.root_err  # the errors are reported as they are
        assert (weighted.reward == pytest.approx(full.reward)) == (row == row_sure)
    assert weighted.reward > full.reward


def test_root_relative_pose_distance_ignores_the_path_but_not_the_pose(backflip) -> None:
    from trainer_service.sim.reference import build_reference
    from trainer_service.sim.rewards import pose_distance, root_relative_pose_distance

    ref = build_reference(backflip, SimConfig(episode_seconds=1.0))
    state = _reference_state(ref, 100)
    state.root_pos += [0.0, 0.5, 0.3]
    state.link_pos += [0.0, 0.5, 0.3]
    assert pose_distance(state, ref, 100) == pytest.approx(math.hypot(0.5, 0.3))
    assert root_relative_pose_distance(state, ref, 100) == pytest.approx(0.0, abs=1e-12)
    state.link_pos[7] += [0.0, 0.4, 0.0]  # one hand out of place
    assert root_relative_pose_distance(state, ref, 100) == pytest.approx(0.4)
    with pytest.raises(InvalidInputError, match="pose_termination_frame") as info:
        SimConfig(pose_termination_frame="pelvis")
    assert info.value.hint
    with pytest.raises(InvalidInputError, match="reference_prepass"):
        SimConfig(reference_prepass="sometimes")
