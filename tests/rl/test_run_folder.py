"""A run folder is untrusted input: checkpoints without code execution, one process per folder, fallback to
the previous checkpoint, the whole config checked before anything is written (issue 14: 1, 2, 8, 11)."""
from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from backflip_addon.core.config import from_dict
from backflip_addon.core.errors import InvalidInputError
from tests.conftest import ROOT
from tests.rl.test_training import tiny_config
from trainer_service.rl import checkpoint
from trainer_service.rl.checkpoint import CHECKPOINT_NAME, PREVIOUS_NAME, CheckpointError
from trainer_service.rl.config import TrainConfig
from trainer_service.rl.runlock import RunFolderBusyError, RunLock
from trainer_service.rl.trainer import Trainer, train

SHIPPED = ROOT / "assets" / "stages" / "backflip"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, backflip_clip_path):
    """A tiny run whose budget is spent: resuming it loads, recovers and stops."""
    run = tmp_path_factory.mktemp("run") / "run"
    config = tiny_config()
    config.total_samples = 256
    train(backflip_clip_path, run, config, show_bar=False)
    return run


@pytest.fixture
def run_copy(finished_run, tmp_path):
    return shutil.copytree(finished_run, tmp_path / "run")


class Payload:
    """What a hostile checkpoint holds: unpickling it would run a command."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_checkpoint_runs_no_code_on_resume(run_copy, tmp_path):
    marker = tmp_path / "owned"
    data = checkpoint.read(run_copy / CHECKPOINT_NAME)
    data["state"]["note"] = Payload(marker)
    for name in (CHECKPOINT_NAME, PREVIOUS_NAME):
        torch.save(data, run_copy / name)
    with pytest.raises(CheckpointError, match="no readable checkpoint"):
        Trainer(None, run_copy, resume=True, show_bar=False).run()
    assert not marker.exists()


def test_new_checkpoints_hold_only_tensors_and_plain_data(finished_run):
    data = torch.load(finished_run / CHECKPOINT_NAME, weights_only=True)  # raises on any pickled object
    assert data["format"] == checkpoint.FORMAT
    assert isinstance(data["rng"]["numpy"]["key"], torch.Tensor)


def test_the_shipped_format_1_checkpoint_migrates_without_unpickling_code(tmp_path):
    run = tmp_path / "shipped"
    shutil.copytree(SHIPPED, run, ignore=shutil.ignore_patterns("progress.jsonl", "*.png"))
    with pytest.raises(Exception):  # format 1 pickles numpy's RNG state: a plain safe load refuses it
        torch.load(run / CHECKPOINT_NAME, weights_only=True)
    old = torch.load(run / CHECKPOINT_NAME, weights_only=False)  # trusted here: our own shipped file
    trainer = Trainer(None, run, resume=True, show_bar=False)
    assert trainer.sim_config.target_obs and trainer.sim_config.rsi_window == pytest.approx(trainer.clip.duration)
    trainer._build()
    try:
        assert trainer.state.samples == old["state"]["samples"] and trainer.state.milestones.first_hold
        assert np.array_equal(np.random.get_state()[1], old["rng"]["numpy"][1])
        assert [e.folder for e in trainer.state.stages] == [s["folder"] for s in old["state"]["stages"]]
        trainer._save_checkpoint()  # what a resumed run does first: rewrite in today's format
    finally:
        trainer.eval_env.close()
    again = torch.load(run / CHECKPOINT_NAME, weights_only=True)
    assert again["format"] == checkpoint.FORMAT and again["state"]["samples"] == old["state"]["samples"]
    assert torch.equal(again["agent"]["actor.log_std"], old["agent"]["actor.log_std"])


def test_a_second_process_on_a_run_folder_is_refused_naming_the_holder(tmp_path, backflip_clip_path):
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from trainer_service.rl.runlock import RunLock\n"
         f"lock = RunLock({str(run)!r}); lock.acquire(); print('held', flush=True); time.sleep(60)"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        config = tiny_config()
        config.total_samples = 128
        with pytest.raises(RunFolderBusyError, match=f"pid {holder.pid}"):
            Trainer(backflip_clip_path, run, config, show_bar=False).run()
        assert sorted(p.name for p in run.iterdir()) == ["run.lock"], "the refused process wrote nothing"
    finally:
        holder.kill()
        holder.wait(timeout=30)
    with RunLock(run):  # the kernel dropped the dead holder's lock
        pass


def test_a_corrupt_checkpoint_falls_back_to_the_previous_one(run_copy, caplog):
    assert (run_copy / PREVIOUS_NAME).exists(), "every save keeps the one before"
    previous = checkpoint.read(run_copy / PREVIOUS_NAME)["state"]["samples"]
    stale = run_copy / f".{CHECKPOINT_NAME}.k1ll3d.tmp"
    stale.write_bytes(b"\0" * 1024)
    missing_keys = io.BytesIO()
    torch.save({"format": checkpoint.FORMAT, "agent": {}}, missing_keys)
    for damage in (b"", b"garbage" * 100, (run_copy / CHECKPOINT_NAME).read_bytes()[:5000], missing_keys.getvalue()):
        (run_copy / CHECKPOINT_NAME).write_bytes(damage)
        trainer = Trainer(None, run_copy, resume=True, show_bar=False)
        with caplog.at_level(logging.WARNING, logger="trainer_service.rl.checkpoint"):
            state = trainer.run()
        assert "resuming from checkpoint.prev.pt" in caplog.text
        assert state.samples >= previous
        assert not stale.exists()
        shutil.copy(run_copy / PREVIOUS_NAME, run_copy / "good.pt")
        (run_copy / "good.pt").replace(run_copy / PREVIOUS_NAME)
        caplog.clear()


def test_without_any_readable_checkpoint_resume_is_a_clear_error(run_copy):
    (run_copy / CHECKPOINT_NAME).write_bytes(b"not a checkpoint")
    (run_copy / PREVIOUS_NAME).unlink()
    with pytest.raises(CheckpointError) as caught:
        Trainer(None, run_copy, resume=True, show_bar=False).run()
    assert "start a new run" in caught.value.hint


@pytest.mark.parametrize("overrides", [
    {"total_samples": "lots"}, {"total_samples": -5}, {"minutes": float("nan")}, {"ppo": {"num_envs": 2.5}},
    {"ppo": {"hidden_sizes": [64, "wide"]}}, {"ppo": {"gamma": 1.5}}, {"stages": {"preview_frames": 0}},
    {"sim": {"rsi": "yes"}}, {"hold_seconds": None},
])
def test_a_badly_typed_config_is_refused_before_the_run_folder_is_touched(tmp_path, backflip_clip_path, overrides):
    run = tmp_path / "run"
    with pytest.raises(InvalidInputError):
        config = from_dict(TrainConfig, overrides)
        Trainer(backflip_clip_path, run, config, show_bar=False).run()
    assert not run.exists()


def test_the_train_cli_refuses_a_badly_typed_config_with_exit_1(tmp_path, backflip_clip_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"total_samples": "lots"}))
    result = subprocess.run([sys.executable, "-m", "trainer_service", "train", "--clip", str(backflip_clip_path),
                             "--out", str(tmp_path / "run"), "--config", str(bad), "--no-bar"],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "total_samples" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()
