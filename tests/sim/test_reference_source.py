"""A new run's reference: extraction confidence and the pre-pass, per SimConfig.reference_prepass."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backflip_addon.core.clip import MotionClip, save_deepmimic, save_npz
from trainer_service.sim.config import SimConfig
from trainer_service.sim.reference_source import load_reference_clip


@pytest.fixture()
def extracted(backflip: MotionClip, tmp_path: Path) -> Path:
    """The backflip written the way `extract` writes a clip: NAME.txt beside NAME.npz with its confidence."""
    txt = tmp_path / "flip.txt"
    save_deepmimic(backflip, txt)
    confidence = np.linspace(0.0, 1.0, backflip.num_frames)
    save_npz(backflip, txt.with_suffix(".npz"), confidence=confidence, contacts=np.zeros((backflip.num_frames, 2), bool))
    return txt


@pytest.mark.parametrize("suffix", [".txt", ".npz"])
def test_an_extracted_clip_brings_its_confidence_and_gets_the_prepass(extracted: Path, backflip: MotionClip,
                                                                      suffix: str) -> None:
    clip = load_reference_clip(extracted.with_suffix(suffix), SimConfig())
    assert clip.extras["confidence"][0] == 0.0 and clip.extras["confidence"][-1] == 1.0
    assert clip.extras["prepass"]["gravity_after"] == pytest.approx(9.81)
    assert not np.allclose(clip.root_pos, backflip.root_pos)
    off = load_reference_clip(extracted.with_suffix(suffix), SimConfig(reference_prepass="off"))
    np.testing.assert_array_equal(off.frames, backflip.frames)
    assert "prepass" not in off.extras and len(off.extras["confidence"]) == backflip.num_frames


def test_a_copy_that_carries_the_confidence_is_an_extraction_and_gets_the_prepass_once(
        extracted: Path, backflip: MotionClip, tmp_path: Path) -> None:
    from backflip_addon.core.clip import load_clip
    from trainer_service.sim.reference_source import extraction_confidence, with_confidence

    source = load_clip(extracted.with_suffix(".npz"))
    copy = tmp_path / "copy" / "clip.txt"  # as the service stores an imported clip: no .npz beside it
    copy.parent.mkdir()
    save_deepmimic(with_confidence(source, extraction_confidence(extracted.with_suffix(".npz"), source)), copy)
    clip = load_reference_clip(copy, SimConfig())
    assert clip.extras["confidence"][-1] == 1.0 and clip.extras["prepass"]["gravity_after"] == pytest.approx(9.81)
    run_clip = tmp_path / "run_clip.txt"  # a run's own clip.txt, pre-pass done: not applied twice
    save_deepmimic(clip, run_clip)
    np.testing.assert_allclose(load_reference_clip(run_clip, SimConfig()).frames, clip.frames, atol=1e-6)


def test_mocap_is_left_alone_unless_asked(backflip_clip_path: Path, backflip: MotionClip) -> None:
    clip = load_reference_clip(backflip_clip_path, SimConfig())
    np.testing.assert_array_equal(clip.frames, backflip.frames)
    assert "confidence" not in clip.extras and "prepass" not in clip.extras
    always = load_reference_clip(backflip_clip_path, SimConfig(reference_prepass="always"))
    assert "prepass" in always.extras and "confidence" not in always.extras


def test_an_npz_of_another_length_beside_the_clip_is_not_its_confidence(backflip: MotionClip, tmp_path: Path) -> None:
    txt = tmp_path / "flip.txt"
    save_deepmimic(backflip, txt)
    short = MotionClip(backflip.frames[:5], backflip.loop)
    save_npz(short, txt.with_suffix(".npz"), confidence=np.ones(5))
    clip = load_reference_clip(txt, SimConfig())
    assert "confidence" not in clip.extras and "prepass" not in clip.extras
