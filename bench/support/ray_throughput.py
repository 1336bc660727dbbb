"""Rollout workers as Ray actors against local worker processes, on the same cores (sim_throughput --ray).

Both backends hold `num_envs` backflip envs over `workers` workers (one per core) and step them in
lock-step with the same random PD targets, the way the trainer collects: wall clock per `steps` steps,
action sampling excluded, IPC included. Both stay alive for the whole run and the measurements alternate
(local, Ray, local, …) so load changes hit both alike; medians and their ratio are reported with the
machine's 1-minute load before and after. Ray runs as a local head started here (loopback only, stopped
at the end), with its workers at this process's niceness like the local workers (Ray's default puts them
15 steps nicer).
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np

from backflip_addon.core.clip import MotionClip
from trainer_service.sim.character import ACTION_SIZE
from trainer_service.sim.config import SimConfig

NOISE = 0.1  # rad, spread of the random PD targets around the reference (as in sim_throughput)


def _rate(envs, actions: np.ndarray) -> float:
    """Env steps per second (all envs) over `actions` (steps, N, A)."""
    envs.reset()
    start = time.perf_counter()
    for batch in actions:
        envs.step(batch)
    return actions.shape[0] * actions.shape[1] / (time.perf_counter() - start)


def compare(clip: MotionClip, hz: int, num_envs: int, steps: int, rounds: int, workers: int | None = None) -> dict:
    """Local VecEnv against RayVecEnv with the same envs per worker, alternating `rounds` times."""
    import ray

    from trainer_service.rl.ray_backend import RayVecEnv
    from trainer_service.sim.vec import VecEnv

    workers = workers or os.cpu_count() or 1
    config = SimConfig(physics_hz=hz)
    actions = np.random.default_rng(0).normal(0.0, NOISE, (steps, num_envs, ACTION_SIZE))
    load_before = os.getloadavg()[0]
    local_rates, ray_rates = [], []
    # Ray's workers run 15 steps nicer than this process by default; local workers inherit its niceness.
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1",
             _system_config={"worker_niceness": 0})
    try:
        with VecEnv(clip, config, num_envs=num_envs, seed=0, num_workers=workers) as local, \
                RayVecEnv(clip, config, num_envs=num_envs, seed=0, num_actors=workers) as remote:
            _rate(local, actions[: max(steps // 10, 1)])  # warm both up (imports, first contacts)
            _rate(remote, actions[: max(steps // 10, 1)])
            for _ in range(rounds):
                local_rates.append(_rate(local, actions))
                ray_rates.append(_rate(remote, actions))
    finally:
        ray.shutdown()
    local_median, ray_median = statistics.median(local_rates), statistics.median(ray_rates)
    return {
        "physics_hz": hz, "num_envs": num_envs, "workers": workers, "steps_per_measurement": steps,
        "unit": "env steps/s (30 Hz control), all envs",
        "local": round(local_median, 1), "ray": round(ray_median, 1),
        "ray_cost": round(1.0 - ray_median / local_median, 3),
        "local_runs": [round(v, 1) for v in local_rates], "ray_runs": [round(v, 1) for v in ray_rates],
        "load_1min_before": round(load_before, 2), "load_1min_after": round(os.getloadavg()[0], 2),
        "target_ray_cost": 0.15,
    }
