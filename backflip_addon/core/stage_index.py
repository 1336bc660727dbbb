"""Reader of a training run's `stages.json` (written by `trainer_service.rl.stages.write_index`).

Standard library only, and tolerant: unknown keys are ignored and missing metrics read as
"unknown" (NaN / False / ""), so the stage browser keeps working while the trainer adds fields.
Only an unreadable file or an entry without an index and folder is an error.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InvalidInputError, NotFoundError

INDEX_NAME = "stages.json"
PREVIEW_NAME = "preview.png"
_HINT = "pick the folder of a training run (it holds stages.json and stage_NNNN folders)"


@dataclass
class StageSummary:
    """One learning stage as the stage browser lists it."""

    index: int
    folder: Path
    """absolute path of the stage folder"""
    samples: int = 0
    label: str = ""
    normalised_return: float = math.nan
    rotation_deg: float = math.nan
    landed: bool = False
    holds: bool = False
    rollout_seed: int = 0
    """seed and action noise of the rollout the stage shows (its preview and label): a noisy one when the
    stage's check landed and its deterministic rollout did not"""
    rollout_perturb: float = 0.0

    @property
    def preview(self) -> Path:
        return self.folder / PREVIEW_NAME


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def _entry(data: Any, run_dir: Path, where: str) -> StageSummary:
    if not isinstance(data, dict) or isinstance(data.get("index"), bool) or not isinstance(data.get("index"), int):
        raise InvalidInputError(f"{where}: a stage entry without an integer 'index'", _HINT)
    folder = data.get("folder")
    if not isinstance(folder, str) or not folder:
        raise InvalidInputError(f"{where}: stage {data['index']} has no 'folder'", _HINT)
    samples, seed, perturb = data.get("samples"), data.get("rollout_seed"), _number(data.get("rollout_perturb"))
    return StageSummary(
        index=data["index"],
        folder=run_dir / folder,
        samples=samples if isinstance(samples, int) and not isinstance(samples, bool) else 0,
        label=data.get("label") if isinstance(data.get("label"), str) else "",
        normalised_return=_number(data.get("normalised_return")),
        rotation_deg=_number(data.get("rotation_deg")),
        landed=data.get("landed") is True,
        holds=data.get("holds") is True,
        rollout_seed=seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else 0,
        rollout_perturb=perturb if math.isfinite(perturb) and perturb >= 0 else 0.0,  # missing: deterministic
    )


def read_stage_index(run_dir: str | Path) -> list[StageSummary]:
    """The run's stages, ordered by index; raises NotFoundError when the folder has no index."""
    run_dir = Path(run_dir)
    path = run_dir / INDEX_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NotFoundError(f"{run_dir}: no {INDEX_NAME} (not a training run, or no stage yet)", _HINT) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"{path}: not a readable stage index: {exc}", _HINT) from exc
    entries = data.get("stages") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise InvalidInputError(f"{path}: no 'stages' list", _HINT)
    stages = [_entry(e, run_dir, f"{path}: stages[{i}]") for i, e in enumerate(entries)]
    return sorted(stages, key=lambda s: s.index)


def first_landing(stages: list[StageSummary]) -> StageSummary | None:
    """The earliest stage that landed."""
    return next((s for s in stages if s.landed), None)


def best_landing(stages: list[StageSummary]) -> StageSummary | None:
    """The landed stage with the highest normalised return (NaN counts as lowest)."""
    landed = [s for s in stages if s.landed]
    return max(landed, key=lambda s: -math.inf if math.isnan(s.normalised_return) else s.normalised_return, default=None)
