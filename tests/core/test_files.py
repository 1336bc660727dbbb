"""Whole-or-nothing file writes."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.files import publishing, replacing, write_atomic


def test_write_atomic_replaces_and_leaves_an_ordinary_file(tmp_path: Path):
    target = tmp_path / "sub" / "a.txt"
    write_atomic(target, b"old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.txt"]


def test_a_failed_block_keeps_the_old_files_and_leaves_no_temporary(tmp_path: Path):
    first, second = tmp_path / "clip.txt", tmp_path / "clip.npz"
    first.write_text("old clip")
    with pytest.raises(RuntimeError):
        with replacing(first) as a, replacing(second, ".npz") as b:
            a.write_text("new clip")
            b.write_bytes(b"half")
            raise RuntimeError("the encoder failed")
    assert first.read_text() == "old clip" and not second.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.txt"]


def test_nested_blocks_publish_together(tmp_path: Path):
    with replacing(tmp_path / "a") as a, replacing(tmp_path / "b") as b:
        a.write_text("1")
        b.write_text("2")
        assert not (tmp_path / "a").exists()  # nothing is visible before the block ends
    assert (tmp_path / "a").read_text() == "1" and (tmp_path / "b").read_text() == "2"


def _three(tmp_path: Path) -> list[Path]:
    paths = [tmp_path / "flip.txt", tmp_path / "flip.npz", tmp_path / "flip.preview.mp4"]
    for path in paths:
        path.write_text(f"old {path.name}")
    return paths


def test_publishing_checks_every_target_first(tmp_path: Path):
    paths = _three(tmp_path)
    paths[0].unlink()
    paths[0].mkdir()  # the clip path is an existing folder
    with pytest.raises(InvalidInputError, match="flip.txt is a folder"):
        with publishing(paths):
            pytest.fail("the block must not run")
    assert [p.read_text() for p in paths[1:]] == ["old flip.npz", "old flip.preview.mp4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flip.npz", "flip.preview.mp4", "flip.txt"]


def test_a_failed_rename_rolls_back_those_already_made(tmp_path: Path):
    paths = _three(tmp_path)
    with pytest.raises(IsADirectoryError):
        with publishing(paths) as tmps:
            for tmp in tmps:
                tmp.write_text("new")
            paths[2].unlink()
            paths[2].mkdir()  # appears after the check: the last rename fails
    assert [p.read_text() for p in paths[:2]] == ["old flip.txt", "old flip.npz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flip.npz", "flip.preview.mp4", "flip.txt"]


def test_publishing_replaces_all_together(tmp_path: Path):
    paths = _three(tmp_path)
    with publishing(paths) as tmps:
        assert [t.suffix for t in tmps] == [".txt", ".npz", ".mp4"]  # writers that pick a format by name
        for tmp in tmps:
            tmp.write_text("new")
    assert [p.read_text() for p in paths] == ["new"] * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flip.npz", "flip.preview.mp4", "flip.txt"]
