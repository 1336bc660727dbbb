"""Harness for the peer: pybullet's own DeepMimic environment, driven in-process.

Used by `bench/sim_throughput.py` and the tests to compare speed and rewards (so it lives beside the
benches, outside the shipped trainer). The peer lives in
the pybullet wheel (`pybullet_envs.deep_mimic`); importing it runs `pybullet_envs/__init__.py`,
which imports `gym` only to register environments, so a tiny stand-in module is installed first.
`PeerEnv.step` does what the peer's gym wrapper (`HumanoidDeepBulletEnv.step`) does, minus action
and observation rescaling: record the reward, set the action, run the physics updates, read state.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import types
from pathlib import Path

import numpy as np

from backflip_addon.core.errors import NotFoundError

from backflip_addon.core.skeleton import IS_BALL as SPHERICAL
from trainer_service.sim.character import quiet_stdout

ARG_FILE = "args/run_humanoid3d_backflip_args.txt"


def install_gym_shim() -> None:
    """Make `import gym` succeed with the few names pybullet_envs/__init__.py uses."""
    if "gym" in sys.modules:
        return
    gym = types.ModuleType("gym")
    envs = types.ModuleType("gym.envs")
    registration = types.ModuleType("gym.envs.registration")
    registration.registry = types.SimpleNamespace(env_specs={})
    registration.register = lambda id, *args, **kwargs: registration.registry.env_specs.setdefault(id, kwargs)
    registration.make = registration.spec = lambda *args, **kwargs: None
    gym.envs, envs.registration = envs, registration
    sys.modules.update({"gym": gym, "gym.envs": envs, "gym.envs.registration": registration})


class PeerEnv:
    """pybullet's PyBulletDeepMimicEnv with DeepMimic's backflip arguments."""

    def __init__(self, physics_hz: int = 240, motion_file: str | os.PathLike | None = None, rsi: bool = True) -> None:
        install_gym_shim()
        import pybullet_data
        from pybullet_envs.deep_mimic.env.pybullet_deep_mimic_env import InitializationStrategy, PyBulletDeepMimicEnv
        from pybullet_utils.arg_parser import ArgParser

        data = Path(pybullet_data.getDataPath())
        args = ArgParser()
        if not args.load_file(str(data / ARG_FILE)):
            raise NotFoundError(f"cannot read the peer's arguments {data / ARG_FILE}", "reinstall pybullet")
        if motion_file is not None:
            # The peer opens getDataPath() + "/" + motion_file.
            args._table["motion_file"] = [os.path.relpath(Path(motion_file).resolve(), data)]
        strategy = InitializationStrategy.RANDOM if rsi else InitializationStrategy.START
        with quiet_stdout(), contextlib.redirect_stdout(io.StringIO()):
            self.env = PyBulletDeepMimicEnv(args, enable_draw=False, time_step=1.0 / physics_hz, init_strategy=strategy)
        self.time_step = 1.0 / physics_hz
        self.updates_per_step = physics_hz // 30
        self.humanoid = self.env._humanoid
        self.client = self.env._pybullet_client

    def reset(self) -> np.ndarray:
        self.env.reset()
        return np.array(self.env.record_state(-1))

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        """One 30 Hz step as the peer's gym wrapper does it; the reward is of the state before the action."""
        reward = self.env.calc_reward(-1)
        self.env.set_action(-1, action)
        for _ in range(self.updates_per_step):
            self.env.update(self.time_step)
        state = np.array(self.env.record_state(-1))
        return state, reward, self.env.is_episode_end()

    def reference_targets(self) -> tuple[list[list[float]], list[float]]:
        """The reference pose at the current time: spherical joints (x, y, z, w) and revolute angles."""
        pose = self.humanoid.computePose(self.humanoid._frameFraction)
        sph, rev, i = [], [], 7
        for spherical in SPHERICAL:
            if spherical:
                sph.append(list(pose[i : i + 4]))
                i += 4
            else:
                rev.append(pose[i])
                i += 1
        return sph, rev


def peer_action(spherical_xyzw: np.ndarray, revolute: np.ndarray) -> np.ndarray:
    """The peer's 36-number action (angle, axis per spherical joint; angle per revolute) from targets."""
    out, si, ri = [], 0, 0
    for spherical in SPHERICAL:
        if spherical:
            x, y, z, w = spherical_xyzw[si]
            s = float(np.sqrt(x * x + y * y + z * z))
            angle = 2.0 * float(np.arctan2(s, w))
            axis = [x / s, y / s, z / s] if s > 1e-12 else [1.0, 0.0, 0.0]
            out += [angle] + axis
            si += 1
        else:
            out.append(float(revolute[ri]))
            ri += 1
    return np.array(out)
