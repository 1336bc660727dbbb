"""A rollout as `python -m trainer_service rollout` leaves it, made from the shipped landing stage."""
from __future__ import annotations

import json
from pathlib import Path

from backflip_addon.core.clip import MotionClip, load_clip, save_deepmimic
from tests.conftest import ROOT

STAGE = ROOT / "assets" / "stages" / "backflip" / "stage_0015"
EVENTS = {"takeoff": 0.43, "apex": 0.71, "touchdown": 1.12, "first_fall": None}


def write_rollout(folder: Path, attempts: int = 2, shift_x: float = 1.0) -> Path:
    """OUT.events.json plus OUT.a1.txt … OUT.aK.txt; attempt k's root is moved k-1 times `shift_x` (m, Y up)."""
    clip = load_clip(STAGE / "rollout.txt")
    entries = []
    for k in range(1, attempts + 1):
        frames = clip.frames.copy()
        frames[:, 1] += (k - 1) * shift_x
        save_deepmimic(MotionClip(frames, loop="none", name=f"OUT.a{k}"), folder / f"OUT.a{k}.txt")
        entries.append({
            "attempt": k, "seed": 2 + k, "clip": f"OUT.a{k}.txt",
            "label": "lands and holds" if k == 1 else "lands on knees", "landed": k == 1,
            "rotation_deg": 361.5 - 20 * (k - 1), "events": dict(EVENTS, first_fall=None if k == 1 else 1.3),
            "contacts": [[] for _ in range(clip.num_frames)], "future_field": 1,
        })
    events = {
        "format": 1, "stage": str(STAGE), "stage_index": 15, "stage_label": "lands and holds",
        "fps": 30.0, "seconds": 1.5, "start": [0.0, 0.0, 0.0], "seed": 3, "perturb": 0.05, "attempts": entries,
    }
    path = folder / "OUT.events.json"
    path.write_text(json.dumps(events))
    return path
