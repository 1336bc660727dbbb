"""The judge on a raised support: feet contacts from the simulator instead of the shapes at y = 0."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from backflip_addon.core.clip import load_clip
from backflip_addon.core.skeleton import FEET, humanoid3d
from trainer_service.rl import judge

ROLLOUT = Path(__file__).resolve().parents[2] / "assets" / "stages" / "backflip" / "stage_0015" / "rollout.txt"


def test_a_landing_on_a_raised_support_is_judged_from_the_given_foot_contacts() -> None:
    clip = load_clip(ROLLOUT)
    others = clip.extras[judge.CONTACTS_KEY]
    feet = [humanoid3d().index(f) for f in FEET]
    on_floor = judge.ground_contacts(clip.frames)[:, feet].any(axis=1)
    assert judge.judge(clip.frames, clip.fps, others).landed
    # The same motion 0.2 m higher, as on a platform: at y = 0 nothing ever touches...
    raised = clip.frames.copy()
    raised[:, 2] += 0.2
    assert not judge.judge(raised, clip.fps, others).landed
    # ... but with the simulator's foot contacts the verdict is the floor's, touchdown included.
    verdict = judge.judge(raised, clip.fps, others, foot_contacts=on_floor)
    assert verdict.landed and verdict.holds
    assert verdict.landing_time == judge.judge(clip.frames, clip.fps, others).landing_time
    assert not judge.judge(raised, clip.fps, others, foot_contacts=np.zeros(len(raised), bool)).landed
