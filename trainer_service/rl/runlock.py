"""One training process per run folder: an exclusive lock on `run.lock`, held for the whole run.

Two processes writing one folder interleave their stage folders and progress records and leave a run
that resumes with the damage (issue 14). `flock` locks are released by the kernel when the holder dies,
so a killed run never leaves a stale lock behind; the file holds the holder's pid for the message.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from backflip_addon.core.errors import BackflipError

LOCK_NAME = "run.lock"


class RunFolderBusyError(BackflipError):
    """Another process trains in this run folder."""

    code = "run_folder_busy"


class RunLock:
    """Exclusive lock on a run folder; `acquire` fails at once (no waiting) when another process holds it."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise RunFolderBusyError(f"{self.path.parent} is in use by another training process (pid {holder})",
                                     "wait for it to finish or stop it, or choose another --out folder") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
