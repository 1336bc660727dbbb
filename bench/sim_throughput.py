"""Control steps per second: our ImitationEnv vs pybullet's own DeepMimic env, side by side.

Both run the backflip with the same physics rate, reference state initialisation, early
termination and random PD targets around the reference pose (exp-map noise, sigma 0.1 rad).
Only env work is timed (step + reset after an episode ends); action sampling is not. Single
process: the two envs alternate in rounds and the medians are reported. Two processes: each env
runs the same loop in two processes at once (sum of rates); ours also through `VecEnv(num_envs=2)`
(wall clock, IPC and action sampling included).
Also reported: whether an open-loop PD replay of the reference lands the flip at each rate.

    .venv/bin/python bench/sim_throughput.py [--steps 600] [--rounds 5] [--rates 240 120]
    .venv/bin/python bench/sim_throughput.py --ray [--ray-envs 16]   # Ray actors vs local workers only

Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from backflip_addon.core.clip import load_clip  # noqa: E402
from trainer_service.sim.character import ACTION_SIZE  # noqa: E402
from trainer_service.sim.config import SimConfig  # noqa: E402
from trainer_service.sim.env import ImitationEnv, split_action  # noqa: E402
from trainer_service.sim.fastmath import multiply_rows, rotvec_rows  # noqa: E402
from bench.support.peer import PeerEnv, peer_action  # noqa: E402
from trainer_service.sim.vec import VecEnv  # noqa: E402

NOISE = 0.1  # rad, spread of the random PD targets around the reference
LANDING_STARTS = (0.9, 1.0, 1.05, 1.1, 1.15)  # s: clip times in the flight phase of the backflip
UPRIGHT_NECK_HEIGHT = 1.0  # m: neck above this at the clip end counts as standing (reference: 1.51)


def clip_path() -> Path:
    import pybullet_data

    return Path(pybullet_data.getDataPath()) / "data" / "motions" / "humanoid3d_backflip.txt"


def ours_rate(hz: int, steps: int, seed: int) -> float:
    with ImitationEnv(load_clip(clip_path()), SimConfig(physics_hz=hz), seed=seed) as env:
        env.reset()
        noise = np.random.default_rng(seed).normal(0.0, NOISE, (steps, ACTION_SIZE))
        busy = 0.0
        for i in range(steps):
            start = time.perf_counter()
            _, _, terminated, truncated, _ = env.step(noise[i])
            if terminated or truncated:
                env.reset()
            busy += time.perf_counter() - start
    return steps / busy


def peer_rate(hz: int, steps: int, seed: int) -> float:
    random.seed(seed)
    peer = PeerEnv(hz)
    peer.reset()
    noise = np.random.default_rng(seed).normal(0.0, NOISE, (steps, ACTION_SIZE))
    busy = 0.0
    for i in range(steps):
        action = _peer_noisy_reference(peer, noise[i])
        start = time.perf_counter()
        _, _, done = peer.step(action)
        if done:
            peer.reset()
        busy += time.perf_counter() - start
    peer.client.disconnect()
    return steps / busy


def _peer_noisy_reference(peer: PeerEnv, noise: np.ndarray) -> np.ndarray:
    sph_xyzw, rev = peer.reference_targets()
    sph = np.array(sph_xyzw)[:, [3, 0, 1, 2]]
    d_sph, d_rev = split_action(noise)
    target = multiply_rows(sph, rotvec_rows(d_sph))
    return peer_action(target[:, [1, 2, 3, 0]], np.array(rev) + d_rev)


def ours_vecenv_rate(hz: int, steps: int, seed: int) -> float:
    """The product interface: VecEnv(num_envs=2), wall clock, IPC and action sampling included."""
    with VecEnv(load_clip(clip_path()), SimConfig(physics_hz=hz), num_envs=2, seed=seed) as vec:
        vec.reset()
        noise = np.random.default_rng(seed).normal(0.0, NOISE, (steps, 2, ACTION_SIZE))
        start = time.perf_counter()
        for i in range(steps):
            vec.step(noise[i])
        elapsed = time.perf_counter() - start
    return 2 * steps / elapsed


def _rate_worker(args: tuple[str, int, int, int]) -> float:
    name, hz, steps, seed = args
    return {"ours": ours_rate, "peer": peer_rate}[name](hz, steps, seed)


def two_process_rate(name: str, hz: int, steps: int, seed: int) -> float:
    """Two processes running the single-process loop at once; the sum of their rates."""
    with mp.get_context("spawn").Pool(2) as pool:
        return float(sum(pool.map(_rate_worker, [(name, hz, steps, seed), (name, hz, steps, seed + 1)])))


def replay_stability(hz: int) -> dict:
    """Open-loop PD replay of the reference (zero residual), fall contacts end it, no pose limit.

    landing: start in the flight phase with the reference velocities and run to the clip end;
    upright = no fall contact and the neck above UPRIGHT_NECK_HEIGHT at the end.
    from_start: start standing at the clip start; clip time of the first fall contact (cap 3 s).
    """
    upright_count, runs = 0, []
    config = SimConfig(physics_hz=hz, pose_termination_distance=0.0)
    with ImitationEnv(load_clip(clip_path()), config) as env:
        for t0 in LANDING_STARTS:
            fell_on, end = _replay(env, t0, env.reference.cycle)
            head = float(env.body_state().link_pos[2, 1])
            upright = fell_on is None and head > UPRIGHT_NECK_HEIGHT
            upright_count += upright
            runs.append({"start_s": t0, "fell_on": fell_on, "end_s": round(end, 3), "neck_height_m": round(head, 3),
                         "upright": upright})
        fell_on, end = _replay(env, 0.0, 3.0)
    return {"landing_upright": upright_count, "landing_tries": len(LANDING_STARTS), "landing_runs": runs,
            "from_start_fell_on": fell_on, "from_start_end_s": round(end, 3)}


def _replay(env: ImitationEnv, start: float, until: float) -> tuple[str | None, float]:
    env.reset(start_time=start)
    while env.time < until - 1e-9:
        _, _, terminated, _, info = env.step(np.zeros(ACTION_SIZE))
        if terminated:
            return info["first_contact"], env.time
    return None, env.time


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="control steps per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="alternating single-process rounds (median)")
    parser.add_argument("--rates", type=int, nargs="+", default=[240, 120], help="physics rates (Hz)")
    parser.add_argument("--two-process-rounds", type=int, default=3)
    parser.add_argument("--ray", action="store_true",
                        help="only compare rollout workers as Ray actors with local processes (bench/support/ray_throughput.py)")
    parser.add_argument("--ray-envs", type=int, default=16, help="envs over the workers for --ray (the trainer's 16)")
    parser.add_argument("--ray-steps", type=int, default=150, help="lock-step steps of all envs per --ray measurement")
    args = parser.parse_args(argv)
    if args.ray:
        from bench.support.ray_throughput import compare

        out = {"bench": "sim_throughput_ray", "machine": f"{os.cpu_count()} cores",
               **compare(load_clip(clip_path()), args.rates[0], args.ray_envs, args.ray_steps, args.rounds)}
        print(json.dumps(out))
        return
    out: dict = {"bench": "sim_throughput", "machine": f"{os.cpu_count()} cores", "unit": "control steps/s (30 Hz)",
                 "steps_per_measurement": args.steps}
    for hz in args.rates:
        ours, peer = [], []
        for r in range(args.rounds):
            ours.append(ours_rate(hz, args.steps, seed=r))
            peer.append(peer_rate(hz, args.steps, seed=r))
        ours2, peer2, vec2 = [], [], []
        for r in range(args.two_process_rounds):
            ours2.append(two_process_rate("ours", hz, args.steps, seed=r))
            peer2.append(two_process_rate("peer", hz, args.steps, seed=r))
            vec2.append(ours_vecenv_rate(hz, args.steps, seed=r))
        o1, p1, o2, p2, v2 = (statistics.median(v) for v in (ours, peer, ours2, peer2, vec2))
        out[f"{hz}hz"] = {
            "ours_1proc": round(o1, 1), "peer_1proc": round(p1, 1), "ratio": round(o1 / p1, 3),
            "ours_2proc": round(o2, 1), "peer_2proc": round(p2, 1), "ratio_2proc": round(o2 / p2, 3),
            "ours_vecenv_2": round(v2, 1),
            "ours_1proc_runs": [round(v, 1) for v in ours], "peer_1proc_runs": [round(v, 1) for v in peer],
            "replay": replay_stability(hz),
        }
    first = f"{args.rates[0]}hz"
    out["ratio"] = out[first]["ratio"]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
