"""A Ray rollout actor that dies is replaced and stepping goes on (local Ray session on loopback)."""
from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from backflip_addon.core.clip import load_clip
from backflip_addon.core.errors import BackflipError
from trainer_service.rl import ppo
from trainer_service.rl.config import PPOConfig
from trainer_service.sim.character import ACTION_SIZE
from trainer_service.sim.config import SimConfig


def test_a_killed_actor_is_restarted_and_collection_goes_on(backflip_clip_path):
    ray = pytest.importorskip("ray")
    from trainer_service.rl.ray_backend import RayVecEnv

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        clip = load_clip(backflip_clip_path)
        envs = RayVecEnv(clip, SimConfig(), num_envs=2, seed=3, num_actors=2)
        obs = envs.reset()
        agent = ppo.Agent(envs.observation_size, envs.action_size, PPOConfig(hidden_sizes=(32, 16)))
        rollout, obs = ppo.collect(envs, agent, obs, 8)
        victim = envs.actors[1]
        pid = ray.get(victim.__ray_call__.remote(lambda core: os.getpid()))
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until Ray has noticed: a call on the dead actor fails
            try:
                ray.get(victim.__ray_call__.remote(lambda core: None), timeout=5)
            except ray.exceptions.RayActorError:
                break
            time.sleep(0.2)
        # A training's next collection: the dead actor's episodes end cut short, then the replacement steps.
        rollout, obs = ppo.collect(envs, agent, obs, 16)
        assert envs.restarts == 1
        assert envs.actors[1] is not victim
        new_pid = ray.get(envs.actors[1].__ray_call__.remote(lambda core: os.getpid()))
        assert new_pid != pid
        assert obs.shape == (2, envs.observation_size) and np.isfinite(obs).all()
        assert np.isfinite(rollout.rewards).all() and rollout.rewards[1:, 1].max() > 0  # the new actor is simulating
        assert all(np.isfinite(r) for r in rollout.episode_returns)
        envs.close()
    finally:
        ray.shutdown()


def test_ray_actors_step_like_local_workers(backflip_clip_path, caplog):
    """The same seeds and actions give the same observations, rewards and episode ends through Ray actors
    as through local worker processes; an error in an actor comes back to the learner."""
    ray = pytest.importorskip("ray")
    from trainer_service.rl.ray_backend import RayVecEnv
    from trainer_service.sim.vec import VecEnv

    clip = load_clip(backflip_clip_path)
    actions = np.random.default_rng(1).normal(0.0, 0.3, (40, 4, ACTION_SIZE))
    with VecEnv(clip, SimConfig(), num_envs=4, seed=5, num_workers=2) as local:
        expected = [local.reset()] + [local.step(a)[:4] for a in actions]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        with RayVecEnv(clip, SimConfig(), num_envs=4, seed=5, num_actors=2) as remote:
            if os.nice(0) < 19:  # Ray's default runs its workers 15 steps nicer (at most 19): the learner warns
                assert "RAY_worker_niceness=0" in caplog.text
            got = [remote.reset()] + [remote.step(a)[:4] for a in actions]
            with pytest.raises(BackflipError, match="rollout actor failed"):
                remote.step(np.zeros((4, 5)))  # wrong action size: the simulator raises inside the actor
            assert remote.restarts == 0
    finally:
        ray.shutdown()
    np.testing.assert_array_equal(got[0], expected[0])
    for g, e in zip(got[1:], expected[1:]):
        for a, b in zip(g, e):
            np.testing.assert_array_equal(a, b)
    assert any(e[2].any() or e[3].any() for e in expected[1:])  # some episode ended on the way
