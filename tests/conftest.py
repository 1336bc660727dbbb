"""Shared fixtures: paths into the installed pybullet_data and a scratch folder per test."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def pybullet_data_dir() -> Path:
    import pybullet_data

    return Path(pybullet_data.getDataPath())


@pytest.fixture(scope="session")
def motions_dir(pybullet_data_dir: Path) -> Path:
    return pybullet_data_dir / "data" / "motions"


@pytest.fixture(scope="session")
def backflip_clip_path(motions_dir: Path) -> Path:
    return motions_dir / "humanoid3d_backflip.txt"
