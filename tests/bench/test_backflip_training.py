"""bench/backflip_training.py: the seeds' summary, and a re-run that continues instead of starting over."""
from __future__ import annotations

import json

from bench import backflip_training as bench
from bench.support.budget import trained_seconds
from trainer_service.rl import checkpoint, stages


def seed_line(seed: int, landing_minutes: float | None, reach_minutes: float | None, load: float) -> dict:
    return {"seed": seed, "median_load_1min": load, "samples_per_second": 2000.0, "jumps_per_hour": 900,
            "first_landing": None if landing_minutes is None else {"minutes": landing_minutes, "samples": 100_000 * landing_minutes},
            "normalised_return_0.73": None if reach_minutes is None else {"minutes": reach_minutes, "samples": 1}}


def test_summary_takes_medians_and_the_worst_seed_and_counts_a_seed_that_never_landed_as_worst():
    lines = [seed_line(1, 8.0, 25.0, 2.1), seed_line(2, 12.0, None, 2.5), seed_line(3, 6.0, 20.0, 2.3)]
    out = bench.summary(lines, minutes=45)
    assert out["first_landing_minutes"] == {"median": 8.0, "worst": 12.0, "reached": 3, "worst_over_median": 1.5}
    assert out["first_landing_samples"]["median"] == 800_000
    assert out["normalised_return_0.73_minutes"] == {"median": 25.0, "worst": None, "reached": 2,
                                                     "worst_over_median": None}
    assert out["median_load_1min"] == 2.3 and out["seeds"] == [1, 2, 3]


def test_a_rerun_reuses_a_finished_seed_and_resumes_an_unfinished_one(tmp_path):
    run = tmp_path / "seed_4"
    run.mkdir()
    bench.train_seed(run, 4, minutes=0.05, rsi_adaptive=0.5, overrides={"ppo": {"target_kl": 0.1, "seed": 9}})
    seconds, samples = trained_seconds(run)
    assert seconds >= 3.0 and samples > 0
    assert json.loads((run / "config.json").read_text())["ppo"]["seed"] == 4
    bench.train_seed(run, 4, minutes=0.05)  # finished: left alone
    assert trained_seconds(run) == (seconds, samples)
    bench.train_seed(run, 4, minutes=seconds / 60 + 0.2)  # more minutes: continues from the checkpoint
    more_seconds, more_samples = trained_seconds(run)
    assert more_samples > samples and more_seconds > seconds
    assert checkpoint.exists(run) and stages.read_index(run)[0].reasons[0] == "initial"
    line = bench.report(run)
    assert line["seed"] == 4 and line["jumps_tried"] is not None and line["recipe"]["check_physics_hz"] == 240
    assert line["recipe"]["rsi_adaptive"] == 0.5  # the new run's setting, kept by the resumed one
    assert line["recipe"]["target_kl"] == 0.1  # an override; the seed's own number wins over one in it
