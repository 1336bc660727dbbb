"""Rollout in set, real pybullet: the shipped stages simulated on a floor, against a wall, onto a mattress."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from backflip_addon.core import rotations as rot
from backflip_addon.core.clip import load_clip
from backflip_addon.core.errors import BackflipError, NotFoundError
from backflip_addon.core.kinematics import forward_kinematics
from backflip_addon.core.skeleton import FEET, ROOT_POS, ROOT_ROT, humanoid3d
from trainer_service.__main__ import main
from trainer_service.rl.judge import lowest_points
from trainer_service.rollout import RolloutReport, rollout_in_set

ROOT = Path(__file__).resolve().parents[2]
STAGES = ROOT / "assets" / "stages" / "backflip"
LANDING = STAGES / "stage_0015"
PLANE = [{"kind": "plane"}]
MATTRESS_TOP = 0.2
# A crash mat under the landing only (the flip lands about 0.9 m behind its start): 1.6 x 0.2 x 2 m,
# soft as DESIGN.md measures a mattress (about 1 kN/m per contact point sinks 5-6 cm standing).
MATTRESS = {"kind": "box", "position": [-1.1, MATTRESS_TOP / 2, 0.0], "size": [1.6, MATTRESS_TOP, 2.0],
            "stiffness": 1000.0, "damping": 100.0}
FOOT_BODIES = [humanoid3d().index(f) for f in FEET]


def _frame(t: float, fps: float = 30.0) -> int:
    return int(round(t * fps))


def _feet_height(frames: np.ndarray) -> np.ndarray:
    """Lowest point of either foot box per frame (m)."""
    return lowest_points(frames)[:, FOOT_BODIES].min(axis=1)


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> tuple[RolloutReport, np.ndarray]:
    out = tmp_path_factory.mktemp("plain") / "flip.txt"
    report = rollout_in_set(LANDING, PLANE, out)
    return report, load_clip(out).frames


def test_plain_floor_reproduces_the_stage_and_lands(plain, tmp_path) -> None:
    report, frames = plain
    attempt = report.attempts[0]
    assert attempt.landed and attempt.label == "lands and holds"
    # On a plain floor at the origin the policy sees what it saw in training: the stage's own rollout.
    shipped = load_clip(LANDING / "rollout.txt").frames
    assert frames.shape == shipped.shape
    assert np.abs(frames[:, 1:] - shipped[:, 1:]).max() < 1e-3
    metrics = json.loads((LANDING / "metrics.json").read_text())
    assert attempt.rotation_deg == pytest.approx(metrics["rotation_deg"], abs=0.5)
    assert attempt.events.touchdown == pytest.approx(metrics["landing_time"], abs=1e-6)
    takeoff, apex, touchdown = attempt.events.takeoff, attempt.events.apex, attempt.events.touchdown
    assert 0.3 < takeoff < apex < touchdown < 1.6 and attempt.events.first_fall is None
    assert len(attempt.contacts) == len(frames)
    assert set(attempt.contacts[0]) == set(FEET)  # standing at the start, contacts found before any step
    assert all(not c for c in attempt.contacts[_frame(takeoff) : _frame(touchdown)])


def test_the_rollout_a_stage_shows_is_reproduced_from_its_seed_and_noise(tmp_path, monkeypatch) -> None:
    """A check's perturbed rollout, shown by its stage, is what the rollout command makes from the seed
    and noise the stage records: Bake Stage to Scene on a plain floor bakes the stage's preview."""
    from trainer_service.rl import stages
    from trainer_service.rl.config import StageConfig
    from trainer_service.rl.trainer import eval_sim_config
    from trainer_service.rollout import load_stage
    from trainer_service.sim.env import ImitationEnv

    stage = load_stage(LANDING)
    config = StageConfig(perturbed_rollouts=2, perturb_std=0.1, extra_seconds=0.5)
    monkeypatch.setattr(stages, "shown_rollout", lambda runs: 2)
    with ImitationEnv(stage.clip, eval_sim_config(stage.sim_config, stage.clip_duration + 1.0)) as env:
        metrics, shown = stages.evaluate(env, stage.policy, stage.clip_duration, config, seed=5)
    assert (metrics.rollout_seed, metrics.rollout_perturb) == (7, 0.1)
    assert metrics.deterministic is not None and metrics.label == metrics.perturbed[1].label
    report = rollout_in_set(LANDING, PLANE, tmp_path / "shown.txt", seed=metrics.rollout_seed,
                            perturb=metrics.rollout_perturb, seconds=0.5)
    frames = load_clip(tmp_path / "shown.txt").frames
    assert report.attempts[0].label == metrics.label
    assert np.abs(frames[:, 1:] - shown.rows[: len(frames), 1:]).max() < 1e-3
    # and not the deterministic rollout, nor another seed's
    other = rollout_in_set(LANDING, PLANE, tmp_path / "other.txt", seed=6, perturb=0.1, seconds=0.5)
    assert np.abs(load_clip(tmp_path / "other.txt").frames[:, 1:] - frames[:, 1:]).max() > 0.01
    assert other.attempts[0].seed == 6


def test_events_file_follows_the_contract(tmp_path) -> None:
    out = tmp_path / "shot.txt"
    report = rollout_in_set(LANDING, PLANE, out, seconds=0.5, fps=60.0)
    data = json.loads((tmp_path / "shot.events.json").read_text())
    assert data == report.to_dict()
    assert list(data)[:10] == ["format", "stage", "stage_index", "stage_label", "fps", "seconds", "start", "seed",
                               "perturb", "attempts"]
    assert data["format"] == 1 and data["stage"] == str(LANDING.resolve()) and data["stage_index"] == 15
    assert data["stage_label"] == "lands and holds" and data["fps"] == 60.0 and data["start"] == [0.0, 0.0, 0.0]
    (attempt,) = data["attempts"]
    assert set(attempt) == {"attempt", "seed", "clip", "label", "landed", "rotation_deg", "events", "contacts"}
    assert set(attempt["events"]) == {"takeoff", "apex", "touchdown", "first_fall"}
    assert attempt["clip"] == "shot.txt"
    clip = load_clip(out)
    assert clip.loop == "none" and clip.fps == pytest.approx(60.0)
    assert clip.duration == pytest.approx(1.75 + 0.5, abs=1 / 30)
    assert len(attempt["contacts"]) == clip.num_frames
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot.events.json", "shot.txt"]  # no temporary left


def test_shipped_stages_keep_their_verdicts(tmp_path) -> None:
    """Judged from the simulator's contacts, each shipped stage keeps the label the trainer gave it."""
    for name in ("stage_0003", "stage_0016"):
        report = rollout_in_set(STAGES / name, PLANE, tmp_path / f"{name}.txt")
        metrics = json.loads((STAGES / name / "metrics.json").read_text())
        assert report.attempts[0].label == metrics["label"], name
        assert report.attempts[0].landed == metrics["landed"], name


def test_a_wall_behind_the_take_off_is_hit(plain, tmp_path) -> None:
    report, frames = plain
    takeoff_x = frames[_frame(report.attempts[0].events.takeoff), 1]
    face = takeoff_x - 0.3  # the flip travels towards -x
    wall = {"kind": "box", "position": [face - 0.1, 1.0, 0.0], "size": [0.2, 2.0, 2.0]}
    out = tmp_path / "wall.txt"
    attempt = rollout_in_set(LANDING, PLANE + [wall], out).attempts[0]
    hit = load_clip(out).frames
    assert not attempt.landed and attempt.label != report.attempts[0].label
    assert attempt.events.first_fall is not None
    first = _frame(attempt.events.first_fall)
    bodies = [b for b in attempt.contacts[first] if b not in FEET]
    assert bodies
    # What touched was well above the floor: the wall, not the ground.
    low = lowest_points(hit[first : first + 1])[0]
    assert max(low[humanoid3d().index(b)] for b in bodies) > 0.3
    assert attempt.events.first_fall < report.attempts[0].events.touchdown


def test_a_mattress_raises_the_touchdown_and_the_feet_sink(plain, tmp_path) -> None:
    report, frames = plain
    out = tmp_path / "mattress.txt"
    attempt = rollout_in_set(LANDING, PLANE + [MATTRESS], out).attempts[0]
    soft = load_clip(out).frames
    t_plain, t_soft = _frame(report.attempts[0].events.touchdown), _frame(attempt.events.touchdown)
    rise = _feet_height(soft)[t_soft] - _feet_height(frames)[t_plain]
    assert rise == pytest.approx(MATTRESS_TOP, abs=0.05)
    assert t_soft < t_plain  # the raised ground comes sooner
    after = slice(t_soft, t_soft + 10)
    x_min, x_max = MATTRESS["position"][0] - 0.8, MATTRESS["position"][0] + 0.8
    feet_x = forward_kinematics(soft[after])[0][:, FOOT_BODIES, 0]
    assert np.all((feet_x > x_min + 0.1) & (feet_x < x_max - 0.1))  # the feet are over the mattress
    sink = MATTRESS_TOP - _feet_height(soft[after]).min()
    assert sink > 0.03
    # The same box made rigid: the feet stay on its top face.
    rigid = {k: v for k, v in MATTRESS.items() if k not in ("stiffness", "damping")}
    rigid_out = tmp_path / "rigid.txt"
    rigid_attempt = rollout_in_set(LANDING, PLANE + [rigid], rigid_out).attempts[0]
    t_rigid = _frame(rigid_attempt.events.touchdown)
    assert MATTRESS_TOP - _feet_height(load_clip(rigid_out).frames[t_rigid : t_rigid + 10]).min() < 0.025


def test_a_raised_floor_lifts_the_whole_jump(plain, tmp_path) -> None:
    """The start stands on the top of the set below it, and the policy reads its root height from there:
    on a floor 0.3 m up it does what it does on the ground (without that it drifts by ~10 cm)."""
    report, frames = plain
    out = tmp_path / "raised.txt"
    attempt = rollout_in_set(LANDING, [{"kind": "plane", "position": [0.0, 0.3, 0.0]}], out).attempts[0]
    raised = load_clip(out).frames
    np.testing.assert_allclose(raised[:, ROOT_POS], frames[:, ROOT_POS] + [0.0, 0.3, 0.0], atol=1e-3)
    assert attempt.label == report.attempts[0].label and attempt.events == report.attempts[0].events


def test_start_offset_and_heading_move_and_turn_the_clip(plain, tmp_path) -> None:
    _, frames = plain
    out = tmp_path / "turned.txt"
    rollout_in_set(LANDING, PLANE, out, start=(1.0, 2.0, 90.0))
    turned = load_clip(out).frames
    # Blender (X, Y) = (1, 2) is Y-up (1, h, -2); a turn about Blender +Z is one about Y-up +Y.
    heading = rot.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.radians(90.0))
    expected = rot.rotate(heading, frames[:, ROOT_POS] - frames[0, ROOT_POS] * [1, 0, 1]) + [1.0, 0.0, -2.0]
    np.testing.assert_allclose(turned[0, ROOT_POS], expected[0], atol=1e-9)
    np.testing.assert_allclose(rot.normalize(turned[0, ROOT_ROT]),
                               rot.normalize(rot.multiply(heading, rot.normalize(frames[0, ROOT_ROT]))), atol=1e-9)
    # The whole jump follows, turned: the flip that went ~1 m towards -x now goes towards +z (Blender -Y).
    # (Turned, pybullet's sums round differently: the motions part by a few centimetres after the landing.)
    error = np.linalg.norm(turned[:, ROOT_POS] - expected, axis=1)
    assert error[: _frame(1.2)].max() < 0.03 and error.max() < 0.15
    assert turned[-1, 3] - turned[0, 3] > 0.7


def test_attempts_with_perturbation_differ(tmp_path) -> None:
    out = tmp_path / "take.txt"
    steps: list[float] = []
    report = rollout_in_set(LANDING, PLANE, out, attempts=3, perturb=0.05, seed=4, seconds=0.5, progress=steps.append)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["take.a1.txt", "take.a2.txt", "take.a3.txt", "take.events.json"]
    assert [a.seed for a in report.attempts] == [4, 5, 6] and [a.clip for a in report.attempts] == names[:3]
    clips = [load_clip(tmp_path / n).frames for n in names[:3]]
    for a in range(3):
        for b in range(a + 1, 3):
            assert np.abs(clips[a][:, 1:] - clips[b][:, 1:]).max() > 0.01
    assert steps == sorted(steps) and steps[-1] == 1.0 and 0.0 < steps[0] < 0.05


def test_a_failure_writes_nothing(tmp_path) -> None:
    out = tmp_path / "take.txt"

    def fail_in_second_attempt(fraction: float) -> None:
        if fraction > 0.6:
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        rollout_in_set(LANDING, PLANE, out, attempts=2, seconds=0.2, progress=fail_in_second_attempt)
    assert list(tmp_path.iterdir()) == []


# --- bad input ------------------------------------------------------------------------------------
def _cli(args: list[object], capsys) -> tuple[int, str]:
    code = main(["rollout", *[str(a) for a in args]])
    return code, capsys.readouterr().err


def _set(tmp_path: Path, data) -> Path:
    path = tmp_path / "set.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.mark.parametrize("data, words", [
    ([{"kind": "ramp"}], ["collider 0", "ramp", "kind"]),
    ([{"kind": "plane"}, {"kind": "box", "size": [1.0, float("nan"), 1.0]}], ["collider 1", "size", "NaN"]),
    ([{"kind": "plane"}, {"kind": "mesh", "vertices": [[0, 0, 0], [1, 0, 0], [0, 0, 1]], "indices": []}],
     ["collider 1", "mesh", "indices"]),
    ([{"kind": "plane", "colour": "red"}], ["collider 0", "colour"]),
    ('[{"kind": "plane"', ["not valid JSON", "line 1"]),
    ({"kind": "plane"}, ["list"]),
    ([], ["no colliders"]),
])
def test_bad_set_files_name_the_file_and_field(tmp_path, capsys, data, words) -> None:
    path = _set(tmp_path, data)
    code, err = _cli(["--stage", LANDING, "--colliders", path, "--out", tmp_path / "o.txt"], capsys)
    assert code == 1
    assert str(path) in err and "hint:" in err
    for word in words:
        assert word in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set.json"]


def test_stage_without_policy_is_refused(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    stage = run / "stage_0015"
    shutil.copytree(LANDING, stage)
    shutil.copy(STAGES / "clip.txt", run / "clip.txt")
    (stage / "policy.pt").unlink()
    path = _set(tmp_path, PLANE)
    code, err = _cli(["--stage", stage, "--colliders", path, "--out", tmp_path / "o.txt"], capsys)
    assert code == 1 and str(stage / "policy.pt") in err
    with pytest.raises(NotFoundError):
        rollout_in_set(stage, PLANE, tmp_path / "o.txt")
    assert not list(tmp_path.glob("o*"))


def test_nothing_under_the_start_is_refused(tmp_path) -> None:
    box = {"kind": "box", "position": [0.0, -0.1, 0.0], "size": [1.0, 0.2, 1.0]}
    with pytest.raises(BackflipError, match="under the start"):
        rollout_in_set(LANDING, [box], tmp_path / "o.txt", start=(3.0, 0.0, 0.0))
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_the_clip_and_reports_usage_errors(tmp_path, capsys) -> None:
    path = _set(tmp_path, PLANE)
    base = ["--stage", LANDING, "--colliders", path, "--out", tmp_path / "o.txt"]
    with pytest.raises(SystemExit) as usage:
        main(["rollout", *map(str, base), "--start", "1,2"])
    assert usage.value.code == 2
    code, err = _cli([*base, "--seconds", "9"], capsys)
    assert code == 1 and "--seconds" in err
    code, _ = _cli([*base, "--seconds", "0.3", "--start", "0.5,-1,45"], capsys)
    assert code == 0
    data = json.loads((tmp_path / "o.events.json").read_text())
    assert data["start"] == [0.5, -1.0, 45.0] and data["attempts"][0]["clip"] == "o.txt"
    assert load_clip(tmp_path / "o.txt").frames[0, ROOT_POS][[0, 2]] == pytest.approx([0.5, 1.0])


def test_a_damaged_policy_is_refused(tmp_path) -> None:
    run = tmp_path / "run"
    stage = run / "stage_0015"
    shutil.copytree(LANDING, stage)
    shutil.copy(STAGES / "clip.txt", run / "clip.txt")
    (stage / "policy.pt").write_bytes((LANDING / "policy.pt").read_bytes()[:1000])
    with pytest.raises(BackflipError, match="policy.pt: not a readable policy"):
        rollout_in_set(stage, PLANE, tmp_path / "o.txt")
    assert not list(tmp_path.glob("o*"))
