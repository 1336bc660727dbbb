"""The add-on type-checks against fake-bpy-module (Blender 4.5's API) with pyright (settings in pyproject.toml)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


def test_addon_type_checks() -> None:
    # The add-on's bpy 4.5 environment holds no checker; the main test environment does (test extra).
    pytest.importorskip("basedpyright")
    result = subprocess.run(
        # --project: the settings in pyproject.toml, never a pyrightconfig.json lying in a folder above the checkout
        [sys.executable, "-m", "basedpyright", "--project", str(ROOT / "pyproject.toml"), "--pythonpath", sys.executable],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0 and "0 errors" in result.stdout, result.stdout[-4000:] + result.stderr[-2000:]
