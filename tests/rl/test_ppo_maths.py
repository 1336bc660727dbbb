"""PPO's pure parts: GAE against a plain per-step sum, the clipped update's direction, configs."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from backflip_addon.core.errors import InvalidInputError
from trainer_service.rl import ppo
from backflip_addon.core.config import from_dict
from trainer_service.rl.config import PPOConfig, TrainConfig, to_dict
from trainer_service.rl.networks import PolicySnapshot, RunningNorm


def gae_by_definition(rewards, values, dones, last_values, gamma, lam):
    """A_t = sum_k (γλ)^k δ_{t+k}, stopping after the step that ends the episode."""
    steps, n = rewards.shape
    next_values = np.concatenate([values[1:], last_values[None]], axis=0)
    deltas = rewards + gamma * next_values * (1 - dones) - values
    adv = np.zeros_like(rewards)
    for i in range(n):
        for t in range(steps):
            total, factor = 0.0, 1.0
            for k in range(t, steps):
                total += factor * deltas[k, i]
                if dones[k, i]:
                    break
                factor *= gamma * lam
            adv[t, i] = total
    return adv


def test_gae_matches_the_definition_across_episode_ends():
    rng = np.random.default_rng(0)
    rewards = rng.random((37, 3))
    values = rng.random((37, 3)) * 5
    dones = (rng.random((37, 3)) < 0.15).astype(np.float64)
    last = rng.random(3) * 5
    adv, ret = ppo.compute_gae(rewards, values, dones, last, 0.95, 0.9)
    expected = gae_by_definition(rewards, values, dones, last, 0.95, 0.9)
    np.testing.assert_allclose(adv, expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ret, expected + values)


def test_gae_with_lambda_one_is_the_discounted_return_to_a_termination():
    rewards = np.ones((4, 1))
    dones = np.array([[0.0], [0.0], [1.0], [0.0]])
    values = np.zeros((4, 1))
    _, ret = ppo.compute_gae(rewards, values, dones, np.array([100.0]), 0.5, 1.0)
    np.testing.assert_allclose(ret[:, 0], [1.75, 1.5, 1.0, 1.0 + 0.5 * 100.0])


def test_update_moves_the_policy_towards_actions_with_positive_advantage():
    torch.manual_seed(0)
    cfg = PPOConfig(hidden_sizes=(32, 32), minibatch_size=64, update_epochs=4, learning_rate=3e-3, target_kl=0.0)
    agent = ppo.Agent(5, 2, cfg)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(64, 2, 5)).astype(np.float32)
    with torch.no_grad():
        dist = agent.actor.distribution(torch.as_tensor(obs), cfg.min_log_std)
        actions = dist.sample()
        logprobs = dist.log_prob(actions).sum(-1)
    # Reward the first action component being positive.
    advantages = np.sign(actions[..., 0].numpy()).astype(np.float64)
    ro = ppo.Rollout(obs=obs, actions=actions.numpy(), logprobs=logprobs.numpy(),
                     rewards=np.zeros((64, 2), np.float32), dones=np.zeros((64, 2), np.float32),
                     values=np.zeros((64, 2), np.float32))
    before = agent.actor(torch.as_tensor(obs))[..., 0].mean().item()
    metrics = ppo.update(agent, ro, advantages, advantages, torch.Generator().manual_seed(0))
    after = agent.actor(torch.as_tensor(obs))[..., 0].mean().item()
    assert after > before + 0.01
    assert {"losses/policy_loss", "losses/value_loss", "charts/action_std"} <= set(metrics)


def test_running_norm_matches_numpy_over_several_batches():
    rng = np.random.default_rng(1)
    data = rng.normal(3.0, 2.0, size=(1000, 4))
    norm = RunningNorm(4)
    for chunk in np.array_split(data, 7):
        norm.update(chunk)
    np.testing.assert_allclose(norm.mean.numpy(), data.mean(0), rtol=1e-4)
    np.testing.assert_allclose(norm.var.numpy(), data.var(0), rtol=1e-3)


def test_policy_snapshot_round_trips(tmp_path):
    agent = ppo.Agent(7, 3, PPOConfig(hidden_sizes=(16, 8)))
    agent.actor.norm.update(np.random.default_rng(0).normal(size=(50, 7)))
    path = tmp_path / "policy.pt"
    path.write_bytes(PolicySnapshot.of(agent.actor).to_bytes())
    actor = PolicySnapshot.load(path).build()
    x = torch.randn(4, 7)
    torch.testing.assert_close(actor(x), agent.actor(x))


def test_config_round_trips_and_rejects_unknown_keys():
    config = TrainConfig()
    config.ppo.hidden_sizes = (64, 32)
    again = from_dict(TrainConfig, json.loads(json.dumps(to_dict(config))))
    assert again == config
    with pytest.raises(InvalidInputError, match="num_step"):
        from_dict(TrainConfig, {"ppo": {"num_step": 3}})


class ScriptedEnvs:
    """Two envs with reward 1 per step: env 0 hits its time limit at step 2, env 1 falls at step 2."""

    def __init__(self) -> None:
        self.t = 0

    def step(self, actions):
        assert actions.shape == (2, 2)
        self.t += 1
        end = self.t == 2
        obs = np.full((2, 5), float(self.t), np.float32)
        info = {"final_obs": np.full((2, 5), 9.0, np.float32), "episode_return": np.array([2.0, 2.0]),
                "episode_length": np.array([2, 2]), "time": np.array([0.1, 0.2]) * self.t}
        return obs, np.ones(2), np.array([False, end]), np.array([end, False]), info


def test_time_limit_is_bootstrapped_and_a_fall_is_not():
    agent = ppo.Agent(5, 2, PPOConfig(hidden_sizes=(8,), gamma=0.9))
    ro, last = ppo.collect(ScriptedEnvs(), agent, np.zeros((2, 5), np.float32), 3)
    np.testing.assert_array_equal(ro.obs[:, :, 0], [[0, 0], [1, 1], [2, 2]])  # the obs each action was picked on
    np.testing.assert_array_equal(last[:, 0], [3, 3])
    with torch.no_grad():
        v_final = agent.value(torch.full((1, 5), 9.0)).item()
    np.testing.assert_allclose(ro.rewards[1], [1.0 + 0.9 * v_final, 1.0], rtol=1e-5)
    np.testing.assert_allclose(ro.rewards[[0, 2]], 1.0)
    np.testing.assert_array_equal(ro.dones[1], [1.0, 1.0])
    assert ro.terminations == 1 and ro.episode_returns == [2.0, 2.0]
    assert ro.episode_end_times == pytest.approx([0.2, 0.4])  # the clip time each ended episode reached


def test_update_threads_follow_the_faster_choice():
    from trainer_service.rl.trainer import UpdateThreads

    assert UpdateThreads(3, 2).pick() == 3 and UpdateThreads(0, 1).pick() == 1
    chooser = UpdateThreads(0, 2)
    picks = []
    for _ in range(60):
        n = chooser.pick()
        picks.append(n)
        chooser.record(n, 0.01 if n == 2 else 0.02)  # a free machine: two threads are faster
    assert picks[:2] == [2, 1] and picks.count(2) > 50 and 1 in picks[2:]  # probed now and then
    for _ in range(60):  # then the cores fill up with other work: two threads wait on each other
        n = chooser.pick()
        chooser.record(n, 0.2 if n == 2 else 0.02)
    assert [chooser.pick() for _ in range(20)].count(1) >= 19


def test_approx_kl_is_the_k3_estimate_of_the_collecting_policys_kl_to_the_current_one():
    """One policy step over the whole batch: the reported approx_kl is measured before that step, from
    the batch's log-probabilities, and estimates KL(collecting || current) of the two Gaussians."""
    torch.manual_seed(0)
    cfg = PPOConfig(hidden_sizes=(16,), minibatch_size=4096, update_epochs=1, target_kl=0.0, min_log_std=-5.0)
    agent = ppo.Agent(3, 2, cfg)
    rng = np.random.default_rng(1)
    obs = rng.normal(size=(4096, 1, 3)).astype(np.float32)
    with torch.no_grad():
        mean = agent.actor(torch.as_tensor(obs)).numpy().astype(np.float64)
        std = np.exp(agent.actor.log_std.numpy().astype(np.float64))
    # The collecting policy: the current one shifted by 0.1 std and 20 % wider.
    old_mean, old_std = mean + 0.1 * std, 1.2 * std
    actions = old_mean + old_std * rng.normal(size=mean.shape)

    def log_density(x, mu, sigma):
        return (-0.5 * ((x - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)).sum(-1)

    old_logprobs = log_density(actions, old_mean, old_std)
    logratio = log_density(actions, mean, std) - old_logprobs
    direct = float(np.mean(np.expm1(logratio) - logratio))
    ro = ppo.Rollout(obs=obs, actions=actions.astype(np.float32), logprobs=old_logprobs.astype(np.float32),
                     rewards=np.zeros((4096, 1), np.float32), dones=np.zeros((4096, 1), np.float32),
                     values=np.zeros((4096, 1), np.float32))
    advantages = rng.normal(size=(4096, 1))
    metrics = ppo.update(agent, ro, advantages, advantages, torch.Generator().manual_seed(0))
    assert metrics["losses/policy_steps"] == 1.0
    assert metrics["losses/approx_kl"] == pytest.approx(direct, rel=1e-3)
    # Per dimension KL(N(m0, s0) || N(m1, s1)) = log(s1/s0) + (s0^2 + (m0-m1)^2) / (2 s1^2) - 1/2.
    analytic = 2 * (np.log(1 / 1.2) + (1.2**2 + 0.1**2) / 2 - 0.5)
    assert metrics["losses/approx_kl"] == pytest.approx(analytic, rel=0.1)
