"""The extension is real: Blender's own validator accepts it, its zip installs and enables."""
from __future__ import annotations

import os
import subprocess
import sys
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
    assert {"backflip_addon/presets/bone_maps/mixamo.json", "backflip_addon/presets/bone_maps/rigify.json"} <= set(names)
    for excluded in ("trainer_service/", "tests/", "bench/", "assets/", ".venv/", "render_shot.py", "demo_shot.py"):
        assert not any(n.startswith(excluded) for n in names), excluded


INSTALLED_CHECK = """
import sys
import bpy
import addon_utils

sys.path.insert(0, {ui_check_dir!r})
from ui_check import CheckingLayout, draw_panel

bpy.context.preferences.system.use_online_access = False
result = bpy.ops.extensions.package_install_files(filepath={zip!r}, repo="user_default", enable_on_install=True)
assert result == {{"FINISHED"}}, result
module = "bl_ext.user_default.backflip"
enabled = [a.module for a in bpy.context.preferences.addons]
assert module in enabled, enabled
assert hasattr(bpy.types.Scene, "backflip")
assert bpy.ops.backflip.import_clip.idname() == "BACKFLIP_OT_import_clip"
prefs = bpy.context.preferences.addons[module].preferences
assert hasattr(prefs, "trainer_python") and hasattr(prefs, "state_folder")
polling = sys.modules[module + ".backflip_addon.polling"]
assert bpy.app.timers.is_registered(polling.timer)

panels = [getattr(bpy.types, n) for n in dir(bpy.types) if n.startswith("BACKFLIP_PT_")]
assert len(panels) == 6, panels
for panel in panels:
    draw_panel(panel, bpy.context)
bpy.context.scene.backflip.stages.run_dir = {run!r}
assert bpy.ops.backflip.load_stages() == {{"FINISHED"}}
for panel in panels:
    print(panel.bl_label, len(draw_panel(panel, bpy.context)), "lines")


class Preferences:
    layout = CheckingLayout()

    def __getattr__(self, name):
        return getattr(prefs, name)


type(prefs).draw(Preferences(), bpy.context)
assert any("Service: Stopped" in line for line in Preferences.layout.lines), Preferences.layout.lines

addon_utils.disable(module)
left = [n for n in dir(bpy.types) if n.startswith("BACKFLIP")]
assert not left, left
assert not hasattr(bpy.types.Scene, "backflip") and not hasattr(bpy.types.Object, "backflip")
assert not bpy.app.timers.is_registered(polling.timer)
assert sys.modules[module + ".backflip_addon.ui.previews"]._collection is None
print("ENABLED, DRAWN, DISABLED CLEAN")
"""


def test_zip_installs_draws_and_disables_clean(built_zip: Path, tmp_path: Path) -> None:
    script = INSTALLED_CHECK.format(
        ui_check_dir=str(ROOT / "tests" / "addon"), zip=str(built_zip), run=str(ROOT / "assets" / "stages" / "backflip")
    )
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path))
    env.pop("PYTHONPATH", None)
    # Run from a neutral folder so the checkout's own backflip_addon cannot be imported instead.
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "DISABLED CLEAN" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]
    assert (tmp_path / "extensions" / "user_default" / "backflip" / "backflip_addon" / "core" / "clip.py").exists()
    assert (tmp_path / "extensions" / "user_default" / "backflip" / "backflip_addon" / "client" / "http.py").exists()
