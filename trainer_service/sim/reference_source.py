"""A new run's reference clip as the trainer should imitate it: the clip file, the per-frame confidence of
a clip extracted from video, and (per `SimConfig.reference_prepass`) the physically consistent pre-pass.

The extraction writes NAME.txt beside NAME.npz (confidence, contacts, landmarks...); the service trains on
the .txt, so a .txt with such an .npz beside it (same frame count) counts as extracted too. What is found
goes into the clip's extras (`confidence`, `prepass`), which the run's clip.txt keeps, so a resumed run
reads the same reference without the .npz.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from backflip_addon.core.clip import MotionClip, load_clip, load_npz
from backflip_addon.core.errors import ClipFormatError

from .config import SimConfig
from .physical import make_physical

log = logging.getLogger(__name__)


def extraction_confidence(path: Path, clip: MotionClip) -> np.ndarray | None:
    """Per-frame confidence (F,) of a clip extracted from video: from the .npz itself or the .npz beside a
    .txt; None for any other clip (mocap, or an .npz from elsewhere)."""
    npz = path if path.suffix == ".npz" else path.with_suffix(".npz")
    if not npz.is_file():
        return None
    try:
        _, arrays = load_npz(npz)
    except ClipFormatError as exc:
        log.warning("reference: ignoring %s beside the clip (%s)", npz, exc)
        return None
    confidence = arrays.get("confidence")
    if confidence is None or confidence.shape != (clip.num_frames,) or not np.all(np.isfinite(confidence)):
        return None
    return np.clip(confidence.astype(np.float64), 0.0, 1.0)


def with_confidence(clip: MotionClip, confidence: np.ndarray | None) -> MotionClip:
    """`clip` with `confidence` (F,) in its extras, rounded for the text file; unchanged when None."""
    if confidence is None:
        return clip
    extras = {**clip.extras, "confidence": [round(float(c), 4) for c in confidence]}
    return MotionClip(clip.frames, loop=clip.loop, extras=extras, name=clip.name)


def load_reference_clip(path: str | os.PathLike, config: SimConfig) -> MotionClip:
    """The clip at `path` with its extraction confidence and, where `config.reference_prepass` says so, the
    pre-pass applied (its report logged and kept in `extras["prepass"]`)."""
    path = Path(path)
    loaded = load_clip(path)
    clip = with_confidence(loaded, extraction_confidence(path, loaded))
    # A clip that already carries its confidence (imported through the service) is an extraction too;
    # one that carries a pre-pass report has had it.
    extracted = "confidence" in clip.extras
    mode = config.reference_prepass
    if "prepass" not in clip.extras and (mode == "always" or (mode == "extracted" and extracted)):
        clip, report = make_physical(clip)
        clip.extras["prepass"] = report.as_dict()
        log.info("reference: physically consistent pre-pass on %s: %s", path.name, report.as_dict())
    return clip
