"""Learning stages: the schedule, milestones, the typed records and their files, and the shipped run."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from backflip_addon.core.clip import load_clip, load_deepmimic
from backflip_addon.core.errors import InvalidInputError
from tests.conftest import ROOT
from trainer_service.rl import judge, stages
from trainer_service.rl.config import StageConfig

FPS = 30.0
SHIPPED = ROOT / "assets" / "stages" / "backflip"


@pytest.fixture(scope="module")
def backflip_rows(backflip_clip_path):
    return load_clip(backflip_clip_path).resample(FPS).frames


def hold(rows, seconds):
    return np.concatenate([rows, np.repeat(rows[-1:], int(seconds * FPS), axis=0)])


def verdict(rotation_deg: float, landed: bool, holds: bool, normalised_return: float) -> stages.StageMetrics:
    return stages.StageMetrics(normalised_return=normalised_return, rotation_deg=rotation_deg, landed=landed,
                               holds=holds, first_ground_body=None, time_until_fall=None, landing_time=None, label="")


def test_log_spaced_schedule():
    cfg = StageConfig(first_stage_samples=100_000, stages_per_decade=4)
    points, s = [], 0
    for _ in range(9):
        s = stages.scheduled_samples(cfg, s)
        points.append(s)
    assert points == [100_000, 177_828, 316_228, 562_341, 1_000_000, 1_778_279, 3_162_278, 5_623_413, 10_000_000]
    assert stages.scheduled_samples(cfg, 1_000_000) == 1_778_279
    assert stages.scheduled_samples(cfg, 999_999) == 1_000_000


def test_milestones_fire_once():
    reached = stages.Milestones()
    m = verdict(340.0, landed=False, holds=False, normalised_return=0.2)
    assert stages.milestone_reasons(m, reached, 0.03) == ["first full rotation", "best return"]
    assert stages.milestone_reasons(m, reached, 0.03) == []
    m = verdict(350.0, landed=True, holds=False, normalised_return=0.21)
    assert stages.milestone_reasons(m, reached, 0.03) == ["first landing"]
    m = verdict(360.0, landed=True, holds=True, normalised_return=0.22)
    assert stages.milestone_reasons(m, reached, 0.03) == ["best landing", "first landing that holds"]
    assert stages.milestone_reasons(m, reached, 0.03) == []


def test_a_better_landing_is_kept_below_the_best_return_margin_and_a_fall_never_is():
    reached = stages.Milestones()
    assert "first landing" in stages.milestone_reasons(verdict(380.0, True, False, 0.60), reached, 0.03)
    assert stages.milestone_reasons(verdict(380.0, True, False, 0.59), reached, 0.03) == []
    assert stages.milestone_reasons(verdict(380.0, False, False, 0.62), reached, 0.03) == []  # no landing
    assert stages.milestone_reasons(verdict(380.0, True, False, 0.61), reached, 0.03) == ["best landing"]
    assert reached.best_landing == 0.61 and reached.best_return == 0.60


def test_milestones_judge_the_checks_medians_not_the_deterministic_rollout():
    runs = [verdict(400.0, landed=False, holds=False, normalised_return=0.70),
            verdict(380.0, landed=True, holds=False, normalised_return=0.50),
            verdict(390.0, landed=True, holds=False, normalised_return=0.60),
            verdict(100.0, landed=False, holds=False, normalised_return=0.20)]
    assert stages.check_summary(runs) == (0.55, 385.0, True)  # two of four landed: half is enough
    assert stages.check_summary(runs[:1] + runs[2:])[2] is False  # one of three is not
    m = runs[0]
    m.check_return, m.check_rotation_deg, m.check_landed = stages.check_summary(runs)
    reached = stages.Milestones()
    assert stages.milestone_reasons(m, reached, 0.03) == ["first full rotation", "first landing", "best return"]
    assert reached.best_return == 0.55


def test_a_stage_shows_a_landing_when_its_check_landed():
    runs = [verdict(400.0, landed=False, holds=False, normalised_return=0.70),
            verdict(380.0, landed=True, holds=False, normalised_return=0.50),
            verdict(390.0, landed=True, holds=False, normalised_return=0.60),
            verdict(100.0, landed=False, holds=False, normalised_return=0.20)]
    assert stages.shown_rollout(runs) == 2  # the check landed, the deterministic rollout did not: the best landing
    assert stages.shown_rollout(runs[:1] + runs[2:]) == 0  # one of three landed: the check did not either
    runs[0].landed = True
    assert stages.shown_rollout(runs) == 0  # the deterministic rollout landed: it is the stage's


def test_stage_folder_is_complete_and_rollout_rejudges(tmp_path, backflip_rows):
    rows = hold(backflip_rows, 1.5)
    contacts = [None] * (len(rows) - 10) + ["left_knee"] * 10  # the simulator saw a knee go down at the end
    ro = stages.Rollout(rows=rows, rewards=np.full(len(rows) - 1, 0.8), fell_step=None, fps=FPS, contacts=contacts)
    metrics = stages.rollout_metrics(ro, 1.75)
    metrics.samples, metrics.index = 1234, 7
    assert metrics.normalised_return == pytest.approx(0.8)
    folder = stages.write_stage(tmp_path, 7, b"policy", {"a": 1}, metrics, ro, preview_frames=6)
    assert folder.name == "stage_0007"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "metrics.json", "policy.pt", "preview.png",
                                                        "rollout.txt"]
    assert (folder / "preview.png").read_bytes()[:4] == b"\x89PNG"
    again = load_deepmimic(folder / "rollout.txt")
    assert again.fps == pytest.approx(FPS)
    saved = stages.read_metrics(folder)
    assert saved == metrics
    assert saved.label == "lands" and saved.first_ground_body == "left_knee"
    assert judge.judge_clip(again).label == "lands"
    assert judge.judge(again.frames, again.fps).label == "lands and holds"  # shapes alone see no knee down
    stages.write_index(tmp_path, [stages.StageEntry.of(saved)])
    assert stages.read_index(tmp_path) == [stages.StageEntry.of(saved)]
    assert stages.read_index(tmp_path)[0].folder == "stage_0007"
    assert not list(tmp_path.glob(".*tmp"))


def test_shipped_stages_load_as_records_and_rejudge_to_their_verdicts():
    """The shipped run (written before the typed records) loads, and every stage's rollout.txt judged again
    today gives the verdict its metrics.json and stages.json hold."""
    entries = stages.read_index(SHIPPED)
    assert [e.folder for e in entries] == sorted(p.name for p in SHIPPED.glob("stage_*"))
    raw = json.loads((SHIPPED / stages.INDEX_NAME).read_text())["stages"]
    written = [json.loads(json.dumps(stages.dataclasses.asdict(e))) for e in entries]
    # fields from after the shipped run read as unknown checks, showing the deterministic rollout
    newer = {"check_return": None, "check_landed": None, "rollout_seed": 0, "rollout_perturb": 0.0}
    assert all(d[k] == v for d in written for k, v in newer.items())
    assert [{k: v for k, v in d.items() if k not in newer} for d in written] == raw, "read and write agree"
    labels = set()
    for entry in entries:
        metrics = stages.read_metrics(entry.path(SHIPPED))
        assert metrics == stages.StageMetrics.from_dict(json.loads((entry.path(SHIPPED) / "metrics.json").read_text()))
        again = judge.judge_clip(load_clip(entry.path(SHIPPED) / "rollout.txt"))
        assert (again.label, again.landed, again.holds, again.first_ground_body) == (
            metrics.label, metrics.landed, metrics.holds, metrics.first_ground_body), entry.folder
        assert again.rotation_deg == pytest.approx(metrics.rotation_deg, abs=1.0), entry.folder
        assert (entry.label, entry.landed, entry.holds) == (metrics.label, metrics.landed, metrics.holds)
        labels.add(metrics.label)
    assert "lands and holds" in labels and len(labels) >= 3


@pytest.mark.parametrize("folder", ["/etc", "../elsewhere", "stage_0003/../../x", "stage_0004", ""])
def test_a_stage_index_cannot_name_a_folder_outside_its_run(tmp_path, folder):
    shutil.copy(SHIPPED / stages.INDEX_NAME, tmp_path / stages.INDEX_NAME)
    data = json.loads((tmp_path / stages.INDEX_NAME).read_text())
    data["stages"][1]["folder"] = folder  # the entry of stage 3
    (tmp_path / stages.INDEX_NAME).write_text(json.dumps(data))
    with pytest.raises(InvalidInputError, match="names folder"):
        stages.read_index(tmp_path)


def test_a_damaged_stage_index_is_a_clear_error(tmp_path):
    for text in ("", "[]", '{"format": 1}', '{"format": 1, "stages": [{"index": 1}]}', '{"format": 9, "stages": []}'):
        (tmp_path / stages.INDEX_NAME).write_text(text)
        with pytest.raises(InvalidInputError):
            stages.read_index(tmp_path)


def test_the_learning_curve_draws_deepmimics_backflip_figure_only_for_a_backflip(tmp_path):
    """DeepMimic's 0.729 is its backflip's return: a roll's curve drawn against it would mislead."""
    import json

    import matplotlib.image

    from trainer_service.rl import progress

    records = [{"event": "eval", "samples": k * 50_000, "eval/normalised_return": 0.2 + 0.05 * k} for k in range(6)]
    (tmp_path / progress.PROGRESS_NAME).write_text("".join(json.dumps(r) + "\n" for r in records))

    def red_pixels(kind: str) -> int:
        progress.draw_learning_curve(tmp_path, [], skill_kind=kind)
        rgb = matplotlib.image.imread(tmp_path / progress.CURVE_NAME)[..., :3]
        target = np.array([0xD6, 0x27, 0x28]) / 255.0  # the line's colour
        return int((np.abs(rgb - target).max(axis=-1) < 0.05).sum())

    assert red_pixels("backflip") > 50
    assert red_pixels("roll") == 0
