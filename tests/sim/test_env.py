"""ImitationEnv: reference replay, termination, determinism, placement, read-outs, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from backflip_addon.core import rotations as rot
from backflip_addon.core.errors import InvalidInputError
from trainer_service.sim.env import ImitationEnv
from trainer_service.sim.config import SimConfig
from trainer_service.sim.observation import OBSERVATION_SIZE

FALL_ONLY = dict(pose_termination_distance=0.0)  # end episodes on fall contacts only


START_TIMES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4)  # s: phases spread over the backflip


def _rollouts(env: ImitationEnv, steps: int) -> tuple[float, int]:
    """Mean reward and total steps survived over START_TIMES, zero action, fall contacts end episodes."""
    rewards, survived = [], 0
    for t0 in START_TIMES:
        env.reset(start_time=t0)
        for _ in range(steps):
            _, reward, terminated, _, _ = env.step(np.zeros(env.action_size))
            rewards.append(reward)
            survived += 1
            if terminated:
                break
    return float(np.mean(rewards)), survived


def test_reference_replay_beats_zero_targets(backflip) -> None:
    # Zero action: residual mode = PD targets at the reference pose; absolute mode = all joints at rest.
    with ImitationEnv(backflip, SimConfig(residual_actions=True, **FALL_ONLY)) as replay:
        replay_reward, replay_steps = _rollouts(replay, 60)
    with ImitationEnv(backflip, SimConfig(residual_actions=False, **FALL_ONLY)) as zero:
        zero_reward, zero_steps = _rollouts(zero, 60)
    assert replay_reward > zero_reward + 0.1
    assert replay_steps > zero_steps


def test_head_on_the_ground_terminates(backflip) -> None:
    with ImitationEnv(backflip, SimConfig(**FALL_ONLY)) as env:
        env.reset(start_time=0.0)
        upside_down = backflip.frames[0].copy()
        upside_down[4:8] = rot.multiply(np.array([0.0, 0.0, 0.0, 1.0]), rot.normalize(upside_down[4:8]))
        upside_down[1:4] = [0.0, 0.8, 0.0]  # neck sphere ~5 cm above the ground
        env.set_pose(upside_down)
        for _ in range(10):
            _, _, terminated, _, info = env.step(np.zeros(env.action_size))
            if terminated:
                break
        assert terminated and info["fell"]
        assert info["first_contact"] == "neck"


@pytest.mark.parametrize("physics_hz", [240, 120])
def test_standing_start_is_not_a_fall(backflip, physics_hz: int) -> None:
    with ImitationEnv(backflip, SimConfig(physics_hz=physics_hz)) as env:
        obs = env.reset(start_time=0.0)
        assert obs.shape == (OBSERVATION_SIZE,) and obs.dtype == np.float32
        _, reward, terminated, truncated, info = env.step(np.zeros(env.action_size))
        assert not (terminated or truncated or info["fell"]) and info["first_contact"] is None
        assert reward > 0.8 and 0.0 < info["phase"] < 0.05
        assert info["time"] == pytest.approx(1.0 / 30.0)


def test_same_seed_same_rollout_even_after_other_episodes(backflip) -> None:
    actions = np.random.default_rng(5).normal(0.0, 0.1, (20, 28))

    def rollout(env: ImitationEnv, seed: int) -> np.ndarray:
        out = [env.reset(seed=seed)]
        for action in actions:
            obs, _, terminated, truncated, _ = env.step(action)
            out.append(obs)
            if terminated or truncated:
                break
        return np.array(out)

    with ImitationEnv(backflip, SimConfig()) as a, ImitationEnv(backflip, SimConfig()) as b:
        first = rollout(a, 3)
        assert np.array_equal(first, rollout(b, 3))
        rollout(a, 4)
        assert np.array_equal(first, rollout(a, 3))
        assert not np.array_equal(first[0], rollout(b, 4)[0])  # another seed, another start phase


def test_start_position_and_heading_place_the_character(backflip) -> None:
    config = SimConfig(start_position=(2.0, 0.0, -1.0), start_heading=np.pi / 2)
    with ImitationEnv(backflip, config) as env:
        env.reset(start_time=0.0)
        state = env.state()
    np.testing.assert_allclose(state[[1, 3]], [2.0, -1.0], atol=1e-9)
    forward = rot.rotate(rot.normalize(state[4:8]), np.array([1.0, 0.0, 0.0]))
    original = rot.rotate(rot.normalize(backflip.frames[0, 4:8]), np.array([1.0, 0.0, 0.0]))
    turned = rot.rotate(rot.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.array(np.pi / 2)), original)
    np.testing.assert_allclose(forward, turned, atol=1e-6)


def test_state_row_is_the_simulated_pose(backflip) -> None:
    with ImitationEnv(backflip, SimConfig()) as env:
        env.reset(start_time=0.5)
        row = env.state()
    assert row.shape == (44,) and row[0] == 0.0
    expected = backflip.sample(np.array([0.5]))[0]
    np.testing.assert_allclose(row[1:4], expected[1:4], atol=1e-6)
    for start in (4, 8, 12, 16, 21, 25, 30, 35, 39):
        assert rot.angle_between(row[start : start + 4], expected[start : start + 4]) < 1e-4
    np.testing.assert_allclose(row[[20, 29, 34, 43]], expected[[20, 29, 34, 43]], atol=1e-6)


def test_bad_actions_are_clear_errors(backflip) -> None:
    with ImitationEnv(backflip, SimConfig()) as env:
        env.reset()
        action = np.zeros(env.action_size)
        action[5] = np.nan
        with pytest.raises(InvalidInputError, match="NaN") as info:
            env.step(action)
        assert info.value.hint
        with pytest.raises(InvalidInputError, match="shape"):
            env.step(np.zeros(36))
        env.step(np.zeros(env.action_size))  # still usable


def test_time_limit_truncates(backflip) -> None:
    with ImitationEnv(backflip, SimConfig(episode_seconds=0.1)) as env:
        env.reset(start_time=0.0)
        flags = [env.step(np.zeros(env.action_size))[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]


def test_rsi_window_keeps_starts_inside_it(backflip) -> None:
    # 200 random starts: with a 0.5 s window all of them lie in its first 0.5 s, without it they spread
    # over the clip (1.75 s).
    with ImitationEnv(backflip, SimConfig(rsi_window=0.5), seed=4) as env:
        windowed = [(env.reset(), env.time)[1] for _ in range(200)]
    with ImitationEnv(backflip, SimConfig(), seed=4) as env:
        whole = [(env.reset(), env.time)[1] for _ in range(200)]
    assert max(windowed) < 0.5 and min(windowed) < 0.05
    assert max(whole) > 1.2
    with pytest.raises(InvalidInputError, match="rsi_window"):
        SimConfig(rsi_window=-1.0)
