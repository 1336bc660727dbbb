"""Bad command lines get a clear message and exit code, never a traceback — and before any long work:
NaN numbers, missing or broken --config, an --out that is a file or cannot be written, a garbage .blend."""
from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trainer_service.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "assets" / "video" / "backflip_side.mp4"
UNWRITABLE = Path("/sys")  # refuses new files even to root (os.access would say yes to root anywhere)
CLIP = ROOT / "assets" / "stages" / "backflip" / "clip.txt"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder\n")
    broken = tmp_path / "broken.json"
    broken.write_text('{"ppo": {"num_steps": 256,')
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    nested = tmp_path / "nested.txt"
    nested.write_text("[" * 100_000)
    mistyped = tmp_path / "mistyped.json"
    mistyped.write_text('{"fit": {"ground_depth_upness": "flat"}}')
    return {"file": a_file, "broken": broken, "binary": binary, "list": listed, "missing": tmp_path / "nope.json",
            "nested": nested, "mistyped": mistyped, "out": tmp_path / "out"}


def _fails(argv: list[str], capsys, code: int, message: str) -> None:
    start = time.perf_counter()
    if code == 2:  # argparse's usage error
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    else:
        assert main(argv) == code
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err
    assert time.perf_counter() - start < 30  # found before the work, not after


@pytest.mark.parametrize("extra, code, message", [
    (["--samples", "nan"], 2, "argument --samples: must be a finite number, got 'nan'"),
    (["--minutes", "inf"], 2, "argument --minutes: must be a finite number, got 'inf'"),
    (["--config", "{missing}"], 1, "cannot read the config"),
    (["--config", "{broken}"], 1, "the config is not valid JSON"),
    (["--config", "{binary}"], 1, "cannot read the config"),
    (["--config", "{list}"], 1, "the config must be a JSON object, got list"),
    (["--out", "{file}"], 1, "is a file"),
    (["--out", "{file}/run"], 1, "is a file, so"),
    (["--out", str(UNWRITABLE / "run")], 1, f"cannot write into {UNWRITABLE}"),
    (["--clip", "{nested}"], 1, "the JSON is nested too deeply to be a clip"),
])
def test_train(files, capsys, extra: list[str], code: int, message: str) -> None:
    argv = ["train", "--clip", str(CLIP), "--out", str(files["out"]), "--no-bar"]
    _fails(argv + [a.format(**files) for a in extra], capsys, code, message)
    assert not files["out"].exists()


@pytest.mark.parametrize("extra, code, message", [
    (["--start", "nan"], 2, "argument --start: must be a finite number, got 'nan'"),
    (["--end=-inf"], 2, "argument --end: must be a finite number, got '-inf'"),
    (["--config", "{missing}"], 1, "cannot read the config"),
    (["--config", "{binary}"], 1, "cannot read the config"),
    (["--config", "{mistyped}"], 1, "FitConfig.ground_depth_upness (fit.ground_depth_upness) must be"),
    (["--out", "{file}/flip.txt"], 1, "is a file, so"),
    (["--out", "{out}"], 1, "is a folder"),  # --out NAME gives NAME.txt: a folder NAME.txt is refused
    (["--out", str(UNWRITABLE / "flip.txt")], 1, f"cannot write into {UNWRITABLE}"),
])
def test_extract(files, capsys, caplog, extra: list[str], code: int, message: str) -> None:
    (files["out"].parent / "out.txt").mkdir()
    before = sorted(p.name for p in files["out"].parent.iterdir())
    argv = ["extract", str(SAMPLE), "--out", str(files["out"] / "flip.txt"), "--quiet"]
    with caplog.at_level(logging.INFO):
        _fails(argv + [a.format(**files) for a in extra], capsys, code, message)
    assert not [r for r in caplog.records if r.name.startswith("trainer_service.video")]  # nothing was decoded
    assert sorted(p.name for p in files["out"].parent.iterdir()) == before  # nothing published


def test_demo_out_is_a_file(files, capsys) -> None:
    _fails(["demo", "--out", str(files["file"])], capsys, 1, "is a file")
    assert files["file"].read_text() == "not a folder\n"


def _render_shot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "render_shot.py"), *args], capture_output=True, text=True,
                          timeout=300, check=False)


def test_render_shot_refuses_a_garbage_blend_with_exit_2(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.blend"
    garbage.write_bytes(b"BLENDER-v500 this is not really a blend file" * 10)
    done = _render_shot("--blend", str(garbage), "--out", str(tmp_path / "shot"))
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"Cannot open {garbage}" in done.stderr and "Traceback" not in done.stderr


def test_render_shot_refuses_an_out_that_is_a_file(files, tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    import render_shot
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=False)
    blend = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    for out, message in ((files["file"], "is a file"), (UNWRITABLE / "shot", f"Cannot write into {UNWRITABLE}")):
        with pytest.raises(render_shot.ShotError, match=message):
            render_shot.render_shot(render_shot.parse_args(["--blend", str(blend), "--out", str(out), "--frames", "1"]))
    assert files["file"].read_text() == "not a folder\n"
    bpy.ops.wm.read_factory_settings(use_empty=True)
