"""Judging rollout rows: the reference replay lands, hand-made falls get the right words (stages: test_stages.py)."""
from __future__ import annotations

import numpy as np
import pytest

from backflip_addon.core import rotations as rot
from backflip_addon.core.clip import load_clip
from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.skeleton import ROOT_POS, ROOT_ROT
from trainer_service.rl import judge

FPS = 30.0


@pytest.fixture(scope="module")
def backflip_rows(backflip_clip_path):
    return load_clip(backflip_clip_path).resample(FPS).frames


def hold(rows, seconds):
    return np.concatenate([rows, np.repeat(rows[-1:], int(seconds * FPS), axis=0)])


def test_reference_backflip_replay_lands_and_holds(backflip_rows):
    verdict = judge.judge(hold(backflip_rows, 1.5), FPS)
    assert 340 < verdict.rotation_deg < 370
    assert verdict.landed and verdict.holds
    assert verdict.first_ground_body is None and verdict.time_until_fall is None
    assert verdict.landing_time == pytest.approx(1.2)  # touchdown at ~275°; the rest is turned standing up
    assert verdict.label == "lands and holds"


def test_landing_needs_a_second_on_the_feet(backflip_rows):
    # Cut 0.5 s after touchdown: the hold cannot be confirmed, so no landing is claimed.
    verdict = judge.judge(backflip_rows, FPS)
    assert not verdict.landed
    assert verdict.label == "rotates, no landing"


def test_standing_up_from_a_knee_tap_is_not_a_landing(backflip_rows):
    """The pattern of a real stage (run stage 13): touchdown short, a knee taps the ground, the
    character rocks up past 330° on its feet and stands."""
    pitch = judge.pitch_degrees(backflip_rows)
    short = int(np.argmax(pitch >= 258))
    lateral = np.array([0.0, 0.0, 1.0])
    crouch = np.repeat(backflip_rows[short : short + 1], 12, axis=0)
    # Root held low (the shins on the ground for two frames), then rotated up to upright on the spot.
    turn = np.radians(np.linspace(0.0, 360.0 - pitch[short], 12))
    crouch[:, ROOT_ROT] = rot.multiply(rot.from_axis_angle(lateral, turn), crouch[:, ROOT_ROT])
    rows = hold(np.concatenate([backflip_rows[:short], crouch, backflip_rows[-1:]]), 1.5)
    contacts = [None] * len(rows)
    contacts[short + 2] = "left_knee"
    verdict = judge.judge(rows, FPS, contacts)
    assert verdict.rotation_deg >= judge.LANDING_ROTATION
    assert not verdict.landed
    assert verdict.first_ground_body == "left_knee" and verdict.label == "lands on knees"
    # Without the tap the same motion is a landing (the reference also turns its last degrees standing up).
    assert judge.judge(rows, FPS, [None] * len(rows)).landed


def test_reference_walk_replay_has_no_rotation(motions_dir):
    rows = load_clip(motions_dir / "humanoid3d_walk.txt").resample(FPS).frames
    verdict = judge.judge(rows, FPS)
    assert verdict.rotation_deg < 20
    assert verdict.first_ground_body is None
    assert verdict.label == "no rotation"


def test_a_flip_that_stops_inverted_and_drops_lands_on_its_head(backflip_rows):
    pitch = judge.pitch_degrees(backflip_rows)
    inverted = int(np.argmax(pitch >= 180))
    fall = np.repeat(backflip_rows[inverted : inverted + 1], 30, axis=0)
    fall[:, ROOT_POS.start + 1] -= np.linspace(0, 1.5, 30)  # straight down, head first
    rows = np.concatenate([backflip_rows[:inverted], fall])
    verdict = judge.judge(rows, FPS)
    assert verdict.first_ground_body == "neck"
    assert verdict.label == "lands on head"
    assert verdict.time_until_fall == pytest.approx(inverted / FPS, abs=1.0)
    assert not verdict.landed


def test_falling_backwards_without_turning_over_is_no_rotation(backflip_rows):
    start = backflip_rows[0]
    rows = np.repeat(start[None], 30, axis=0)
    lateral = np.array([0.0, 0.0, 1.0])  # humanoid3d faces +x, so +z rotation tips it backwards
    angles = np.radians(np.linspace(0, 80, 30))
    rows[:, ROOT_ROT] = rot.multiply(rot.from_axis_angle(lateral, angles), start[ROOT_ROT])
    rows[:, ROOT_POS.start + 1] = np.linspace(start[2], 0.15, 30)
    verdict = judge.judge(rows, FPS)
    assert 70 < verdict.rotation_deg < 90
    assert verdict.first_ground_body is not None
    assert verdict.label == "no rotation"


@pytest.mark.parametrize(
    "rotation, landed, holds, body, expected",
    [
        (10, False, False, "neck", "no rotation"),
        (200, False, False, "neck", "lands on head"),
        (340, False, False, "left_knee", "lands on knees"),
        (250, False, False, "root", "lands on back"),
        (250, False, False, "right_wrist", "lands on hands"),
        (200, False, False, None, "under-rotates"),
        (100, False, False, "root", "no rotation"),
        (350, True, False, "left_knee", "lands"),
        (350, True, True, None, "lands and holds"),
    ],
)
def test_label_rules(rotation, landed, holds, body, expected):
    assert judge.label(rotation, landed, holds, body) == expected


def test_normalised_return_is_deepmimics_definition():
    assert judge.normalised_return(np.ones(60), 60) == 1.0
    # An episode terminated after 15 of 60 steps with perfect rewards scores a quarter.
    assert judge.normalised_return(np.ones(15), 60) == 0.25
    assert judge.normalised_return(np.full(80, 0.5), 60) == 0.5


def test_simulator_contacts_decide_the_first_body_down(backflip_rows):
    rows = hold(backflip_rows, 1.5)
    contacts = [None] * len(rows)
    contacts[20] = "neck"
    verdict = judge.judge(rows, FPS, contacts)
    assert verdict.first_ground_body == "neck" and verdict.time_until_fall == pytest.approx(20 / FPS)
    assert not verdict.landed and verdict.label == "lands on head"  # a touch on the way spoils the landing
    with pytest.raises(InvalidInputError):
        judge.judge(rows, FPS, contacts[:-1])
