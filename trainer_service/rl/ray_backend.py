"""Rollout workers as Ray actors: the same interface as `trainer_service.sim.vec.VecEnv`, on a cluster.

`--ray-address auto|HOST:PORT` connects to a running Ray cluster (`ray start --head` on one machine,
`ray start --address HOST:PORT` on the others); every node needs this project installed in the
Python environment Ray runs. If Ray is already initialised in this process (tests use a local
`ray.init(num_cpus=2)`), that session is used as it is. Each actor wraps the simulator's own
`WorkerCore` (a slice of envs, auto-resetting) — the code a local worker process runs — and the
learner batches all observations into one policy forward pass, so outputs do not depend on the backend.
"""
from __future__ import annotations

import logging
import socket

import numpy as np

from backflip_addon.core.clip import MotionClip
from backflip_addon.core.errors import BackflipError, InvalidInputError

log = logging.getLogger(__name__)


def _check_reachable(address: str, seconds: float = 5.0) -> None:
    """Fail fast on a HOST:PORT nobody listens on (ray.init would wait for minutes)."""
    if address == "auto" or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=seconds):
            pass
    except (OSError, ValueError) as exc:
        raise BackflipError(f"no Ray head node answers at {address}: {exc}",
                            "check the address, or start one with `ray start --head --port PORT`") from exc


class RayVecEnv:
    """`num_envs` envs over `num_actors` Ray actors, stepped in lock-step (see VecEnv for the contract)."""

    def __init__(self, clip: MotionClip, sim_config, num_envs: int, seed: int = 0, address: str = "auto",
                 num_actors: int | None = None) -> None:
        import ray

        from trainer_service.sim.vec import WorkerCore

        if num_envs < 1:
            raise InvalidInputError(f"num_envs must be >= 1, got {num_envs}", "use e.g. the number of cores")
        if not ray.is_initialized():
            _check_reachable(address)
            try:
                ray.init(address=address, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise BackflipError(f"cannot connect to the Ray cluster at {address!r}: {exc}",
                                    "start one with `ray start --head` (then --ray-address auto) or pass HOST:PORT "
                                    "of a running head node") from exc
        self._ray = ray
        actors = min(num_envs, num_actors or max(1, int(ray.cluster_resources().get("CPU", 1))))
        self._slices = [s for s in np.array_split(np.arange(num_envs), actors) if len(s)]
        remote = ray.remote(num_cpus=1, runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})(WorkerCore)
        config = sim_config.to_dict()
        self.actors = [remote.remote(clip.frames, clip.loop, config, [seed + int(i) for i in part])
                       for part in self._slices]
        self.num_envs = num_envs
        from trainer_service.sim.character import ACTION_SIZE
        from trainer_service.sim.observation import observation_size

        self.observation_size, self.action_size = observation_size(sim_config.target_obs), ACTION_SIZE
        log.info("%d envs on %d Ray actors", num_envs, len(self.actors))

    def reset(self) -> np.ndarray:
        return np.concatenate(self._ray.get([a.reset.remote() for a in self.actors])).astype(np.float32)

    def step(self, actions: np.ndarray):
        actions = np.asarray(actions, dtype=np.float64)
        parts = self._ray.get([a.step.remote(actions[s]) for a, s in zip(self.actors, self._slices)])
        cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
        info = {name: cat(name) for name in ("final_obs", "episode_return", "episode_length", "fell", "time")}
        return cat("obs"), cat("reward"), cat("terminated"), cat("truncated"), info

    def close(self) -> None:
        for actor in self.actors:
            try:
                self._ray.get(actor.close.remote())
            except self._ray.exceptions.RayError as exc:  # an actor that died cannot close its worlds
                log.warning("closing a rollout actor failed: %s", exc)
            self._ray.kill(actor)
        self.actors = []

    def __enter__(self) -> "RayVecEnv":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
