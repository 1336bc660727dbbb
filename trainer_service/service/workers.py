"""Long work in worker processes: each job is the project's own CLI (`python -m trainer_service extract|train|
rollout ...`) run in the job's folder, in a session of its own (so one signal reaches its simulator
workers too), its output captured in `log.txt`.

A supervisor thread starts queued jobs (one training at a time by default; extract and rollout jobs beside
it), reads their progress from their files (a training's `progress.jsonl`, a progress bar in the log) and
records how they end. Pause sends the training SIGINT (it saves a checkpoint and exits); resume relaunches
it with `--resume`; cancel kills the session. On start, `recover()` puts jobs whose worker died back in the
queue: a training then continues from its last checkpoint.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.protocol import ErrorInfo, JobStatus

from .errors import ConflictError
from .settings import Settings
from .store import JobStore

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOG_NAME = "log.txt"
LOG_TAIL_BYTES = 4000
SIDE_KINDS = ("extract", "rollout")
BAR = re.compile(r"(\w[\w ]*):\s+(\d+)%\|")
BAR_SPANS = {("extract", "pose"): (0.0, 0.7), ("extract", "fit"): (0.7, 0.95)}
"""the part of a job's progress each of its progress bars covers (by their share of the time, measured)"""


def run_dir(job: JobStatus) -> Path:
    return Path(job.folder) / "run"


def rollout_out(job: JobStatus) -> Path:
    return Path(job.folder) / "out" / "rollout.txt"


def read_tail(path: Path, size: int = LOG_TAIL_BYTES) -> str:
    """The last `size` bytes of a log, progress-bar redraws (\\r) collapsed to their last state."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - size))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def last_records(path: Path, size: int = 65536) -> list[dict]:
    """The complete JSON lines in the last `size` bytes of a JSON-lines file."""
    try:
        with open(path, "rb") as handle:
            start = max(0, handle.seek(0, os.SEEK_END) - size)
            handle.seek(start)
            lines = handle.read().decode("utf-8", "replace").split("\n")
    except OSError:
        return []
    out = []
    for line in lines[1 if start else 0:]:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the cut first line, or one a kill left half written
    return out


def error_from_log(text: str, log_path: Path) -> ErrorInfo:
    """The CLI's `error: …` / `hint: …` lines (a BackflipError), else the traceback's last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    message = next((line[7:] for line in reversed(lines) if line.startswith("error: ")), None)
    if message is not None:
        hint = next((line[6:] for line in reversed(lines) if line.startswith("hint: ")), "")
        return ErrorInfo("job_failed", message, hint or f"see the job's log: {log_path}")
    last = lines[-1] if lines else "the worker exited without output"
    return ErrorInfo("worker_crashed", last, f"see the job's log: {log_path}")


def job_processes(folder: str) -> list[int]:
    """Processes whose command line names the job's folder: its worker, also one the last service started
    but died before recording (their simulator workers share their process group)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode("utf-8", "replace")
        except OSError:
            continue  # gone meanwhile
        args = cmdline.split("\x00")
        if "trainer_service" in args and any(arg == folder or arg.startswith(folder + os.sep) for arg in args):
            found.append(int(entry.name))
    return found


def command_for(job: JobStatus) -> list[str]:
    """The CLI command that does this job's work (see each command's --help)."""
    p, folder = job.params, Path(job.folder)
    base = [sys.executable, "-m", "trainer_service"]
    if job.kind == "extract":
        cmd = [*base, "extract", p["video"], "--out", str(folder / "clip.txt")]
        cmd += [arg for key in ("start", "end") if p.get(key) is not None for arg in (f"--{key}", str(p[key]))]
        return cmd
    if job.kind == "train":
        run = run_dir(job)
        cmd = [*base, "train", "--out", str(run), "--no-bar"]
        if (run / "checkpoint.pt").exists():
            cmd.append("--resume")
        else:
            if p.get("clip"):
                cmd += ["--clip", p["clip"]]
            cmd += ["--config", str(folder / "config.json")]
        cmd += [arg for key in ("minutes", "samples") if p.get(key) is not None for arg in (f"--{key}", str(p[key]))]
        if p.get("ray_address"):
            cmd += ["--ray-address", p["ray_address"]]
        return cmd
    if job.kind == "rollout":
        start = ",".join(str(float(v)) for v in p["start"])
        return [*base, "rollout", "--stage", p["stage_dir"], "--colliders", str(folder / "colliders.json"),
                "--out", str(rollout_out(job)), "--seed", str(p["seed"]), "--attempts", str(p["attempts"]),
                "--perturb", str(p["perturb"]), f"--start={start}", "--fps", str(p["fps"]),
                "--seconds", str(p["seconds"])]
    raise InvalidInputError(f"job kind {job.kind!r} has no worker", "this job was made by another version; cancel it")


def result_for(job: JobStatus) -> dict:
    folder = Path(job.folder)
    if job.kind == "extract":
        return {"clip": str(folder / "clip.txt"), "warnings": extraction_warnings(folder / "clip.npz")}
    if job.kind == "train":
        return {"run_dir": str(run_dir(job))}
    if job.kind == "rollout":
        out = rollout_out(job)
        events = out.with_name(out.stem + ".events.json")
        clips = sorted(str(p) for p in out.parent.glob(out.stem + "*.txt"))
        return {"events": str(events), "clips": clips}
    return {}


def extraction_warnings(npz: Path) -> list[str]:
    """The warnings an extraction stored in its npz (the gravity check, frames it was unsure of); an npz
    written before they were stored holds none."""
    import numpy as np

    try:
        with np.load(npz) as data:
            return [str(w) for w in json.loads(str(data["warnings"]))] if "warnings" in data.files else []
    except (OSError, ValueError) as exc:
        log.warning("cannot read the warnings of %s: %s", npz, exc)
        return []


def training_numbers(run: Path) -> dict:
    """Counters of a training run read off its files (cheap: the tail of progress.jsonl)."""
    records = last_records(run / "progress.jsonl")
    last = next((r for r in reversed(records) if r.get("event") != "eval"), {})
    evaluation = next((r for r in reversed(records) if r.get("event") == "eval"), {})
    total = 0
    try:
        total = int(json.loads((run / "config.json").read_text())["total_samples"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return {"samples": int(last.get("samples", 0)), "iterations": int(last.get("iterations", 0)),
            "jumps": int(last.get("attempts", last.get("episodes", 0))), "total_samples": total,
            "normalised_return": evaluation.get("eval/normalised_return"),
            "samples_per_second": last.get("charts/samples_per_second"),
            "jumps_per_hour": last.get("charts/jumps_per_hour")}


class Supervisor:
    """Starts, watches, pauses and stops the job processes; the only writer of job states once running."""

    def __init__(self, settings: Settings, store: JobStore) -> None:
        self.settings = settings
        self.store = store
        self.procs: dict[str, subprocess.Popen] = {}
        self._pause_sent: dict[str, float] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------------
    def recover(self) -> None:
        """After a restart: workers of the last service that still run are stopped, and their jobs queued
        again (a training resumes from its last checkpoint; extract and rollout write all or nothing)."""
        for job in self.store.list(states=("queued", "running", "paused")):
            for pid in job_processes(job.folder) if job.folder else []:
                log.warning("job %s: stopping worker %d left by the last service", job.id, pid)
                _kill_session(pid)
                _wait_gone(pid, job.folder)
            if job.state != "running":
                continue
            requested = self.store.requested(job.id)
            if requested == "cancel":
                self.store.update(job.id, state="cancelled", pid=None, requested=None)
            elif requested == "pause":
                self.store.update(job.id, state="paused", pid=None, requested=None)
            else:
                log.info("job %s (%s): its worker died; queued again", job.id, job.kind)
                self.store.update(job.id, state="queued", pid=None, message="queued again after a restart")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="job-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; running workers are stopped too (a training saves a checkpoint first, if it can
        within `shutdown_grace_seconds`), and queued again for the next start."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            for job_id, proc in self.procs.items():
                if self.store.get(job_id).kind == "train":
                    os.kill(proc.pid, signal.SIGINT)  # save a checkpoint now rather than lose the last minutes
            deadline = time.monotonic() + self.settings.shutdown_grace_seconds
            for job_id, proc in self.procs.items():
                try:
                    proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
                _kill_session(proc.pid)
                proc.wait(timeout=30)
                self.store.update(job_id, state="queued", pid=None, message="queued again: the service stopped")
            self.procs.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # the supervisor must outlive any one job's surprise; it is logged in full
                log.exception("supervisor step failed")
            self._stop.wait(self.settings.poll_seconds)

    # --- one look at everything ----------------------------------------------------------------
    def step(self) -> None:
        with self._lock:
            for job_id, proc in list(self.procs.items()):
                job = self.store.get(job_id)
                code = proc.poll()
                if code is None:
                    self._watch(job, proc)
                else:
                    del self.procs[job_id]
                    self._pause_sent.pop(job_id, None)
                    self._finish(job, code)
            self._launch_queued()

    def _watch(self, job: JobStatus, proc: subprocess.Popen) -> None:
        folder = Path(job.folder)
        tail = read_tail(folder / LOG_NAME)
        values: dict = {"log_tail": tail}
        if job.kind == "train":
            numbers = training_numbers(run_dir(job))
            if numbers["total_samples"]:
                values["progress"] = min(1.0, numbers["samples"] / numbers["total_samples"])
            values["message"] = f"{numbers['samples']:,} samples, {numbers['iterations']} iterations"
        else:
            bars = BAR.findall(tail)
            if bars:
                name, percent = bars[-1]
                low, high = BAR_SPANS.get((job.kind, name), (0.0, 1.0))
                values["progress"] = max(job.progress, low + (high - low) * int(percent) / 100.0)
                values["message"] = f"{name} {percent}%"
        self.store.update(job.id, **values)
        sent = self._pause_sent.get(job.id)
        if sent is not None and time.monotonic() - sent > self.settings.stop_grace_seconds:
            log.warning("job %s did not stop within %.0f s of the pause; killed", job.id, self.settings.stop_grace_seconds)
            _kill_session(proc.pid)

    def _finish(self, job: JobStatus, code: int) -> None:
        folder = Path(job.folder)
        tail = read_tail(folder / LOG_NAME)
        requested = self.store.requested(job.id)
        if requested == "cancel":
            self.store.update(job.id, state="cancelled", pid=None, requested=None, log_tail=tail, message="cancelled")
        elif requested == "pause":
            self.store.update(job.id, state="paused", pid=None, requested=None, log_tail=tail,
                              message="paused at its last checkpoint")
        elif code == 0:
            self.store.update(job.id, state="done", pid=None, progress=1.0, log_tail=tail, message="done",
                              result=result_for(job))
        else:
            error = error_from_log(tail, folder / LOG_NAME)
            if job.kind == "train" and code < 0:
                error.hint = ("its worker was killed; resume the training to continue from its last checkpoint "
                              f"(see the log: {folder / LOG_NAME})")
            self.store.update(job.id, state="failed", pid=None, log_tail=tail, error=error, message=error.message)

    def _launch_queued(self) -> None:
        running = [self.store.get(job_id).kind for job_id in self.procs]
        trainings = sum(kind == "train" for kind in running)
        side = len(running) - trainings
        for job in self.store.list(states=("queued",)):
            if job.kind == "train" and trainings < self.settings.max_trainings:
                trainings += 1
            elif job.kind in SIDE_KINDS and side < self.settings.max_side_jobs:
                side += 1
            else:
                continue
            self._launch(job)

    def _launch(self, job: JobStatus) -> None:
        folder = Path(job.folder)
        folder.mkdir(parents=True, exist_ok=True)
        if job.kind == "train" and not (run_dir(job) / "checkpoint.pt").exists():
            shutil.rmtree(run_dir(job), ignore_errors=True)  # a start killed before its first checkpoint
        command = command_for(job)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT),
                                                                          os.environ.get("PYTHONPATH")]))}
        with open(folder / LOG_NAME, "ab") as logfile:
            logfile.write(f"\n$ {' '.join(command)}\n".encode())
            logfile.flush()
            proc = subprocess.Popen(command, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=logfile,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[job.id] = proc
        self.store.update(job.id, state="running", pid=proc.pid, error=None, requested=None,
                          message="resuming from its last checkpoint" if "--resume" in command else "started")
        log.info("job %s (%s) started: pid %d", job.id, job.kind, proc.pid)

    # --- requests from clients -----------------------------------------------------------------
    def pause(self, job_id: str) -> JobStatus:
        with self._lock:
            job = self.store.get(job_id)
            if job.kind != "train":
                raise InvalidInputError(f"job {job_id} is a {job.kind} job; only trainings pause",
                                        "cancel it instead")
            if job.state == "queued":
                self.store.update(job_id, state="paused", message="paused before it started")
            elif job.state == "running" and job_id in self.procs:
                self.store.update(job_id, requested="pause", message="pausing: saving a checkpoint")
                if job_id not in self._pause_sent:
                    os.kill(self.procs[job_id].pid, signal.SIGINT)  # the trainer saves a checkpoint and exits
                    self._pause_sent[job_id] = time.monotonic()
            elif job.state != "paused":
                raise ConflictError(f"job {job_id} is {job.state}; it cannot pause",
                                    "only queued or running trainings pause")
            return self.store.get(job_id)

    def resume(self, job_id: str) -> JobStatus:
        with self._lock:
            job = self.store.get(job_id)
            if job.state in ("paused", "failed") and job.kind == "train":
                self.store.update(job_id, state="queued", error=None, message="queued to resume")
            elif job.state not in ("queued", "running"):
                raise ConflictError(f"job {job_id} is {job.state}; it cannot resume",
                                    "only paused trainings, or trainings whose worker died, resume")
            return self.store.get(job_id)

    def cancel(self, job_id: str) -> JobStatus:
        with self._lock:
            job = self.store.get(job_id)
            if job.state in ("queued", "paused", "failed") and job_id not in self.procs:
                if job.state != "failed":
                    self.store.update(job_id, state="cancelled", message="cancelled")
            elif job.state == "running" and job_id in self.procs:
                self.store.update(job_id, requested="cancel", message="cancelling")
                _kill_session(self.procs[job_id].pid)
            elif job.state not in ("cancelled", "done"):
                raise ConflictError(f"job {job_id} is {job.state}; it cannot be cancelled",
                                    "wait a moment: it is changing state; then ask again")
            return self.store.get(job_id)


def _kill_session(pid: int) -> None:
    """SIGKILL a worker and every process of its group (its simulator workers)."""
    try:
        group = os.getpgid(pid)
        if group == pid:  # a worker this service started: the leader of its own group
            os.killpg(group, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait_gone(pid: int, folder: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while pid in job_processes(folder) and time.monotonic() < deadline:
        time.sleep(0.05)
