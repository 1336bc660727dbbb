"""VecEnv: shapes, auto-reset bookkeeping, agreement with ImitationEnv, bad input and dead workers."""
from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest

from backflip_addon.core.errors import InvalidInputError
from trainer_service.sim.config import SimConfig
from trainer_service.sim.env import ImitationEnv
from trainer_service.sim.vec import SimWorkerError, VecEnv, WorkerCore

SHORT = SimConfig(episode_seconds=0.2)  # 6 control steps per episode at most


def test_vec_env_steps_and_auto_resets(backflip) -> None:
    actions = np.random.default_rng(2).normal(0.0, 0.05, (8, 3, 28))
    with VecEnv(backflip, SHORT, num_envs=3, seed=10, num_workers=2) as vec:
        assert (vec.num_envs, vec.observation_size, vec.action_size) == (3, 197, 28)
        obs = vec.reset()
        assert obs.shape == (3, 197) and obs.dtype == np.float32
        seen_done = False
        for step in range(8):
            obs, reward, terminated, truncated, info = vec.step(actions[step])
            assert reward.shape == (3,) and terminated.dtype == bool and truncated.dtype == bool
            done = terminated | truncated
            assert np.all(np.isnan(info["episode_return"][~done]))
            if done.any():
                seen_done = True
                assert np.all(info["episode_length"][done] >= 1)
                assert not np.array_equal(info["final_obs"][done], obs[done])  # obs is the next episode's
        assert seen_done

    # Env i of the VecEnv is ImitationEnv(seed=10 + i) driven by the same actions.
    with ImitationEnv(backflip, SHORT, seed=11) as single:
        expected = single.reset()
    with VecEnv(backflip, SHORT, num_envs=2, seed=10) as vec:
        np.testing.assert_array_equal(vec.reset()[1], expected)


def test_every_step_field_through_shared_memory_matches_the_in_process_core(backflip) -> None:
    """3 envs on 2 workers (rows 0-1 and 2 of the shared block) agree field by field with one WorkerCore
    holding the same seeds, across auto-resets."""
    actions = np.random.default_rng(4).normal(0.0, 0.1, (9, 3, 28))
    core = WorkerCore(backflip.frames, backflip.loop, SHORT.to_dict(), seeds=[5, 6, 7])
    with VecEnv(backflip, SHORT, num_envs=3, seed=5, num_workers=2) as vec:
        np.testing.assert_array_equal(vec.reset(), core.reset())
        for step in range(9):
            obs, reward, terminated, truncated, info = vec.step(actions[step])
            expected = core.step(actions[step])
            np.testing.assert_array_equal(obs, expected.obs)
            np.testing.assert_array_equal(reward, expected.reward)
            np.testing.assert_array_equal(terminated | truncated, expected.terminated | expected.truncated)
            for name in ("final_obs", "episode_return", "episode_length", "fell", "time"):
                np.testing.assert_array_equal(info[name], getattr(expected, name), err_msg=name)
    core.close()


def test_worker_core_is_a_plain_class(backflip) -> None:
    core = WorkerCore(backflip.frames, backflip.loop, SHORT.to_dict(), seeds=[0, 1])
    assert core.reset().shape == (2, 197)
    result = core.step(np.zeros((2, 28)))
    assert result.obs.shape == (2, 197) and result.reward.shape == (2,)
    core.close()


def test_nan_actions_are_refused_and_workers_survive(backflip) -> None:
    with VecEnv(backflip, SHORT, num_envs=2) as vec:
        vec.reset()
        bad = np.zeros((2, 28))
        bad[1, 4] = np.nan
        with pytest.raises(InvalidInputError, match=r"env\(s\) \[1\]"):
            vec.step(bad)
        with pytest.raises(InvalidInputError, match="shape"):
            vec.step(np.zeros((3, 28)))
        vec.step(np.zeros((2, 28)))
    assert not [p for p in mp.active_children() if p.name.startswith("backflip-sim")]


def test_a_dead_worker_is_an_error_and_nothing_is_left_behind(backflip) -> None:
    vec = VecEnv(backflip, SHORT, num_envs=2, num_workers=2)
    vec.reset()
    vec._procs[0].kill()
    vec._procs[0].join()
    with pytest.raises(SimWorkerError) as info:
        vec.step(np.zeros((2, 28)))
    assert info.value.hint
    assert not [p for p in mp.active_children() if p.name.startswith("backflip-sim")]
    with pytest.raises(SimWorkerError, match="closed"):
        vec.step(np.zeros((2, 28)))

