"""Shared by the routers: the error answers in the API document, number checks."""
from __future__ import annotations

import math

from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.protocol import ErrorInfo

ERRORS = {status: {"model": ErrorInfo} for status in (400, 401, 403, 404, 409, 413, 422)}


def check_number(name: str, value: float | None, low: float, high: float = math.inf, low_open: bool = False) -> None:
    """`value` (when given) must be finite and within [low, high] (or (low, high])."""
    if value is None:
        return
    too_low = value <= low if low_open else value < low
    if not math.isfinite(value) or too_low or value > high:
        bracket = "(" if low_open else "["
        raise InvalidInputError(f"{name} must be in {bracket}{low}, {high}], got {value}", f"pass a sensible {name}")
