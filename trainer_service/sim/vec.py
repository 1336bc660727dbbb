"""VecEnv: N ImitationEnvs stepped with one call over worker processes, auto-resetting.

One pybullet world per env, one worker process per core (each holding a slice of the envs),
OMP_NUM_THREADS=1 in the workers. Actions and step results travel through one block of shared memory
(numpy views on both sides, see `SharedSteps`); the pipe to each worker carries only the command and its
"done" reply. The per-slice logic is `WorkerCore`, a plain class that a Ray
actor can wrap (`ray.remote(WorkerCore).remote(frames, loop, config_dict, seeds)`), with the same
`reset()` / `step(actions)` as the local worker loop.

Seeds: env i uses `seed + i`, so a VecEnv with the same seed, policy and set is reproducible.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import traceback
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from backflip_addon.core.clip import MotionClip
from backflip_addon.core.errors import BackflipError, InvalidInputError

from .character import ACTION_SIZE
from .config import SimConfig
from .env import ImitationEnv
from .observation import observation_size

log = logging.getLogger(__name__)

_SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
_JOIN_SECONDS = 5.0


class SimWorkerError(BackflipError):
    """A simulator worker failed; the VecEnv has been closed."""

    code = "sim_worker"


@dataclass
class StepResult:
    """Arrays for a slice of envs after one step (auto-reset already applied)."""

    obs: np.ndarray  # (k, obs) float32, first observation of the new episode where one ended
    reward: np.ndarray  # (k,) float32
    terminated: np.ndarray  # (k,) bool
    truncated: np.ndarray  # (k,) bool
    final_obs: np.ndarray  # (k, obs) float32, last observation of the ended episode (else = obs)
    episode_return: np.ndarray  # (k,) float64, nan where no episode ended
    episode_length: np.ndarray  # (k,) float64, nan where no episode ended
    fell: np.ndarray  # (k,) bool
    time: np.ndarray  # (k,) float64 clip time reached by the step


_STEP_FIELDS = ("obs", "reward", "terminated", "truncated", "final_obs", "episode_return", "episode_length", "fell",
                "time")


class SharedSteps:
    """Numpy views on one shared block: the actions of all envs and every `StepResult` field.

    The parent writes actions and reads results; worker k reads and writes only its own rows, between a
    command and its reply on the pipe, so the pipe's message order is the only synchronisation needed.
    """

    def __init__(self, num_envs: int, obs_size: int, buffer=None, context=None) -> None:
        layout = {"actions": (np.float64, ACTION_SIZE), "obs": (np.float32, obs_size),
                  "final_obs": (np.float32, obs_size), "reward": (np.float32, 0), "terminated": (np.bool_, 0),
                  "truncated": (np.bool_, 0), "fell": (np.bool_, 0), "time": (np.float64, 0),
                  "episode_return": (np.float64, 0), "episode_length": (np.float64, 0)}
        offsets, size = {}, 0
        for name, (dtype, width) in layout.items():
            offsets[name] = size
            size += -(-num_envs * max(width, 1) * np.dtype(dtype).itemsize // 8) * 8  # 8-byte aligned
        self.buffer = buffer if buffer is not None else context.RawArray("B", size)
        raw = np.frombuffer(self.buffer, dtype=np.uint8)
        self.views: dict[str, np.ndarray] = {}
        for name, (dtype, width) in layout.items():
            count = num_envs * max(width, 1)
            view = raw[offsets[name]: offsets[name] + count * np.dtype(dtype).itemsize].view(dtype)
            self.views[name] = view.reshape(num_envs, width) if width else view

    def write(self, rows: slice, result: "StepResult") -> None:
        for name in _STEP_FIELDS:
            self.views[name][rows] = getattr(result, name)

    def read(self) -> StepResult:
        """A copy of every env's last step (the views change with the next one)."""
        return StepResult(**{name: self.views[name].copy() for name in _STEP_FIELDS})


class WorkerCore:
    """A slice of envs in this process: reset / step with numpy arrays, auto-resetting."""

    def __init__(self, frames: np.ndarray, loop: str, config: dict, seeds: list[int]) -> None:
        clip = MotionClip(np.asarray(frames), loop=loop)
        sim_config = SimConfig.from_dict(config)
        self.envs = [ImitationEnv(clip, sim_config, seed=s) for s in seeds]
        self._returns = np.zeros(len(seeds))
        self._lengths = np.zeros(len(seeds), dtype=np.int64)

    def reset(self) -> np.ndarray:
        self._returns[:] = 0.0
        self._lengths[:] = 0
        return np.stack([env.reset() for env in self.envs])

    def step(self, actions: np.ndarray) -> StepResult:
        k = len(self.envs)
        obs = np.empty((k, self.envs[0].observation_size), dtype=np.float32)
        final = np.empty_like(obs)
        reward = np.empty(k, dtype=np.float32)
        terminated = np.zeros(k, dtype=bool)
        truncated = np.zeros(k, dtype=bool)
        fell = np.zeros(k, dtype=bool)
        time = np.empty(k)
        ep_return = np.full(k, np.nan)
        ep_length = np.full(k, np.nan)
        for i, env in enumerate(self.envs):
            o, r, term, trunc, info = env.step(actions[i])
            self._returns[i] += r
            self._lengths[i] += 1
            reward[i], terminated[i], truncated[i], fell[i], time[i] = r, term, trunc, info["fell"], info["time"]
            final[i] = o
            if term or trunc:
                ep_return[i], ep_length[i] = self._returns[i], self._lengths[i]
                self._returns[i], self._lengths[i] = 0.0, 0
                o = env.reset()
            obs[i] = o
        return StepResult(obs, reward, terminated, truncated, final, ep_return, ep_length, fell, time)

    def close(self) -> None:
        for env in self.envs:
            env.close()


def _worker_main(conn, frames: np.ndarray, loop: str, config: dict, seeds: list[int], buffer, num_envs: int,
                 first: int) -> None:
    """Process body: serve reset / step / close until told to stop, on rows `first`.. of the shared block;
    errors go back as messages."""
    core = None
    try:
        core = WorkerCore(frames, loop, config, seeds)
        shared = SharedSteps(num_envs, core.envs[0].observation_size, buffer)
        rows = slice(first, first + len(seeds))
        conn.send(("ok", None))
        while True:
            command, _payload = conn.recv()
            if command == "close":
                break
            if command == "reset":
                shared.views["obs"][rows] = core.reset()
            else:
                shared.write(rows, core.step(shared.views["actions"][rows]))
            conn.send(("ok", None))
    except (KeyboardInterrupt, EOFError):
        pass  # the parent went away or asked us to stop
    except Exception as exc:  # report every failure to the parent instead of dying silently
        hint = getattr(exc, "hint", "see the worker traceback in the log")
        conn.send(("error", (type(exc).__name__, str(getattr(exc, "message", exc)), hint, traceback.format_exc())))
    finally:
        if core is not None:
            core.close()
        conn.close()


@contextmanager
def _single_threaded_children():
    saved = {k: os.environ.get(k) for k in _SINGLE_THREAD}
    os.environ.update(_SINGLE_THREAD)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class VecEnv:
    """N environments over worker processes; `step` returns numpy arrays and resets finished envs."""

    def __init__(self, clip: MotionClip, config: SimConfig | None = None, num_envs: int | None = None,
                 seed: int = 0, num_workers: int | None = None) -> None:
        config = config if config is not None else SimConfig()
        cores = os.cpu_count() or 1
        self.num_envs = int(num_envs) if num_envs is not None else cores
        if self.num_envs < 1:
            raise InvalidInputError(f"num_envs must be >= 1, got {num_envs}", "use e.g. the number of cores")
        workers = min(self.num_envs, int(num_workers) if num_workers else cores)
        self.observation_size = observation_size(config.target_obs)
        self.action_size = ACTION_SIZE
        self._slices = [s for s in np.array_split(np.arange(self.num_envs), workers) if len(s)]
        self._conns: list = []
        self._procs: list = []
        context = mp.get_context("spawn")
        frames, config_dict = np.asarray(clip.frames), config.to_dict()
        self._shared = SharedSteps(self.num_envs, self.observation_size, context=context)
        try:
            with _single_threaded_children():
                for part in self._slices:
                    parent, child = context.Pipe()
                    seeds = [seed + int(i) for i in part]
                    proc = context.Process(
                        target=_worker_main, daemon=True,
                        args=(child, frames, clip.loop, config_dict, seeds, self._shared.buffer, self.num_envs, int(part[0])),
                        name=f"backflip-sim-{part[0]}",
                    )
                    proc.start()
                    child.close()
                    self._conns.append(parent)
                    self._procs.append(proc)
            self._gather()
        except BaseException:
            self.close()
            raise

    def reset(self) -> np.ndarray:
        """(N, obs) float32 first observations of fresh episodes."""
        self._send_all("reset")
        self._gather()
        return self._shared.views["obs"].copy()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        """obs (N, obs), reward (N,), terminated (N,), truncated (N,), info with final_obs and episode stats."""
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != (self.num_envs, self.action_size):
            raise InvalidInputError(
                f"actions must have shape ({self.num_envs}, {self.action_size}), got {actions.shape}",
                "one action row per env",
            )
        if not np.all(np.isfinite(actions)):
            bad = sorted({int(i) for i in np.nonzero(~np.isfinite(actions))[0]})
            raise InvalidInputError(f"actions of env(s) {bad} hold NaN or infinity", "check the policy output")
        if not self._conns:
            raise SimWorkerError("the simulator workers are closed", "create a new VecEnv")
        self._shared.views["actions"][:] = actions
        self._send_all("step")
        self._gather()
        r = self._shared.read()
        info = {"final_obs": r.final_obs, "episode_return": r.episode_return, "episode_length": r.episode_length,
                "fell": r.fell, "time": r.time}
        return r.obs, r.reward, r.terminated, r.truncated, info

    def _send_all(self, command: str) -> None:
        if not self._conns:
            raise SimWorkerError("the simulator workers are closed", "create a new VecEnv")
        try:
            for conn in self._conns:
                conn.send((command, None))
        except (BrokenPipeError, OSError) as exc:
            self.close()
            raise SimWorkerError(f"a simulator worker is gone: {exc}", "see the log; create a new VecEnv") from exc

    def _gather(self) -> list:
        results, failure = [], None
        for conn in self._conns:
            try:
                status, payload = conn.recv()
            except (EOFError, OSError) as exc:
                failure = failure or (type(exc).__name__, f"a simulator worker died ({exc})", "see the log", "")
                continue
            if status == "error":
                failure = failure or payload
            results.append(payload)
        if failure is not None:
            name, message, hint, trace = failure
            log.error("simulator worker failed: %s", trace or message)
            self.close()
            raise SimWorkerError(f"simulator worker failed: {name}: {message}", hint)
        return results

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(("close", None))
            except (BrokenPipeError, OSError):
                pass  # already gone
        for proc in self._procs:
            proc.join(_JOIN_SECONDS)
            if proc.is_alive():
                proc.terminate()
                proc.join(_JOIN_SECONDS)
        for conn in self._conns:
            conn.close()
        self._conns, self._procs = [], []

    def __enter__(self) -> "VecEnv":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_procs", None):
            self.close()

