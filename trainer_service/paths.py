"""Where the trainer finds the humanoid and its shipped clips (inside the pybullet wheel), and the
learning stages this checkout ships."""
from __future__ import annotations

from pathlib import Path


def pybullet_data_dir() -> Path:
    import pybullet_data

    return Path(pybullet_data.getDataPath())


def humanoid_urdf() -> Path:
    return pybullet_data_dir() / "humanoid" / "humanoid.urdf"


def default_clip() -> Path:
    """The default reference: DeepMimic's backflip mocap, 1.75 s."""
    return pybullet_data_dir() / "data" / "motions" / "humanoid3d_backflip.txt"


def shipped_stages_dir() -> Path:
    """The checkout's trained runs (`assets/stages/<skill>`); absent from an installed copy without assets."""
    return Path(__file__).resolve().parents[1] / "assets" / "stages"
