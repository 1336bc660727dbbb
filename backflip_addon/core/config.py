"""Typed configs from plain data: nested dataclasses, and an unknown key is always an error."""
from __future__ import annotations

import dataclasses
import math
import types
import typing
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


def from_dict(cls: type[T], data: Any, base: T | None = None) -> T:
    """Build dataclass `cls` from a (possibly nested) dict, as written by `dataclasses.asdict`.

    Keys missing from `data` keep their value in `base` (default: `cls()`). Fields whose default is a
    dataclass are built recursively on top of that default, so a partial nested dict changes only the
    keys it names; tuple defaults turn lists back into tuples. Every level rejects unknown keys, so a
    typo never silently falls back to a default.
    """
    check_keys(cls, data)
    defaults = cls() if base is None else base
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        default = getattr(defaults, name)
        if dataclasses.is_dataclass(default):
            kwargs[name] = from_dict(type(default), value, base=default)
        elif isinstance(default, tuple) and isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return dataclasses.replace(defaults, **kwargs)


def check_types(config: Any, where: str = "") -> None:
    """Raise InvalidInputError unless every field of dataclass `config`, nested ones too, holds a value of
    its annotated type (an int passes for a float; floats must be finite)."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value, name = getattr(config, f.name), f"{where}{f.name}"
        if not _matches(value, hints[f.name]):
            raise InvalidInputError(f"{type(config).__name__}.{f.name} ({name}) must be {_describe(hints[f.name])}, "
                                    f"got {value!r}", "fix the value in the config file")
        if dataclasses.is_dataclass(value):
            check_types(value, f"{name}.")


def _matches(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(_matches(v, a) for v, a in zip(value, args))
    if origin is list:
        return isinstance(value, list) and all(_matches(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) is None:
        return getattr(hint, "__name__", str(hint))
    return str(hint).replace("typing.", "")
