"""Typed configs from plain data: nested dataclasses, and an unknown key is always an error."""
from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from .errors import InvalidInputError

T = TypeVar("T")


def check_keys(cls: type, data: Any) -> None:
    """Raise InvalidInputError unless `data` is a mapping of `cls`'s field names."""
    if not isinstance(data, dict):
        raise InvalidInputError(f"{cls.__name__} expects a mapping, got {type(data).__name__}", "pass a JSON object")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidInputError(
            f"unknown {cls.__name__} key(s): {', '.join(unknown)}", f"valid keys: {', '.join(sorted(known))}"
        )


def from_dict(cls: type[T], data: Any) -> T:
    """Build dataclass `cls` from a (possibly nested) dict, as written by `dataclasses.asdict`.

    Fields whose default is a dataclass are built recursively; tuple defaults turn lists back into
    tuples. Every level rejects unknown keys, so a typo never silently falls back to a default.
    """
    check_keys(cls, data)
    defaults = cls()
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        default = getattr(defaults, name)
        if dataclasses.is_dataclass(default):
            kwargs[name] = from_dict(type(default), value)
        elif isinstance(default, tuple) and isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)
