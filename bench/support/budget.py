"""Training on a wall-clock budget that survives interruption: the benches' runs resume where they stopped."""
from __future__ import annotations

from pathlib import Path

from trainer_service.rl import checkpoint, stages
from trainer_service.rl.config import TrainConfig

FINISHED_SLACK_SECONDS = 5.0
"""a run this close to its budget counts as finished (a stopped run overshoots its minutes by a few seconds
of checkpointing, and training it again for those would only add a stage check)"""


def trained_seconds(run_dir: Path) -> tuple[float, int] | None:
    """(wall seconds, samples) of the run's last checkpoint, or None when it has none."""
    if not checkpoint.exists(run_dir):
        return None
    state = stages.RunState.from_dict(checkpoint.load(run_dir)["state"])
    return state.wall_seconds, state.samples


def train_for(clip: Path, run_dir: Path, minutes: float, config: TrainConfig) -> None:
    """Start, continue or leave the run in `run_dir` so that it has trained `minutes` in all (or, with
    `until_landing` in its config, until it landed); `config` (its `minutes` replaced) starts a new run, a
    resumed one keeps its own."""
    from trainer_service.rl.trainer import Trainer

    done = trained_seconds(run_dir)
    if done is None:
        config.minutes = minutes
        Trainer(clip, run_dir, config, show_bar=False).run()
        return
    seconds, samples = done
    trainer = Trainer(None, run_dir, resume=True, show_bar=False)
    left = minutes * 60 - seconds
    landed = trainer.config.until_landing and stages.first_landing(stages.read_index(run_dir)) is not None
    if left <= FINISHED_SLACK_SECONDS or samples >= trainer.config.total_samples or landed:
        return
    trainer.config.minutes = left / 60
    trainer.run()
