"""Where training episodes start: uniform RSI, and starts drawn towards the phases that still fail."""
from __future__ import annotations

import numpy as np
import pytest

from backflip_addon.core.clip import load_clip
from trainer_service.sim import start_states
from trainer_service.sim.config import SimConfig
from trainer_service.sim.env import ImitationEnv
from trainer_service.sim.start_states import StartSampler

DT = 1.0 / 240.0


def test_without_adaptive_share_the_starts_are_deepmimics_uniform_rsi() -> None:
    sampler = StartSampler(rows=500, dt=DT, adaptive=0.0, horizon=1.0)
    for row in range(0, 500, 7):
        sampler.record(row, failed=row > 250)  # outcomes change nothing
    ours, plain = np.random.default_rng(3), np.random.default_rng(3)
    assert [sampler.draw(ours) for _ in range(200)] == [int(plain.integers(0, 500)) for _ in range(200)]


def test_starts_go_where_episodes_fail_and_every_phase_still_comes_up() -> None:
    sampler = StartSampler(rows=480, dt=DT, adaptive=0.5, horizon=1.0)  # 20 bins of 24 rows
    assert len(sampler.failure) == 20
    for _ in range(200):
        for b in range(20):
            sampler.record(b * 24 + 5, failed=b == 13)
    assert sampler.failure[13] > 0.99 and sampler.failure[:13].max() < 0.01
    rng = np.random.default_rng(0)
    bins = np.array([sampler.draw(rng) for _ in range(4000)]) // 24
    counts = np.bincount(bins, minlength=20) / 4000
    # half uniform (1/20 each) plus half by failure (bin 13: 1 against 19 bins at the floor)
    expected = 0.5 / 20 + 0.5 / (1 + 19 * start_states.FLOOR)
    assert counts[13] == pytest.approx(expected, abs=0.03)
    assert counts.min() > 0.01  # no phase is left out


def test_the_env_learns_which_phases_fail(backflip_clip_path) -> None:
    """Open-loop PD tracking of the mocap backflip (zero residual actions) stands through the wind-up
    and falls in the flip: the env's start sampler finds that out from its own episodes."""
    clip = load_clip(backflip_clip_path)
    config = SimConfig(target_obs=True, rsi_adaptive=1.0, rsi_failure_seconds=0.5)
    with ImitationEnv(clip, config, seed=0) as env:
        starts = []
        for _ in range(150):
            env.reset()
            starts.append(env._start_row)
            for _step in range(16):
                _obs, _reward, terminated, truncated, _info = env.step(np.zeros(env.action_size))
                if terminated or truncated:
                    break
        failure = env._starts.failure
    standing = failure[: int(0.3 / start_states.BIN_SECONDS)]  # the first 0.3 s: standing, arms swinging
    assert standing.max() < 0.5 < failure.max()
    # Later starts favour the failing phases: their share beats what uniform starts would give them.
    bins = np.array(starts[75:]) // int(round(start_states.BIN_SECONDS / DT))
    failing = np.flatnonzero(failure > 0.5)
    assert np.isin(bins, failing).mean() > len(failing) / len(failure) + 0.1
