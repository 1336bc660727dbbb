"""Argument checks shared by the commands: numbers that must be finite, config files, output folders."""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from backflip_addon.core.errors import InvalidInputError
from backflip_addon.core.files import check_writable


def finite_float(text: str) -> float:
    """argparse type: a finite number ('nan' and 'inf' are usage errors, not tracebacks later)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def read_json_config(path: Path) -> dict:
    """The JSON object in a --config file, or InvalidInputError saying what is wrong with it."""
    hint = "pass a JSON file holding an object of overrides, e.g. {\"ppo\": {\"num_steps\": 256}}"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path}: cannot read the config: {exc}", hint) from exc
    except (ValueError, RecursionError) as exc:
        raise InvalidInputError(f"{path}: the config is not valid JSON: {exc}", hint) from exc
    if not isinstance(data, dict):
        raise InvalidInputError(f"{path}: the config must be a JSON object, got {type(data).__name__}", hint)
    return data


def check_output_folder(folder: Path) -> None:
    """Raise InvalidInputError unless `folder` is (or can be made) a folder that takes files."""
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError(f"--out {folder} is a file", "give a folder for --out")
    check_writable([folder / ".probe"])
