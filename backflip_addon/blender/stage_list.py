"""Fill the stage browser (`scene.backflip.stages`) from a training run's stages.json."""
from __future__ import annotations

from pathlib import Path

import bpy

from ..core.stage_index import StageSummary, best_landing, first_landing, read_stage_index


def _marker(stage: StageSummary, first: StageSummary | None, best: StageSummary | None) -> str:
    names = [name for name, mark in (("first landing", first), ("best landing", best)) if mark is not None and mark.index == stage.index]
    return " · ".join(names)


def load_stages(stages: bpy.types.PropertyGroup, run_dir: str | Path) -> list[StageSummary]:
    """Replace the browser's rows with the run's stages and select the best landing (else the latest stage).

    The index is read before anything changes, so a bad folder leaves the list as it was.
    """
    summaries = read_stage_index(run_dir)
    first, best = first_landing(summaries), best_landing(summaries)
    stages.entries.clear()
    for summary in summaries:
        item = stages.entries.add()
        item.index = summary.index
        item.folder = str(summary.folder)
        item.label = summary.label
        item.samples = summary.samples
        item.normalised_return = summary.normalised_return
        item.rotation_deg = summary.rotation_deg
        item.landed = summary.landed
        item.rollout_seed = summary.rollout_seed
        item.rollout_perturb = summary.rollout_perturb
        item.marker = _marker(summary, first, best)
    stages.run_dir = str(run_dir)
    selected = best or (summaries[-1] if summaries else None)
    stages.active = summaries.index(selected) if selected is not None else 0
    return summaries


def selected_stage(stages: bpy.types.PropertyGroup) -> bpy.types.PropertyGroup | None:
    if 0 <= stages.active < len(stages.entries):
        return stages.entries[stages.active]
    return None
