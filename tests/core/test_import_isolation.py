"""backflip_addon.core must import on both sides: without bpy (trainer) and without torch/pybullet/mediapipe (Blender)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import ROOT

BLOCKED = ("bpy", "bmesh", "mathutils", "torch", "pybullet", "pybullet_data", "mediapipe", "cv2")


def test_core_imports_with_heavy_packages_blocked() -> None:
    script = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {BLOCKED!r}:
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        import backflip_addon, backflip_addon.core
        names = [m.name for m in pkgutil.iter_modules(backflip_addon.core.__path__)]
        for name in names:
            importlib.import_module("backflip_addon.core." + name)
        from backflip_addon.core.clip import load_clip
        from backflip_addon.core.kinematics import forward_kinematics
        from backflip_addon.core.skeleton import humanoid3d
        assert len(humanoid3d().bodies) == 15
        print("imported", len(names))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) >= 7


def test_blocker_really_blocks() -> None:
    script = "import sys\nclass B:\n def find_spec(self,n,p=None,t=None):\n  if n=='torch': raise ImportError('blocked')\nsys.meta_path.insert(0,B())\nimport torch"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "blocked" in result.stderr


def test_addon_never_imports_trainer_packages() -> None:
    offenders = []
    for path in (ROOT / "backflip_addon").rglob("*.py"):
        for line in path.read_text().splitlines():
            words = line.strip().split()
            if len(words) >= 2 and words[0] in ("import", "from") and words[1].split(".")[0] in BLOCKED[3:]:
                offenders.append(f"{path.relative_to(ROOT)}: {line.strip()}")
            if len(words) >= 2 and words[0] == "from" and words[1].startswith("backflip_addon"):
                offenders.append(f"{path.relative_to(ROOT)}: absolute import (Blender extensions need relative): {line.strip()}")
    assert not offenders, "\n".join(offenders)
