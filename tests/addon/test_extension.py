"""The extension is real: Blender's own validator accepts it, its zip installs and enables."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def blender_ext() -> Path:
    import bpy

    path = Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    assert path.exists()
    return path


@pytest.fixture(scope="module")
def built_zip(blender_ext: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ext")
    result = subprocess.run(
        [sys.executable, str(blender_ext), "build", "--source-dir", str(ROOT), "--output-dir", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (zip_path,) = out.glob("backflip-*.zip")
    return zip_path


def test_manifest_validates(blender_ext: Path) -> None:
    result = subprocess.run([sys.executable, str(blender_ext), "validate", str(ROOT)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout


def test_zip_holds_the_addon_only(built_zip: Path) -> None:
    names = zipfile.ZipFile(built_zip).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names
    assert "backflip_addon/core/humanoid3d.json" in names
    for excluded in ("trainer_service/", "tests/", "bench/", "assets/", ".venv/", "render_shot.py"):
        assert not any(n.startswith(excluded) for n in names), excluded


def test_zip_installs_and_enables(built_zip: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import bpy
        bpy.context.preferences.system.use_online_access = False
        result = bpy.ops.extensions.package_install_files(
            filepath={str(built_zip)!r}, repo="user_default", enable_on_install=True)
        assert result == {{"FINISHED"}}, result
        enabled = [a.module for a in bpy.context.preferences.addons]
        assert "bl_ext.user_default.backflip" in enabled, enabled
        assert hasattr(bpy.types.Scene, "backflip")
        assert bpy.ops.backflip.import_clip.idname() == "BACKFLIP_OT_import_clip"
        prefs = bpy.context.preferences.addons["bl_ext.user_default.backflip"].preferences
        assert hasattr(prefs, "trainer_python")
        print("ENABLED")
        """
    )
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path))
    # Run from a neutral folder so the checkout's own backflip_addon cannot be imported instead.
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "ENABLED" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]
    assert (tmp_path / "extensions" / "user_default" / "backflip" / "backflip_addon" / "core" / "clip.py").exists()
