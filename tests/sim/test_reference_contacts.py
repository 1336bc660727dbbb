"""Contacts the reference makes itself (a roll's back, a get-up's whole body) do not end an episode."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backflip_addon.core.clip import load_clip
from trainer_service.sim.character import ACTION_SIZE, LINK_NAMES
from trainer_service.sim.config import SimConfig
from trainer_service.sim.reference import build_reference
from trainer_service.sim.termination import episode_ending


def _down(motions_dir: Path, name: str, **config) -> set[str]:
    reference = build_reference(load_clip(motions_dir / f"humanoid3d_{name}.txt"), SimConfig(physics_hz=120, **config))
    return {n for n, down in zip(LINK_NAMES, reference.grounded.any(axis=0)) if down}


@pytest.mark.parametrize("name", ["backflip", "walk", "run", "jump", "spinkick"])
def test_skills_on_their_feet_excuse_nothing(motions_dir: Path, name: str) -> None:
    assert _down(motions_dir, name) == set()


def test_rolls_get_ups_and_cartwheels_put_their_own_bodies_down(motions_dir: Path) -> None:
    assert {"chest", "neck", "right_shoulder"} <= _down(motions_dir, "roll")
    assert {"root", "chest", "left_shoulder"} <= _down(motions_dir, "getup_faceup")
    cartwheel = _down(motions_dir, "cartwheel")
    assert {"right_wrist", "left_wrist"} <= cartwheel and not {"chest", "root", "neck"} & cartwheel
    assert _down(motions_dir, "getup_faceup", reference_contact_height=0.0) == set(), "0 = DeepMimic's rule"


def test_an_excused_contact_is_reported_but_does_not_end_the_episode() -> None:
    chest, ground = LINK_NAMES.index("chest"), 0
    config = SimConfig(episode_seconds=1.0)
    grounded = np.zeros(len(LINK_NAMES), dtype=bool)
    assert episode_ending([(chest, ground)], 0.2, 80, 0, 1000, config, grounded).terminated
    grounded[chest] = True
    excused = episode_ending([(chest, ground)], 0.2, 80, 0, 1000, config, grounded)
    assert excused.fell and excused.first_contact == "chest" and not (excused.terminated or excused.unexpected)
    knee = LINK_NAMES.index("right_knee")
    knee_down = episode_ending([(chest, ground), (knee, ground)], 0.2, 80, 0, 1000, config, grounded)
    assert knee_down.terminated and knee_down.unexpected
    no_et = SimConfig(episode_seconds=1.0, fall_termination=False)
    assert episode_ending([(chest, ground)], 0.2, 80, 0, 1000, no_et, grounded).unexpected is False


def test_a_get_up_starts_lying_down_without_ending_at_once(motions_dir: Path) -> None:
    from trainer_service.sim.env import ImitationEnv

    clip = load_clip(motions_dir / "humanoid3d_getup_faceup.txt")
    steps = {}
    for height in (0.03, 0.0):
        with ImitationEnv(clip, SimConfig(physics_hz=120, rsi=False, reference_contact_height=height), seed=0) as env:
            env.reset()
            for step in range(1, 16):
                _obs, _reward, terminated, _truncated, info = env.step(np.zeros(ACTION_SIZE))
                if terminated:
                    break
            steps[height] = step
            assert height == 0.0 or info["fell"], "lying down is still a contact"
    assert steps[0.0] == 1, "DeepMimic's rule ends the episode on the first step"
    # With no policy at all the body soon sags onto a shoulder the reference holds up: that still ends it.
    assert steps[0.03] >= 4, "lying on the floor as the reference does goes on"
