"""Service settings from flags and the environment, and the allowed-roots check every client path goes through."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from backflip_addon.core.errors import BackflipError

SERVICE_FILE = "service.json"
DATABASE_FILE = "jobs.sqlite"


def default_state_dir() -> Path:
    """$BACKFLIP_STATE_DIR, else ~/.local/share/backflip."""
    env = os.environ.get("BACKFLIP_STATE_DIR")
    return Path(env) if env else Path.home() / ".local" / "share" / "backflip"


class ForbiddenPathError(BackflipError):
    """A path outside the folders the service was allowed to read and write."""

    code = "forbidden_path"


@dataclass
class Settings:
    """What one service process may do. Limits can come from flags or BACKFLIP_* environment variables."""

    state_dir: Path = field(default_factory=default_state_dir)
    allowed_roots: tuple[Path, ...] = ()
    """folders besides the state folder that client paths may point into"""
    max_trainings: int = field(default_factory=lambda: int(os.environ.get("BACKFLIP_MAX_TRAININGS", "1")))
    """trainings running at once (2 cores: one); 0 queues them without running any"""
    max_side_jobs: int = field(default_factory=lambda: int(os.environ.get("BACKFLIP_MAX_SIDE_JOBS", "2")))
    """extract / rollout jobs running at once beside the trainings"""
    max_upload_bytes: int = field(default_factory=lambda: int(os.environ.get("BACKFLIP_MAX_UPLOAD_BYTES",
                                                                             str(2 * 1024**3))))
    poll_seconds: float = 0.5
    """how often the supervisor looks at its workers"""
    stop_grace_seconds: float = 60.0
    """how long a paused training may take to save its checkpoint before it is killed"""

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).expanduser().resolve()
        self.allowed_roots = tuple(Path(r).expanduser().resolve() for r in self.allowed_roots)

    @property
    def roots(self) -> tuple[Path, ...]:
        return (self.state_dir, *self.allowed_roots)

    @property
    def jobs_dir(self) -> Path:
        return self.state_dir / "jobs"

    @property
    def uploads_dir(self) -> Path:
        return self.state_dir / "uploads"

    def check_path(self, value: str, what: str = "path") -> Path:
        """`value` resolved (symlinks followed, `..` collapsed) if it lies inside an allowed root; else 403."""
        if "\x00" in value or not value.strip():
            raise ForbiddenPathError(f"{what} {value!r} is not a usable path", "send an absolute path")
        raw = Path(value).expanduser()
        if ".." in raw.parts:
            raise ForbiddenPathError(f"{what} {value!r} contains '..'", "send the path without '..' components")
        if not raw.is_absolute():
            raise ForbiddenPathError(f"{what} {value!r} is relative", "send an absolute path")
        resolved = raw.resolve()
        if not any(resolved == root or root in resolved.parents for root in self.roots):
            roots = ", ".join(str(r) for r in self.roots)
            raise ForbiddenPathError(f"{what} {value} lies outside the folders this service may use ({roots})",
                                     "move the file into one of them, or restart the service with --allow-root")
        return resolved
