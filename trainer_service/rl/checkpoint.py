"""`checkpoint.pt`: networks, optimisers, run state and RNG states, read without running any code.

Run folders travel between machines and users, so a checkpoint is untrusted input: it is read with
`torch.load(weights_only=True)`, which builds only tensors and plain containers. RNG states are stored
as tensors and lists for that reason (format 2). Format 1 held numpy's RNG state as an ndarray: it is
read with an allow-list of exactly numpy's array-rebuilding functions and rewritten as format 2 on the
next save.

Every save keeps the previous checkpoint beside the new one (`checkpoint.prev.pt`); a checkpoint that
cannot be read (truncated, empty, garbage, missing keys) falls back to it with a warning.
"""
from __future__ import annotations

import io
import logging
import os
import pickle
import random
from pathlib import Path

import numpy as np
import torch

from backflip_addon.core.errors import BackflipError, InvalidInputError
from backflip_addon.core.files import replacing

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"
PREVIOUS_NAME = "checkpoint.prev.pt"
FORMAT = 2
_KEYS = ("format", "agent", "optimizers", "state", "rng")
# What a format-1 checkpoint's numpy RNG state (an ndarray of uint32) needs to be rebuilt, and nothing more.
_FORMAT1_GLOBALS = [np.core.multiarray._reconstruct, np.ndarray, np.dtype, np.dtypes.UInt32DType]


class CheckpointError(BackflipError):
    """A checkpoint that cannot be read."""

    code = "checkpoint"


def exists(run_dir: Path) -> bool:
    return (run_dir / CHECKPOINT_NAME).exists() or (run_dir / PREVIOUS_NAME).exists()


def remove_stale_temporaries(run_dir: Path) -> None:
    """Drop the `.checkpoint.pt.*.tmp` files a killed save leaves behind (one whole checkpoint each)."""
    for tmp in run_dir.glob(f".{CHECKPOINT_NAME}.*.tmp"):
        log.info("removing %s, left by an interrupted save", tmp.name)
        tmp.unlink(missing_ok=True)


def save(run_dir: Path, payload: dict) -> None:
    """Write `payload` (with format and RNG states added) as the checkpoint; the old one becomes the previous."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **payload}, buffer)
    path = run_dir / CHECKPOINT_NAME
    with replacing(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():  # a kill between the two renames leaves the previous one, which `load` falls back to
            os.replace(path, run_dir / PREVIOUS_NAME)


def load(run_dir: Path) -> dict:
    """The newest readable checkpoint of `run_dir` (format 2 layout); CheckpointError if none is."""
    errors = []
    for name in (CHECKPOINT_NAME, PREVIOUS_NAME):
        path = run_dir / name
        if not path.exists():
            errors.append(f"{name}: missing")
            continue
        try:
            data = read(path)
        except CheckpointError as exc:
            errors.append(f"{name}: {exc.message}")
            continue
        if errors:
            log.warning("%s cannot be read (%s); resuming from %s, the checkpoint before it", CHECKPOINT_NAME,
                        errors[0], name)
        return data
    raise CheckpointError(f"{run_dir}: no readable checkpoint ({'; '.join(errors)})",
                          "the run cannot be resumed; start a new run in another --out folder")


def read(path: Path) -> dict:
    """One checkpoint file, read without unpickling code; format 1 is converted to format 2."""
    try:
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            # Format 1 pickled numpy's RNG state; allow exactly what rebuilds a uint32 array.
            with torch.serialization.safe_globals(_FORMAT1_GLOBALS):
                data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        raise CheckpointError(f"{path.name} is not a checkpoint this trainer can read safely ({exc})".split("\n")[0],
                              "restore it from a copy, or start a new run") from None
    if not isinstance(data, dict) or any(k not in data for k in _KEYS):
        raise CheckpointError(f"{path.name} lacks {[k for k in _KEYS if not isinstance(data, dict) or k not in data]}",
                              "restore it from a copy, or start a new run")
    if data["format"] == 1:
        data = {**data, "format": FORMAT, "rng": {**data["rng"], "numpy": _numpy_state_to_plain(data["rng"]["numpy"]),
                                                  "python": list(data["rng"]["python"])}}
    if data["format"] != FORMAT:
        raise InvalidInputError(f"{path.name}: checkpoint format {data['format']!r}, expected {FORMAT}",
                                "resume it with the trainer version that wrote it, or start a new run")
    return data


def rng_states(generator: torch.Generator) -> dict:
    """Every RNG the trainer draws from, as tensors and lists."""
    return {"torch": torch.get_rng_state(), "numpy": _numpy_state_to_plain(np.random.get_state()),
            "python": list(random.getstate()), "generator": generator.get_state()}


def restore_rng_states(states: dict, generator: torch.Generator) -> None:
    torch.set_rng_state(states["torch"])
    numpy = states["numpy"]
    np.random.set_state((numpy["bit_generator"], numpy["key"].numpy().astype(np.uint32), int(numpy["pos"]),
                         int(numpy["has_gauss"]), float(numpy["cached_gaussian"])))
    version, internal, gauss = states["python"]
    random.setstate((int(version), tuple(int(v) for v in internal), gauss))
    generator.set_state(states["generator"])


def _numpy_state_to_plain(state: tuple) -> dict:
    name, key, pos, has_gauss, cached = state
    return {"bit_generator": str(name), "key": torch.from_numpy(np.asarray(key, dtype=np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}
