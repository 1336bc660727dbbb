"""PPO for imitation, read top to bottom: collect a rollout, estimate advantages (GAE), update.

Names follow Schulman et al. (2017) and CleanRL's ppo_continuous_action.py. Two details matter for
imitation with early termination:
- a time-limit end (`truncated`) is not a failure: its last reward is bootstrapped with γ·V(final
  observation), while a termination (a fall) gets no future value;
- the critic predicts V·(1-γ) so its regression targets stay O(1) (see networks.Critic).
All hyperparameters live in `config.PPOConfig`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .config import PPOConfig
from .networks import Actor, Critic


class Agent(nn.Module):
    """Actor, critic and their optimisers; the critic shares the actor's observation normaliser."""

    def __init__(self, obs_size: int, action_size: int, config: PPOConfig) -> None:
        super().__init__()
        self.config = config
        self.actor = Actor(obs_size, action_size, config.hidden_sizes, config.init_log_std, config.obs_clip)
        self.critic = Critic(obs_size, config.hidden_sizes, self.actor.norm)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=config.learning_rate, eps=1e-5)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=config.critic_learning_rate, eps=1e-5)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """Discounted value in reward units (the critic's output divided by 1-γ)."""
        return self.critic(obs) / (1.0 - self.config.gamma)

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sampled actions and their log-probabilities for a batch of observations."""
        dist = self.actor.distribution(torch.as_tensor(obs, dtype=torch.float32), self.config.min_log_std)
        action = dist.sample()
        return action.numpy(), dist.log_prob(action).sum(-1).numpy()

    @torch.no_grad()
    def values(self, obs: np.ndarray) -> np.ndarray:
        """Discounted values of observations of any leading shape, in one batch."""
        x = torch.as_tensor(obs, dtype=torch.float32)
        return self.value(x.reshape(-1, x.shape[-1])).numpy().reshape(x.shape[:-1])

    def optimizer_state(self) -> dict:
        return {"actor": self.actor_optimizer.state_dict(), "critic": self.critic_optimizer.state_dict()}

    def load_optimizer_state(self, state: dict) -> None:
        self.actor_optimizer.load_state_dict(state["actor"])
        self.critic_optimizer.load_state_dict(state["critic"])

    def set_learning_rate_fraction(self, fraction: float) -> None:
        for group in self.actor_optimizer.param_groups:
            group["lr"] = self.config.learning_rate * fraction
        for group in self.critic_optimizer.param_groups:
            group["lr"] = self.config.critic_learning_rate * fraction


@dataclass
class Rollout:
    """num_steps x num_envs transitions; `dones[t]` = the episode ended with step t."""

    obs: np.ndarray
    actions: np.ndarray
    logprobs: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    values: np.ndarray
    last_values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    episode_returns: list[float] = field(default_factory=list)
    episode_lengths: list[int] = field(default_factory=list)
    episode_end_times: list[float] = field(default_factory=list)
    """clip time (s) each finished episode reached (see attempts.count_attempts)"""
    raw_reward_sum: float = 0.0
    terminations: int = 0


def collect(envs, agent: Agent, obs: np.ndarray, num_steps: int) -> tuple[Rollout, np.ndarray]:
    """Step the vectorised simulator `num_steps` times with batched inference; returns the next obs.

    Only the actor runs between steps; the critic does not change during collection, so the values
    (and the time-limit bootstraps) are computed afterwards in one batch.
    """
    n, obs_size = obs.shape
    action_size = agent.actor.log_std.numel()
    ro = Rollout(
        obs=np.zeros((num_steps, n, obs_size), np.float32),
        actions=np.zeros((num_steps, n, action_size), np.float32),
        logprobs=np.zeros((num_steps, n), np.float32),
        rewards=np.zeros((num_steps, n), np.float32),
        dones=np.zeros((num_steps, n), np.float32),
        values=np.zeros((num_steps, n), np.float32),
    )
    time_limits: list[tuple[int, np.ndarray, np.ndarray]] = []  # (step, envs, final observations)
    for t in range(num_steps):
        action, logprob = agent.act(obs)
        ro.obs[t], ro.actions[t], ro.logprobs[t] = obs, action, logprob
        obs, reward, terminated, truncated, info = envs.step(action)
        ro.raw_reward_sum += float(np.sum(reward, dtype=np.float64))
        time_limit = np.asarray(truncated, bool) & ~np.asarray(terminated, bool)
        if time_limit.any():
            time_limits.append((t, np.flatnonzero(time_limit), np.asarray(info["final_obs"])[time_limit]))
        done = np.asarray(terminated, bool) | np.asarray(truncated, bool)
        ro.terminations += int(np.sum(terminated))
        ro.rewards[t], ro.dones[t] = reward, done
        for i in np.flatnonzero(done):
            ro.episode_returns.append(float(info["episode_return"][i]))
            ro.episode_lengths.append(int(info["episode_length"][i]))
            ro.episode_end_times.append(float(info["time"][i]))
    ro.values[:] = agent.values(ro.obs)
    ro.last_values = agent.values(obs)
    if time_limits:
        # Bootstrap a time-limit end: the episode would have gone on, so add γ·V(s_final).
        finals = agent.values(np.concatenate([final for _, _, final in time_limits]))
        cursor = 0
        for t, envs_ended, _ in time_limits:
            ro.rewards[t, envs_ended] += agent.config.gamma * finals[cursor : cursor + len(envs_ended)]
            cursor += len(envs_ended)
    return ro, obs


def compute_gae(rewards: np.ndarray, values: np.ndarray, dones: np.ndarray, last_values: np.ndarray,
                gamma: float, gae_lambda: float) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimation over (T, N) arrays; returns (advantages, value targets).

    `dones[t]` marks that the state after step t belongs to a new episode (time-limit bootstraps are
    already folded into `rewards`), so nothing flows back across it.
    """
    steps = len(rewards)
    advantages = np.zeros_like(values, dtype=np.float64)
    last = np.zeros_like(last_values, dtype=np.float64)
    for t in reversed(range(steps)):
        next_values = last_values if t == steps - 1 else values[t + 1]
        live = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_values * live - values[t]
        last = delta + gamma * gae_lambda * live * last
        advantages[t] = last
    return advantages, advantages + values


def update(agent: Agent, ro: Rollout, advantages: np.ndarray, returns: np.ndarray,
           generator: torch.Generator) -> dict[str, float]:
    """Clipped-surrogate policy update and value regression over the batch; returns metrics."""
    cfg = agent.config
    b_obs = torch.as_tensor(ro.obs.reshape(-1, ro.obs.shape[-1]))
    b_actions = torch.as_tensor(ro.actions.reshape(-1, ro.actions.shape[-1]))
    b_logprobs = torch.as_tensor(ro.logprobs.reshape(-1))
    b_adv = torch.as_tensor(advantages.reshape(-1), dtype=torch.float32)
    # The critic regresses V·(1-γ); see networks.Critic.
    b_targets = torch.as_tensor(returns.reshape(-1) * (1.0 - cfg.gamma), dtype=torch.float32)
    b_old_values = torch.as_tensor(ro.values.reshape(-1) * (1.0 - cfg.gamma), dtype=torch.float32)
    batch = b_obs.shape[0]
    mb = min(cfg.minibatch_size, batch)
    stats: dict[str, list[float]] = {k: [] for k in ("policy_loss", "value_loss", "entropy", "approx_kl",
                                                       "clipfrac", "bound_loss")}
    policy_stopped = False
    for _epoch in range(cfg.update_epochs):
        order = torch.randperm(batch, generator=generator)
        for start in range(0, batch - mb + 1, mb):
            idx = order[start : start + mb]
            if not policy_stopped:
                policy_stopped = _policy_step(agent, b_obs[idx], b_actions[idx], b_logprobs[idx], b_adv[idx], stats)
            _value_step(agent, b_obs[idx], b_targets[idx], b_old_values[idx], stats)
    values = ro.values.reshape(-1)
    targets = returns.reshape(-1)
    var_y = np.var(targets)
    out = {f"losses/{k}": float(np.mean(v)) if v else 0.0 for k, v in stats.items()}
    out["losses/explained_variance"] = float("nan") if var_y == 0 else float(1 - np.var(targets - values) / var_y)
    out["losses/kl_early_stop"] = float(policy_stopped)
    out["losses/policy_steps"] = float(len(stats["policy_loss"]))
    out["losses/steps"] = float(len(stats["policy_loss"]) + len(stats["value_loss"]))
    out["charts/action_std"] = float(torch.exp(agent.actor.log_std).mean().item())
    return out


def _policy_step(agent: Agent, obs: torch.Tensor, actions: torch.Tensor, old_logprobs: torch.Tensor,
                 adv: torch.Tensor, stats: dict[str, list[float]]) -> bool:
    """One clipped-surrogate step on a minibatch; returns True (and skips the step) once the policy has
    moved more than 1.5·target_kl from the one that collected the batch (Stable-Baselines3's rule: with
    a small action std one large step can otherwise move the policy by a KL of 1)."""
    cfg = agent.config
    dist = agent.actor.distribution(obs, cfg.min_log_std)
    logratio = dist.log_prob(actions).sum(-1) - old_logprobs
    ratio = logratio.exp()
    with torch.no_grad():
        approx_kl = ((ratio - 1) - logratio).mean().item()
    stats["approx_kl"].append(approx_kl)
    if cfg.target_kl > 0 and approx_kl > 1.5 * cfg.target_kl:
        return True
    if cfg.norm_adv:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    pg_loss = torch.max(-adv * ratio, -adv * torch.clamp(ratio, 1 - cfg.clip_coef, 1 + cfg.clip_coef)).mean()
    entropy = dist.entropy().sum(-1).mean()
    bound_loss = (torch.relu(dist.mean.abs() - cfg.action_bound) ** 2).sum(-1).mean()
    actor_loss = pg_loss - cfg.ent_coef * entropy + cfg.action_bound_coef * bound_loss
    agent.actor_optimizer.zero_grad()
    actor_loss.backward()
    nn.utils.clip_grad_norm_(agent.actor.parameters(), cfg.max_grad_norm)
    agent.actor_optimizer.step()
    stats["clipfrac"].append(((ratio.detach() - 1.0).abs() > cfg.clip_coef).float().mean().item())
    stats["policy_loss"].append(pg_loss.item())
    stats["entropy"].append(entropy.item())
    stats["bound_loss"].append(bound_loss.item())
    return False


def _value_step(agent: Agent, obs: torch.Tensor, targets: torch.Tensor, old_values: torch.Tensor,
                stats: dict[str, list[float]]) -> None:
    """One regression step of the critic on V·(1-γ) targets (optionally clipped around the old values)."""
    cfg = agent.config
    new_values = agent.critic(obs)
    if cfg.clip_vloss:
        clipped = old_values + torch.clamp(new_values - old_values, -cfg.clip_coef, cfg.clip_coef)
        v_loss = 0.5 * torch.max((new_values - targets) ** 2, (clipped - targets) ** 2).mean()
    else:
        v_loss = 0.5 * ((new_values - targets) ** 2).mean()
    agent.critic_optimizer.zero_grad()
    v_loss.backward()
    nn.utils.clip_grad_norm_(agent.critic.parameters(), cfg.max_grad_norm)
    agent.critic_optimizer.step()
    stats["value_loss"].append(v_loss.item())
