"""Run an operator's action and turn a BackflipError into an error report and CANCELLED."""
from __future__ import annotations

from typing import Callable

import bpy

from ..core.errors import BackflipError


def run_reporting(operator: bpy.types.Operator, action: Callable[[], str | None]) -> set[str]:
    try:
        message = action()
    except BackflipError as exc:
        operator.report({"ERROR"}, str(exc))
        return {"CANCELLED"}
    if message:
        operator.report({"INFO"}, message)
    return {"FINISHED"}
