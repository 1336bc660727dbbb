"""Skill-aware judging: the skill read from each pybullet_data clip, the reference judged a success, and
clips cut short, frozen or dropped to the floor judged as what they are."""
from __future__ import annotations

import numpy as np
import pytest

from backflip_addon.core.clip import MotionClip, dumps_deepmimic, load_clip
from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.skeleton import ROOT_POS
from trainer_service.rl import judge, stages
from trainer_service.rl.skill import SKILL_KEY, Skill, skill_of_clip
from trainer_service.rl.trainer import with_hold

FPS = 30.0
ROOT_Y = ROOT_POS.start + 1
SKILLS = {"walk": "walk", "run": "run", "jump": "jump", "roll": "roll", "cartwheel": "cartwheel",
          "spinkick": "spinkick", "getup_faceup": "getup", "backflip": "backflip"}
SUCCESS = {"walk": "keeps walking", "run": "keeps running", "jump": "jumps and lands", "roll": "rolls and stands up",
           "cartwheel": "cartwheels and lands", "spinkick": "kicks and stays up", "getup_faceup": "gets up",
           "backflip": "lands and holds"}


def reference(motions_dir, name: str) -> tuple[np.ndarray, Skill]:
    """The clip as the trainer checks it at 30 fps (played once, its last pose held 1.5 s; a walk or a run
    repeats as long), and its skill."""
    clip = with_hold(load_clip(motions_dir / f"humanoid3d_{name}.txt"), 1.5)
    if clip.loop == "wrap":
        frames = clip.sample(np.arange(int(round((clip.duration + 1.5) * FPS)) + 1) / FPS)
    else:
        frames = clip.resample(FPS).frames
    if name == "run":
        frames[:, ROOT_Y] += 0.05  # the mocap run sinks 7 cm into the floor, dragging a shin through it
    return frames, skill_of_clip(clip)


def dropped(frames: np.ndarray, start: int) -> np.ndarray:
    """The clip until `start`, then its root sinking 0.7 m over 10 frames and lying there."""
    out = frames.copy()
    out[start:, ROOT_Y] -= np.minimum(np.arange(len(out) - start) / 10.0, 1.0) * 0.7
    return out


def frozen(frames: np.ndarray, at: int, count: int = 60) -> np.ndarray:
    """The clip until `at`, then that pose held `count` frames."""
    return np.concatenate([frames[:at], np.repeat(frames[at : at + 1], count, axis=0)])


@pytest.mark.parametrize("name", list(SKILLS))
def test_the_skill_is_read_from_the_reference_itself(motions_dir, name):
    clip = load_clip(motions_dir / f"humanoid3d_{name}.txt")
    assert skill_of_clip(clip).kind == SKILLS[name]
    held = skill_of_clip(with_hold(clip, 1.5))  # the trainer's held end pose is not part of the motion
    assert held.kind == SKILLS[name]
    assert held.speed == pytest.approx(skill_of_clip(clip).speed, rel=0.05)


@pytest.mark.parametrize("name", list(SKILLS))
def test_a_walk_or_run_cycle_repeats_and_other_clips_hold_their_last_pose(motions_dir, name):
    """pybullet_data marks the backflip, jump and roll as wrapping too: only a stride cycle goes on."""
    clip = load_clip(motions_dir / f"humanoid3d_{name}.txt")
    trained = with_hold(clip, 1.5)
    if name in ("walk", "run"):
        assert trained is clip and clip.loop == "wrap"
    else:
        assert trained.loop == "none"
        assert trained.duration == pytest.approx(clip.duration + 1.5, abs=1.0 / 30.0)
        assert np.array_equal(trained.frames[-1, 1:], clip.frames[-1, 1:])


@pytest.mark.parametrize("name", list(SKILLS))
def test_the_reference_succeeds_at_its_own_skill(motions_dir, name):
    frames, skill = reference(motions_dir, name)
    verdict = judge.judge(frames, FPS, skill=skill)
    assert verdict.label == SUCCESS[name]
    assert verdict.landed and verdict.holds
    assert verdict.skill == SKILLS[name]
    assert verdict.first_ground_body is None and verdict.time_until_fall is None


@pytest.mark.parametrize("name", list(SKILLS))
def test_the_reference_dropped_to_the_floor_fails(motions_dir, name):
    frames, skill = reference(motions_dir, name)
    moving = int(round(skill.motion_s * FPS))
    verdict = judge.judge(dropped(frames, moving // 2), FPS, skill=skill)
    assert not verdict.landed
    assert verdict.label != SUCCESS[name]


@pytest.mark.parametrize("name", ["walk", "run"])
def test_a_walk_that_falls_counts_its_steps(motions_dir, name):
    frames, skill = reference(motions_dir, name)
    # A repeating cycle is all motion (motion_s 0): it falls at the end of its first cycle.
    moving = int(round(skill.motion_s * FPS)) or len(frames) - int(round(1.5 * FPS))
    verdict = judge.judge(dropped(frames, moving - 2), FPS, skill=skill)
    assert verdict.label.startswith("falls after ") and verdict.label != "falls after 0 steps"
    assert verdict.time_until_fall is not None and verdict.first_ground_body is not None
    assert judge.judge(frozen(frames, 0), FPS, skill=skill).label == "stands still"


def test_a_jump_cut_short_or_never_taken(motions_dir):
    frames, skill = reference(motions_dir, "jump")
    airborne = int(np.argmax(judge.lowest_points(frames).min(axis=1) > judge.CONTACT_HEIGHT))
    assert judge.judge(frames[: airborne + 12], FPS, skill=skill).label == "jumps, no landing"
    assert judge.judge(frozen(frames, 0), FPS, skill=skill).label == "no jump"


def test_a_roll_that_stays_down_or_never_turns(motions_dir):
    frames, skill = reference(motions_dir, "roll")
    turned = judge.rotation_about(frames, skill)
    over = int(np.argmax(turned >= 0.9 * skill.rotation_deg))
    down = judge.judge(frozen(frames, over), FPS, skill=skill)
    assert down.label == "rolls, stays down" and not down.landed
    assert down.rotation_deg >= 0.9 * skill.rotation_deg
    assert judge.judge(frozen(frames, 3), FPS, skill=skill).label == "no roll"


def test_a_getup_that_stays_down_or_falls_again(motions_dir):
    frames, skill = reference(motions_dir, "getup_faceup")
    assert judge.judge(frozen(frames, 0), FPS, skill=skill).label == "stays down"
    up = judge.judge(frames, FPS, skill=skill)
    again = judge.judge(dropped(np.concatenate([frames, frames[-45:]]), len(frames) + 5), FPS, skill=skill)
    assert again.landed and not again.holds and again.label == "gets up, falls again"
    assert again.landing_time == pytest.approx(up.landing_time)


def test_a_spin_kick_cut_short_is_no_spin(motions_dir):
    frames, skill = reference(motions_dir, "spinkick")
    turned = judge.rotation_about(frames, skill)
    verdict = judge.judge(frozen(frames, int(np.argmax(turned >= 90))), FPS, skill=skill)
    assert verdict.label == "no spin" and not verdict.landed


def test_cartwheel_hands_may_touch_but_a_head_may_not(motions_dir):
    frames, skill = reference(motions_dir, "cartwheel")
    hands = [f for f, c in enumerate(judge.ground_contacts(frames)) if c.any()]
    assert judge.judge(frames, FPS, skill=skill).landed
    contacts: list[str | None] = [None] * len(frames)
    contacts[hands[len(hands) // 2]] = "neck"
    verdict = judge.judge(frames, FPS, contacts, skill=skill)
    assert not verdict.landed and verdict.label == "falls on head"


def test_the_backflip_read_from_its_clip_judges_like_the_default(motions_dir):
    frames, skill = reference(motions_dir, "backflip")
    for rows in (frames, frames[:45], dropped(frames, 20)):
        assert judge.judge(rows, FPS, skill=skill) == judge.judge(rows, FPS)


def test_skill_records_round_trip_and_reject_unknown_kinds(motions_dir):
    skill = skill_of_clip(load_clip(motions_dir / "humanoid3d_roll.txt"))
    assert Skill.from_dict(skill.to_dict()) == skill
    with pytest.raises(InvalidInputError):
        Skill.from_dict({**skill.to_dict(), "kind": "moonwalk"})
    with pytest.raises(InvalidInputError):
        Skill.from_dict({**skill.to_dict(), "height": 2.0})
    with pytest.raises(InvalidInputError):
        Skill.from_dict({**skill.to_dict(), "speed": "fast"})


def test_a_pybullet_rollout_is_judged_for_its_clip_and_rejudged_from_its_stage(tmp_path, motions_dir):
    """A short simulated rollout of the get-up (PD replay of the reference, zero residual) is judged as a
    get-up, and its stage's rollout.txt carries the skill so that it re-judges to the same verdict."""
    from trainer_service.rl.trainer import eval_sim_config
    from trainer_service.sim.config import SimConfig
    from trainer_service.sim.env import ImitationEnv

    clip = with_hold(load_clip(motions_dir / "humanoid3d_getup_faceup.txt"), 1.5)
    with ImitationEnv(clip, eval_sim_config(SimConfig(), clip.duration + 0.5)) as env:
        ro = stages.run_rollout(env, lambda obs: np.zeros((len(obs), env.action_size)), steps=45)
    metrics = stages.rollout_metrics(ro, clip.duration)
    assert metrics.skill == "getup"
    # Lying on the floor is where the get-up starts, not a fall: the return counts on past it.
    assert ro.contacts[1] is not None and ro.fell_step > 10
    assert metrics.normalised_return > 0.1
    assert metrics.label in ("gets up", "gets up, falls again", "stays down")
    assert metrics.label == "stays down"  # 1.5 s into a 3.8 s get-up, it is still on the floor
    written = stages.write_stage(tmp_path, 1, b"policy", {}, metrics, ro, preview_frames=2)
    again = load_clip(written / "rollout.txt")
    assert again.extras[SKILL_KEY]["kind"] == "getup"
    assert judge.judge_clip(again).label == metrics.label


def test_a_stage_rollout_without_a_skill_is_judged_as_a_backflip(tmp_path, motions_dir):
    clip = load_clip(motions_dir / "humanoid3d_walk.txt").resample(FPS)
    (tmp_path / "rollout.txt").write_text(dumps_deepmimic(MotionClip(clip.frames, loop="none")))
    assert judge.judge_clip(load_clip(tmp_path / "rollout.txt")).label == "no rotation"
