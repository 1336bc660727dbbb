"""Rollout workers as Ray actors: the same interface as `trainer_service.sim.vec.VecEnv`, on a cluster.

`--ray-address auto|HOST:PORT` connects to a running Ray cluster (`ray start --head` on one machine,
`ray start --address HOST:PORT` on the others); every node needs this project installed in the
Python environment Ray runs. If Ray is already initialised in this process (tests use a local
`ray.init(num_cpus=2)`), that session is used as it is. Each actor wraps the simulator's own
`WorkerCore` (a slice of envs, auto-resetting) — the code a local worker process runs — and the
learner batches all observations into one policy forward pass, so outputs do not depend on the backend.

Ray starts its workers 15 steps nicer than the process that started the node (`RAY_worker_niceness`,
default 15): on a busy node the actors then lose the cores to everything else. That, not the cost of a
Ray call, made actors 36-42 % slower than local workers on 2 loaded cores (bench/sim_throughput.py --ray);
at equal niceness they were as fast (0 % to -25 %, plain calls and a direct socket alike). Start the nodes
with `RAY_worker_niceness=0 ray start ...`; the actors report their niceness and the learner warns when
it is higher than its own.

An actor that dies (its node lost, its process killed) is replaced by a new one with fresh seeds; the
episodes it held end as cut short (truncated, bootstrapped from their last observation), and training
goes on. `restarts` counts the replacements.
"""
from __future__ import annotations

import logging
import os
import socket

import numpy as np

from backflip_addon.core.clip import MotionClip
from backflip_addon.core.errors import BackflipError, InvalidInputError
from trainer_service.sim.vec import StepResult

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
        self._remote = ray.remote(num_cpus=1, runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})(WorkerCore)
        self._clip, self._config, self._seed = clip, sim_config.to_dict(), seed
        self.actors = [self._new_actor(part, 0) for part in self._slices]
        self._check_niceness()
        self.restarts = 0
        self.num_envs = num_envs
        self._obs: np.ndarray | None = None
        self._returns = np.zeros(num_envs)
        self._lengths = np.zeros(num_envs, dtype=np.int64)
        from trainer_service.sim.character import ACTION_SIZE
        from trainer_service.sim.observation import observation_size

        self.observation_size, self.action_size = observation_size(sim_config.target_obs), ACTION_SIZE
        log.info("%d envs on %d Ray actors", num_envs, len(self.actors))

    def _new_actor(self, part: np.ndarray, generation: int):
        # A replacement gets other seeds than the actor it replaces, so it does not replay its episodes.
        seeds = [self._seed + int(i) + 1_000_003 * generation for i in part]
        return self._remote.remote(self._clip.frames, self._clip.loop, self._config, seeds)

    def _check_niceness(self) -> None:
        niceness = max(self._ray.get([a.__ray_call__.remote(lambda core: os.nice(0)) for a in self.actors]))
        if niceness > os.nice(0):
            log.warning("rollout actors run at niceness %d, the learner at %d: on a busy node they get less CPU "
                        "(start the cluster with RAY_worker_niceness=0 ray start ...)", niceness, os.nice(0))

    def _replace(self, k: int, exc: Exception) -> np.ndarray:
        """A new actor for slice `k` in place of a dead one; its first observations."""
        self.restarts += 1
        log.warning("rollout actor %d died (%s); starting a replacement (restart %d)", k,
                    type(exc).__name__, self.restarts)
        self._ray.kill(self.actors[k])
        self.actors[k] = self._new_actor(self._slices[k], self.restarts)
        return np.asarray(self._ray.get(self.actors[k].reset.remote()), dtype=np.float32)

    def _gather(self, futures: list) -> list:
        """Each actor's answer, or the exception of an actor that died."""
        out = []
        for future in futures:
            try:
                out.append(self._ray.get(future))
            except self._ray.exceptions.RayActorError as exc:
                out.append(exc)
            except self._ray.exceptions.RayTaskError as exc:  # the simulator raised inside a live actor
                raise BackflipError(f"a rollout actor failed: {exc}", "see the traceback; the simulator raised it") \
                    from exc
        return out

    def reset(self) -> np.ndarray:
        parts = self._gather([a.reset.remote() for a in self.actors])
        parts = [self._replace(k, p) if isinstance(p, Exception) else p for k, p in enumerate(parts)]
        self._returns[:], self._lengths[:] = 0.0, 0
        self._obs = np.concatenate(parts).astype(np.float32)
        return self._obs

    def _cut_short(self, k: int, exc: Exception) -> StepResult:
        """The step of a slice whose actor died: its episodes end as truncated (bootstrapped from the last
        observation the learner saw), and the replacement's first observations follow."""
        part = self._slices[k]
        last = self._obs[part] if self._obs is not None else None
        obs = self._replace(k, exc)
        n = len(part)
        return StepResult(obs=obs, reward=np.zeros(n, np.float32), terminated=np.zeros(n, bool),
                          truncated=np.ones(n, bool), final_obs=obs if last is None else last,
                          episode_return=self._returns[part].copy(), episode_length=self._lengths[part].astype(float),
                          fell=np.zeros(n, bool), time=np.zeros(n))

    def step(self, actions: np.ndarray):
        actions = np.asarray(actions, dtype=np.float64)
        parts = self._gather([a.step.remote(actions[s]) for a, s in zip(self.actors, self._slices)])
        parts = [self._cut_short(k, p) if isinstance(p, Exception) else p for k, p in enumerate(parts)]
        cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
        info = {name: cat(name) for name in ("final_obs", "episode_return", "episode_length", "fell", "time")}
        obs, reward, terminated, truncated = cat("obs"), cat("reward"), cat("terminated"), cat("truncated")
        done = terminated | truncated
        self._returns = np.where(done, 0.0, self._returns + reward)
        self._lengths = np.where(done, 0, self._lengths + 1)
        self._obs = obs
        return obs, reward, terminated, truncated, info

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
