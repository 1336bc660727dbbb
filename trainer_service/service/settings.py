"""Service settings from flags and the environment, and the allowed-roots check every client path goes through."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from backflip_addon.core.errors import BackflipError
from backflip_addon.core.files import replacing
from trainer_service.paths import shipped_stages_dir

SERVICE_FILE = "service.json"
DATABASE_FILE = "jobs.sqlite"


def default_state_dir() -> Path:
    """$BACKFLIP_STATE_DIR, else ~/.local/share/backflip."""
    env = os.environ.get("BACKFLIP_STATE_DIR")
    return Path(env) if env else Path.home() / ".local" / "share" / "backflip"


class ForbiddenPathError(BackflipError):
    """A path outside the folders the service was allowed to read."""

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
    shutdown_grace_seconds: float = 15.0
    """how long running trainings may take to save a checkpoint when the service stops"""

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).expanduser().resolve()
        self.allowed_roots = tuple(Path(r).expanduser().resolve() for r in self.allowed_roots)

    @property
    def roots(self) -> tuple[Path, ...]:
        """The state folder, the allowed roots and the shipped stages (read-only inputs: a bake or a
        training may start from them)."""
        shipped = shipped_stages_dir()
        return (self.state_dir, *self.allowed_roots, *((shipped,) if shipped.is_dir() else ()))

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


def write_service_file(state_dir: Path, info: dict) -> None:
    """service.json, mode 0600 from the moment it has its name (it holds the token)."""
    with replacing(state_dir / SERVICE_FILE) as tmp:
        os.chmod(tmp, 0o600)
        tmp.write_text(json.dumps(info))


def remove_service_file(state_dir: Path) -> None:
    """Remove service.json if it is this process's (a newer service may have written its own)."""
    path = state_dir / SERVICE_FILE
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass
