"""Set up the trainer's own virtual environment from a chosen Python 3.11, without blocking Blender.

Each step is a subprocess (`Popen`, output to a log file); `poll_setup` is a plain function that a
Blender timer calls (and tests call directly): it starts the next step when one ends and reports a
progress line. Blender's own Python is never used to install anything.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .core.errors import InvalidInputError

# The trainer's pinned packages (pyproject.toml's dependencies without bpy, which the trainer
# does not import); tests/addon/test_trainer_env.py keeps the two lists in step.
TRAINER_REQUIREMENTS: tuple[str, ...] = (
    "numpy==1.26.4",
    "torch==2.13.0",
    "pybullet==3.2.7",
    "mediapipe==0.10.21",
    "matplotlib==3.8.4",
    "tensorboard==2.19.0",
    "ray==2.60.0",
    "tqdm==4.67.1",
    "fastapi==0.115.6",
    "uvicorn==0.34.0",
)
_CHECK_311 = "import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 'the trainer needs Python 3.11, this is ' + sys.version.split()[0])"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def default_trainer_python(addon_root: Path) -> str:
    """The `.venv` Python of the checkout the add-on runs from, when there is one; else ""."""
    for folder in (addon_root, *addon_root.parents[:2]):
        candidate = venv_python(folder / ".venv")
        if candidate.is_file():
            return str(candidate)
    return ""


@dataclass
class SetupJob:
    """A running (or finished) set-up: its steps, the one running, and what to show."""

    steps: list[tuple[str, list[str]]]
    """(progress line, command)"""
    log_path: Path
    log: IO[str]
    venv: Path
    step: int = 0
    status: str = "running"
    """running | done | failed"""
    line: str = ""
    process: subprocess.Popen | None = None

    @property
    def python(self) -> Path:
        return venv_python(self.venv)


def setup_steps(base_python: str, venv: Path, requirements: tuple[str, ...], source: str = "") -> list[tuple[str, list[str]]]:
    """The commands that build the trainer's venv: check 3.11, create, install pinned packages (and the trainer)."""
    python = str(venv_python(venv))
    steps = [
        ("Checking Python 3.11", [base_python, "-c", _CHECK_311]),
        ("Creating the virtual environment", [base_python, "-m", "venv", str(venv)]),
    ]
    if requirements:
        steps.append((f"Installing {len(requirements)} pinned packages", [python, "-m", "pip", "install", *requirements]))
    if source:
        steps.append(("Installing the trainer", [python, "-m", "pip", "install", "--no-deps", source]))
    return steps


def _start_step(job: SetupJob) -> None:
    job.line, command = job.steps[job.step]
    job.log.write(f"$ {' '.join(command)}\n")
    job.log.flush()
    try:
        job.process = subprocess.Popen(command, stdout=job.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    except OSError as exc:
        _finish(job, "failed", f"{job.line} failed: {exc}")


def _finish(job: SetupJob, status: str, line: str) -> None:
    job.status, job.line, job.process = status, line, None
    if not job.log.closed:
        job.log.write(f"{line}\n")
        job.log.close()


def start_setup(base_python: str, venv: str | Path, log_path: str | Path, *,
                requirements: tuple[str, ...] = TRAINER_REQUIREMENTS, source: str = "") -> SetupJob:
    """Start building the venv; returns at once. Poll with `poll_setup` until status is not "running"."""
    venv, log_path = Path(venv), Path(log_path)
    if not base_python:
        raise InvalidInputError("no Python chosen for the trainer", "pick a Python 3.11 interpreter (e.g. /usr/bin/python3.11)")
    if venv_python(venv).exists():
        raise InvalidInputError(f"{venv} already holds a virtual environment", "pick an empty folder, or use it as Trainer Python")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    job = SetupJob(setup_steps(base_python, venv, requirements, source), log_path, log_path.open("w", encoding="utf-8"), venv)
    _start_step(job)
    return job


def poll_setup(job: SetupJob) -> SetupJob:
    """Advance `job` without waiting: start the next step when one ends, stop at the first failure."""
    if job.status != "running" or job.process is None:
        return job
    code = job.process.poll()
    if code is None:
        return job
    if code != 0:
        _finish(job, "failed", f"{job.line} failed (exit {code}); see {job.log_path}")
        return job
    job.step += 1
    if job.step == len(job.steps):
        _finish(job, "done", f"Trainer environment ready: {job.python}")
    else:
        _start_step(job)
    return job
