"""Fixtures for the simulator tests: the backflip clip, raw and with unit quaternions."""
from __future__ import annotations

from pathlib import Path

import pytest

from backflip_addon.core.clip import MotionClip, load_clip, save_deepmimic
from trainer_service.sim.reference import normalized_frames


@pytest.fixture(scope="session")
def backflip(backflip_clip_path: Path) -> MotionClip:
    return load_clip(backflip_clip_path)


@pytest.fixture(scope="session")
def unit_backflip_path(backflip: MotionClip, tmp_path_factory) -> Path:
    """The backflip with unit quaternions, as a file the peer can load too."""
    path = tmp_path_factory.mktemp("clips") / "backflip_unit.txt"
    save_deepmimic(MotionClip(normalized_frames(backflip), loop=backflip.loop), path)
    return path
