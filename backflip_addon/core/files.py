"""Files that appear whole or not at all: written beside the target under a temporary name, then renamed."""
from __future__ import annotations

import contextlib
import errno
import os
import secrets
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from .errors import InvalidInputError


@contextlib.contextmanager
def replacing(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside `path` for a writer that needs a file name (a video encoder, say);
    it becomes `path` when the block ends normally and is removed when it raises.

    To publish several files together use `publishing`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the result is an ordinary file
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes so that readers see the old or the new content, never half of it."""
    with replacing(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 text so that readers see the old or the new content, never half of it."""
    write_atomic(path, text.encode("utf-8"))


def check_writable(paths: Sequence[str | os.PathLike]) -> None:
    """Raise InvalidInputError unless every path can be written as a file: not an existing folder, and its
    folder (or the nearest one that exists, if it must be created) takes a new file. Writes nothing that stays."""
    probed = set()
    for path in map(Path, paths):
        if path.is_dir():
            raise InvalidInputError(f"{path} is a folder", "give a file name, not an existing folder")
        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            raise InvalidInputError(f"{folder} is a file, so {path} cannot be written", "choose another output path")
        if folder in probed:
            continue
        try:  # os.access says yes to root on read-only places: try for real
            fd, name = tempfile.mkstemp(prefix=".write-probe.", dir=folder)
        except OSError as exc:
            raise InvalidInputError(f"cannot write into {folder}: {exc.strerror}", "choose a writable output folder") from exc
        os.close(fd)
        os.unlink(name)
        probed.add(folder)


@contextlib.contextmanager
def publishing(paths: Sequence[str | os.PathLike]) -> Iterator[list[Path]]:
    """Temporary paths (same suffixes) for files that appear together or not at all.

    Every target is checked before the block runs. When it ends normally the files are renamed into
    place; if one rename fails, those already made are undone and the previous files restored. When the
    block raises, nothing changes. Either way no temporary file is left."""
    paths = [Path(p) for p in paths]
    check_writable(paths)
    with contextlib.ExitStack() as temporaries:
        tmps = [temporaries.enter_context(_temporary(p)) for p in paths]
        yield tmps
        _publish(list(zip(tmps, paths)))


@contextlib.contextmanager
def _temporary(path: Path) -> Iterator[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(name, 0o644)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _publish(moves: list[tuple[Path, Path]]) -> None:
    """Rename each temporary onto its target; on failure put every target back as it was."""
    done: list[tuple[Path, Path | None]] = []  # (target, where its previous file waits)
    try:
        for tmp, target in moves:
            if target.is_dir():  # appeared since the check; it must not be moved aside like a file
                raise IsADirectoryError(errno.EISDIR, "is a folder", str(target))
            previous = None
            if target.exists():
                previous = target.with_name(f".{target.name}.{secrets.token_hex(6)}.old")
                os.replace(target, previous)
            done.append((target, previous))
            os.replace(tmp, target)
    except OSError:
        for target, previous in reversed(done):
            if previous is not None:
                os.replace(previous, target)
            else:
                target.unlink(missing_ok=True)
        raise
    for _, previous in done:
        if previous is not None:
            previous.unlink(missing_ok=True)
