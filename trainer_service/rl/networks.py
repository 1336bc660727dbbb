"""Policy and value networks: MLPs over normalised observations, a diagonal Gaussian policy.

A stage's `policy.pt` holds only what acting needs (`PolicySnapshot`): the actor's weights, its
observation normaliser and the sizes to rebuild it — a few MB, loadable without the trainer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from backflip_addon.core.errors import InvalidInputError

POLICY_FORMAT = 1


class RunningNorm(nn.Module):
    """Running mean and variance of observations (Chan et al.'s parallel update), as buffers."""

    def __init__(self, size: int, clip: float = 10.0, epsilon: float = 1e-4) -> None:
        super().__init__()
        self.clip = clip
        self.register_buffer("mean", torch.zeros(size, dtype=torch.float64))
        self.register_buffer("var", torch.ones(size, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(epsilon, dtype=torch.float64))

    @torch.no_grad()
    def update(self, batch: np.ndarray) -> None:
        x = torch.as_tensor(batch, dtype=torch.float64).reshape(-1, self.mean.numel())
        batch_mean, batch_var, n = x.mean(0), x.var(0, unbiased=False), x.shape[0]
        delta = batch_mean - self.mean
        total = self.count + n
        self.mean += delta * n / total
        self.var.copy_((self.var * self.count + batch_var * n + delta**2 * self.count * n / total) / total)
        self.count.fill_(float(total))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        std = torch.sqrt(self.var + 1e-8)
        return torch.clamp((obs - self.mean.to(obs.dtype)) / std.to(obs.dtype), -self.clip, self.clip)


def mlp(sizes: list[int], out_gain: float) -> nn.Sequential:
    """ReLU MLP with orthogonal initialisation; the last layer scaled by `out_gain`."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = nn.Linear(a, b)
        last = i == len(sizes) - 2
        nn.init.orthogonal_(linear.weight, out_gain if last else math.sqrt(2))
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if not last:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Actor(nn.Module):
    """Gaussian policy: mean = MLP(normalised obs), state-independent learned log std."""

    def __init__(self, obs_size: int, action_size: int, hidden: tuple[int, ...], init_log_std: float,
                 obs_clip: float = 10.0) -> None:
        super().__init__()
        self.norm = RunningNorm(obs_size, clip=obs_clip)
        # A near-zero last layer starts the policy at "follow the reference" (residual actions ~ 0).
        self.mean = mlp([obs_size, *hidden, action_size], out_gain=0.01)
        self.log_std = nn.Parameter(torch.full((action_size,), float(init_log_std)))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.mean(self.norm(obs))

    def distribution(self, obs: torch.Tensor, min_log_std: float) -> torch.distributions.Normal:
        mean = self(obs)
        std = torch.exp(torch.clamp(self.log_std, min=min_log_std)).expand_as(mean)
        return torch.distributions.Normal(mean, std)


class Critic(nn.Module):
    """Value MLP. It predicts V·(1-γ), i.e. the value in units of "per-step reward", so its targets
    stay near [0, 1] whatever the discount."""

    def __init__(self, obs_size: int, hidden: tuple[int, ...], norm: RunningNorm) -> None:
        super().__init__()
        self._norm = [norm]  # shared with the actor; a list so it is not registered twice
        self.net = mlp([obs_size, *hidden, 1], out_gain=1.0)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(self._norm[0](obs)).squeeze(-1)


@dataclass
class PolicySnapshot:
    """What a stage needs to act: sizes plus the actor's state dict (normaliser included)."""

    obs_size: int
    action_size: int
    hidden_sizes: tuple[int, ...]
    state_dict: dict

    @classmethod
    def of(cls, actor: Actor) -> "PolicySnapshot":
        first = actor.mean[0]
        hidden = tuple(m.out_features for m in actor.mean if isinstance(m, nn.Linear))[:-1]
        state = {k: v.detach().clone() for k, v in actor.state_dict().items()}
        return cls(first.in_features, actor.log_std.numel(), hidden, state)

    def build(self) -> Actor:
        actor = Actor(self.obs_size, self.action_size, self.hidden_sizes, init_log_std=0.0)
        actor.load_state_dict(self.state_dict)
        actor.eval()
        return actor

    def to_bytes(self) -> bytes:
        import io

        buffer = io.BytesIO()
        torch.save({"format": POLICY_FORMAT, "obs_size": self.obs_size, "action_size": self.action_size,
                    "hidden_sizes": list(self.hidden_sizes), "state_dict": self.state_dict}, buffer)
        return buffer.getvalue()

    @classmethod
    def load(cls, path: str | Path) -> "PolicySnapshot":
        data = torch.load(Path(path), map_location="cpu", weights_only=True)
        if data.get("format") != POLICY_FORMAT:
            raise InvalidInputError(f"{path}: policy format {data.get('format')}, expected {POLICY_FORMAT}",
                                    "retrain or re-export the stage with this version of the trainer")
        return cls(int(data["obs_size"]), int(data["action_size"]), tuple(data["hidden_sizes"]), data["state_dict"])


class DeterministicPolicy:
    """numpy in, numpy out: the mean action of an actor, for evaluation and rollouts."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor

    @torch.no_grad()
    def __call__(self, obs: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        return self.actor(x).numpy().astype(np.float64)
