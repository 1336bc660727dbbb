"""Rollout workers as Ray actors: the same interface as `trainer_service.sim.vec.VecEnv`, on a cluster.

`--ray-address auto|HOST:PORT` connects to a running Ray cluster (`ray start --head` on one machine,
`ray start --address HOST:PORT` on the others); every node needs this project installed in the
Python environment Ray runs. If Ray is already initialised in this process (tests use a local
`ray.init(num_cpus=2)`), that session is used as it is. Each actor wraps the simulator's own
`WorkerCore` (a slice of envs, auto-resetting) — the code a local worker process runs — and the
learner batches all observations into one policy forward pass, so outputs do not depend on the backend.

Ray places, starts and watches the actors; the per-step traffic does not go through Ray calls. Each actor
listens on a socket of its node (`multiprocessing.connection`, a random key per run) and serves reset /
step over it, like a local worker over its pipe: a Ray call wakes four threads on two processes and cost
36-42 % of the throughput on 2 loaded cores (bench/sim_throughput.py --ray), a socket message one on each.
Ray also starts its workers 15 steps nicer than the process that started the node (`RAY_worker_niceness`,
default 15): on a busy node the actors then lose the cores to everything else. Start the nodes with
`RAY_worker_niceness=0 ray start ...`; the actors report their niceness and a warning says when it is higher
than the learner's.

An actor that dies (its node lost, its process killed) is replaced by a new one with fresh seeds; the
episodes it held end as cut short (truncated, bootstrapped from their last observation), and training
goes on. `restarts` counts the replacements.
"""
from __future__ import annotations

import logging
import os
import socket
import traceback
from multiprocessing.connection import Client, Connection

import numpy as np

from backflip_addon.core.clip import MotionClip
from backflip_addon.core.errors import BackflipError, InvalidInputError
from trainer_service.sim.vec import StepResult

log = logging.getLogger(__name__)

ANSWER_POLL_SECONDS = 1.0
"""how often the learner, waiting for an actor's answer, asks Ray whether the actor still lives (s)"""


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


class SocketWorker:
    """A rollout actor's body: the simulator's `WorkerCore` served over a direct socket to the learner."""

    def __init__(self, frames: np.ndarray, loop: str, config: dict, seeds: list[int]) -> None:
        from trainer_service.sim.vec import WorkerCore

        self.core = WorkerCore(frames, loop, config, seeds)
        self._listener = None

    def listen(self, authkey: bytes) -> tuple[tuple[str, int], int]:
        """Open this node's socket for the learner; its address and this process's niceness."""
        import ray
        from multiprocessing.connection import Listener

        self._listener = Listener((ray.util.get_node_ip_address(), 0), authkey=authkey)
        return self._listener.address, os.nice(0)

    def serve(self) -> None:
        """Answer reset / step / close from the learner until it says close or goes away."""
        conn = self._listener.accept()
        self._listener.close()
        try:
            while True:
                command, payload = conn.recv()
                if command == "close":
                    conn.send(("ok", None))
                    return
                try:
                    result = self.core.reset() if command == "reset" else self.core.step(payload)
                except Exception as exc:  # the learner raises it; the actor stays up for close
                    conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
                    continue
                conn.send(("ok", result))
        except EOFError:
            return  # the learner went away
        finally:
            conn.close()
            self.core.close()


class _ActorGone(Exception):
    """A rollout actor stopped answering (its process or node is gone)."""


class RayVecEnv:
    """`num_envs` envs over `num_actors` Ray actors, stepped in lock-step (see VecEnv for the contract)."""

    def __init__(self, clip: MotionClip, sim_config, num_envs: int, seed: int = 0, address: str = "auto",
                 num_actors: int | None = None) -> None:
        import ray

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
        # Two threads: `serve` holds one for the actor's life, calls such as __ray_call__ get the other.
        self._remote = ray.remote(num_cpus=1, max_concurrency=2,
                                  runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})(SocketWorker)
        self._clip, self._config, self._seed = clip, sim_config.to_dict(), seed
        self._authkey = os.urandom(16)
        self._warned_niceness = False
        self.actors: list = []
        self._conns: list[Connection] = []
        self._serving: list = []
        try:
            for part in self._slices:
                actor, conn, serving = self._new_actor(part, 0)
                self.actors.append(actor)
                self._conns.append(conn)
                self._serving.append(serving)
        except BaseException:
            self.close()
            raise
        self.restarts = 0
        self.num_envs = num_envs
        self._obs: np.ndarray | None = None
        self._returns = np.zeros(num_envs)
        self._lengths = np.zeros(num_envs, dtype=np.int64)
        from trainer_service.sim.character import ACTION_SIZE
        from trainer_service.sim.observation import observation_size

        self.observation_size, self.action_size = observation_size(sim_config.target_obs), ACTION_SIZE
        log.info("%d envs on %d Ray actors", num_envs, len(self.actors))

    def _new_actor(self, part: np.ndarray, generation: int) -> tuple:
        """A started actor for the envs `part`, its socket and its `serve` call."""
        # A replacement gets other seeds than the actor it replaces, so it does not replay its episodes.
        seeds = [self._seed + int(i) + 1_000_003 * generation for i in part]
        actor = self._remote.remote(self._clip.frames, self._clip.loop, self._config, seeds)
        address, niceness = self._ray.get(actor.listen.remote(self._authkey))
        if niceness > os.nice(0) and not self._warned_niceness:
            self._warned_niceness = True
            log.warning("rollout actors run at niceness %d, the learner at %d: on a busy node they get less CPU "
                        "(start the cluster with RAY_worker_niceness=0 ray start ...)", niceness, os.nice(0))
        serving = actor.serve.remote()
        return actor, Client(tuple(address), authkey=self._authkey), serving

    def _replace(self, k: int, exc: Exception) -> np.ndarray:
        """A new actor for slice `k` in place of a dead one; its first observations."""
        self.restarts += 1
        log.warning("rollout actor %d died (%s); starting a replacement (restart %d)", k,
                    type(exc).__name__, self.restarts)
        self._conns[k].close()
        self._ray.kill(self.actors[k])
        self.actors[k], self._conns[k], self._serving[k] = self._new_actor(self._slices[k], self.restarts)
        return np.asarray(self._exchange("reset", [None], [k])[0], dtype=np.float32)

    def _exchange(self, command: str, payloads: list, which: list[int] | None = None) -> list:
        """Send `command` to the actors `which` (all by default) and gather each one's answer, or an
        `_ActorGone` for an actor that died."""
        which = list(range(len(self._conns))) if which is None else which
        out: list = [None] * len(which)
        for j, (k, payload) in enumerate(zip(which, payloads)):
            try:
                self._conns[k].send((command, payload))
            except OSError as exc:
                out[j] = _ActorGone(str(exc))
        for j, k in enumerate(which):
            if out[j] is None:
                out[j] = self._answer(k)
        return out

    def _answer(self, k: int):
        conn = self._conns[k]
        try:
            while not conn.poll(ANSWER_POLL_SECONDS):  # a lost node closes no socket: ask Ray about the actor
                if self._ray.wait([self._serving[k]], timeout=0)[0]:
                    return _ActorGone("the actor stopped serving")
            status, payload = conn.recv()
        except (EOFError, OSError) as exc:
            return _ActorGone(f"{type(exc).__name__}: {exc}")
        if status == "error":
            raise BackflipError(f"a rollout actor failed: {payload}", "see the traceback; the simulator raised it")
        return payload

    def reset(self) -> np.ndarray:
        parts = self._exchange("reset", [None] * len(self._conns))
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
        parts = self._exchange("step", [actions[s] for s in self._slices])
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
        for k, actor in enumerate(self.actors):
            if k < len(self._conns):
                try:
                    self._exchange("close", [None], [k])
                    self._ray.get(self._serving[k])
                except (BackflipError, self._ray.exceptions.RayError) as exc:  # a dead actor cannot close its worlds
                    log.warning("closing a rollout actor failed: %s", exc)
                self._conns[k].close()
            self._ray.kill(actor)
        self.actors, self._conns, self._serving = [], [], []

    def __enter__(self) -> "RayVecEnv":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
