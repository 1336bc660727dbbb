"""Service under polling load: 50 concurrent status pollers while a training runs.

Starts a real service (temporary state folder, loopback), queues a training, and once it is going
measures in alternating windows: no polling / 50 pollers / ... / no polling. Each poller is its own client
(own connection per request, as Blender's urllib does) asking GET /jobs/{id} every --interval seconds,
all 50 released together each round. The training's samples/s in a window is read off its progress.jsonl
(samples over training seconds between the window's first and last iteration record). Reported: median
and p99 poll latency, samples/s without polling (mean of the quiet windows) beside samples/s with it
(mean of the polled ones), and the cores the service and the pollers themselves used while polled. Targets: median < 50 ms, throughput drop < 10 %.

    .venv/bin/python bench/service_load.py [--pollers 50] [--interval 0.5] [--window 20] [--rounds 3] [--envs 4]

Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backflip_addon.client.http import ServiceClient  # noqa: E402
from backflip_addon.client.service import start_service, stop_service  # noqa: E402
from backflip_addon.core.protocol import TrainingRequest  # noqa: E402
from trainer_service.rl import progress  # noqa: E402


def training_config(envs: int) -> dict:
    """A steady training: no stages or evaluations inside the windows, checkpoints rare."""
    return {"checkpoint_seconds": 600.0,
            "ppo": {"num_envs": envs, "num_steps": 128, "hidden_sizes": [256, 128], "minibatch_size": 256},
            "stages": {"first_stage_samples": 10**9, "eval_every_samples": 10**9, "perturbed_rollouts": 0}}


def samples_per_second(run: Path, t0: float, t1: float, marks: list[tuple[float, int]]) -> float:
    """Samples per training second over the iteration records written between wall times t0 and t1."""
    first = next(samples for at, samples in marks if at >= t0)
    last = max(samples for at, samples in marks if at <= t1)
    records = [r for r in progress.read_progress(run) if r.get("event") != "eval" and first <= r["samples"] <= last]
    return (records[-1]["samples"] - records[0]["samples"]) / (records[-1]["wall_seconds"] - records[0]["wall_seconds"])


def watch(run: Path, marks: list, stop: threading.Event) -> None:
    """(wall time, latest samples) every 0.2 s, read off the file (no HTTP: it must not load the service)."""
    while not stop.is_set():
        records = [r for r in progress.read_progress(run)[-3:] if r.get("event") != "eval"]
        if records:
            marks.append((time.monotonic(), records[-1]["samples"]))
        stop.wait(0.2)


def poll_window(client: ServiceClient, job_id: str, pollers: int, interval: float, seconds: float) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    barrier = threading.Barrier(pollers)

    def poller() -> None:
        own = ServiceClient(client.base.rsplit(":", 1)[1], client.token, timeout=30)
        while True:
            try:
                barrier.wait(timeout=interval * 4 + 30)
            except threading.BrokenBarrierError:
                return
            if time.monotonic() >= deadline:
                barrier.abort()
                return
            began = time.perf_counter()
            own.job(job_id)
            spent = time.perf_counter() - began
            with lock:
                latencies.append(spent)
            time.sleep(max(0.0, interval - spent))

    threads = [threading.Thread(target=poller) for _ in range(pollers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def process_cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between one poller's requests")
    parser.add_argument("--window", type=float, default=20.0, help="seconds per measuring window")
    parser.add_argument("--rounds", type=int, default=3, help="pairs of windows (quiet, polled), plus a last quiet one")
    parser.add_argument("--envs", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="backflip-load-") as tmp:
        state = Path(tmp) / "state"
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        client = start_service(sys.executable, state, env=env, timeout=120)
        try:
            training = client.create_training(TrainingRequest(samples=10**8, config=training_config(args.envs)))
            run = state / "jobs" / training.id / "run"
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and client.training(training.id).progress.iterations < 5:
                time.sleep(1.0)  # warm up: workers started, first iterations done
            marks: list[tuple[float, int]] = []
            stop = threading.Event()
            watcher = threading.Thread(target=watch, args=(run, marks, stop))
            watcher.start()
            service_pid = int(json.loads((state / "service.json").read_text())["pid"])
            windows, latencies, cpu = [], [], {"service": 0.0, "pollers": 0.0}
            try:  # quiet and polled windows alternate, so the machine's other load drifts into both alike
                for name in ["quiet", "polled"] * args.rounds + ["quiet"]:
                    t0, service0, own0 = time.monotonic(), process_cpu_seconds(service_pid), own_cpu_seconds()
                    if name == "polled":
                        latencies += poll_window(client, training.id, args.pollers, args.interval, args.window)
                        cpu["service"] += process_cpu_seconds(service_pid) - service0
                        cpu["pollers"] += own_cpu_seconds() - own0
                    else:
                        time.sleep(args.window)
                    windows.append((name, t0, time.monotonic()))
            finally:
                stop.set()
                watcher.join()
            rates = [(name, samples_per_second(run, t0, t1, marks)) for name, t0, t1 in windows]
            latencies.sort()
            quiet = statistics.mean(r for name, r in rates if name == "quiet")
            polled = statistics.mean(r for name, r in rates if name == "polled")
            polled_seconds = args.window * args.rounds
            result = {
                "bench": "service_load", "pollers": args.pollers, "interval_s": args.interval,
                "window_s": args.window, "envs": args.envs, "requests": len(latencies),
                "median_ms": round(1000 * statistics.median(latencies), 1),
                "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1),
                "samples_per_s_quiet": round(quiet, 1), "samples_per_s_polled": round(polled, 1),
                "samples_per_s_windows": [[name, round(r, 1)] for name, r in rates],
                "throughput_drop_pct": round(100 * (1 - polled / quiet), 1),
                "service_cores_while_polled": round(cpu["service"] / polled_seconds, 3),
                "pollers_cores_while_polled": round(cpu["pollers"] / polled_seconds, 3),
                "load_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
            }
            client.cancel_training(training.id)
        finally:
            stop_service(state)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
