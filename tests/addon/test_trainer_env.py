"""Trainer environment set-up: real subprocesses, never blocking, progress and log; pins match pyproject."""
from __future__ import annotations

import sys
import time
import tomllib
from pathlib import Path

import pytest

from backflip_addon.core.errors import InvalidInputError
from backflip_addon.trainer_env import TRAINER_REQUIREMENTS, default_trainer_python, poll_setup, start_setup
from tests.conftest import ROOT


def run_to_end(job, seconds: float = 120.0):
    deadline = time.monotonic() + seconds
    lines = set()
    while job.status == "running" and time.monotonic() < deadline:
        lines.add(poll_setup(job).line)
        time.sleep(0.1)
    return lines


def test_requirements_are_the_trainers_pins() -> None:
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert set(TRAINER_REQUIREMENTS) == {p for p in pins if not p.startswith("bpy==")}


def test_setup_creates_a_venv_without_blocking(tmp_path: Path) -> None:
    started = time.monotonic()
    job = start_setup(sys.executable, tmp_path / "venv", tmp_path / "logs" / "setup.log", requirements=())
    assert time.monotonic() - started < 1.0 and job.status == "running"  # returns at once
    lines = run_to_end(job)
    assert job.status == "done", job.line
    assert {"Checking Python 3.11", "Creating the virtual environment"} <= lines
    assert job.python.is_file() and job.line == f"Trainer environment ready: {job.python}"
    log = job.log_path.read_text()
    assert "-m venv" in log and log.rstrip().endswith(job.line)
    with pytest.raises(InvalidInputError, match="already holds a virtual environment"):
        start_setup(sys.executable, tmp_path / "venv", tmp_path / "again.log", requirements=())


def test_setup_failures_say_where(tmp_path: Path) -> None:
    job = start_setup(str(tmp_path / "no-python"), tmp_path / "venv", tmp_path / "a.log", requirements=())
    assert job.status == "failed" and job.line.startswith("Checking Python 3.11 failed")
    (tmp_path / "file").write_text("")
    job = start_setup(sys.executable, tmp_path / "file" / "venv", tmp_path / "b.log", requirements=())
    run_to_end(job)
    assert job.status == "failed" and job.line.startswith("Creating the virtual environment failed (exit")
    assert str(tmp_path / "b.log") in job.line


def test_default_trainer_python_is_the_checkouts_venv() -> None:
    expected = ROOT / ".venv" / "bin" / "python"
    assert default_trainer_python(ROOT / "backflip_addon") == (str(expected) if expected.is_file() else "")


def test_timer_follows_the_setup(addon, tmp_path: Path) -> None:
    from backflip_addon import preferences
    from backflip_addon.operators.service import SETUP_POLL_S, poll_setup_timer

    preferences.SETUP.job = start_setup(sys.executable, tmp_path / "venv", tmp_path / "setup.log", requirements=())
    try:
        deadline = time.monotonic() + 120
        while (again := poll_setup_timer()) == SETUP_POLL_S and time.monotonic() < deadline:
            time.sleep(0.1)
        assert again is None and preferences.SETUP.job.status == "done"
    finally:
        preferences.SETUP.job = None
