"""The job table: SQLite (stdlib sqlite3) in WAL mode, one database in the state folder.

Every change is one transaction, so a SIGKILL leaves either the old row or the new one. Each thread gets
its own connection (request threads read while the supervisor writes; WAL lets them do so at once).
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from backflip_addon.core.errors import NotFoundError
from backflip_addon.core.protocol import ErrorInfo, JobStatus

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    log_tail TEXT NOT NULL DEFAULT '',
    error TEXT,
    params TEXT NOT NULL DEFAULT '{}',
    result TEXT NOT NULL DEFAULT '{}',
    folder TEXT NOT NULL DEFAULT '',
    pid INTEGER,
    requested TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
"""
COLUMNS = ("state", "progress", "message", "log_tail", "error", "params", "result", "folder", "pid", "requested")
JSON_COLUMNS = ("params", "result")


class JobStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as conn:
            conn.executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process kills
            self._local.conn = conn
        return conn

    def create(self, kind: str, params: dict, folder: str = "", state: str = "queued",
               result: dict | None = None, job_id: str | None = None) -> JobStatus:
        now = time.time()
        job_id = job_id or uuid.uuid4().hex[:12]
        with self._conn() as conn:
            conn.execute("INSERT INTO jobs (id, kind, state, params, result, folder, created, updated) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (job_id, kind, state, json.dumps(params), json.dumps(result or {}), folder, now, now))
        return self.get(job_id)

    def update(self, job_id: str, **values: Any) -> None:
        unknown = set(values) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown job columns {sorted(unknown)}")
        encoded = {}
        for key, value in values.items():
            if key in JSON_COLUMNS:
                value = json.dumps(value)
            elif key == "error":
                value = None if value is None else json.dumps({"code": value.code, "message": value.message,
                                                               "hint": value.hint})
            encoded[key] = value
        sets = ", ".join(f"{k} = ?" for k in encoded)
        with self._conn() as conn:
            conn.execute(f"UPDATE jobs SET {sets}, updated = ? WHERE id = ?", (*encoded.values(), time.time(), job_id))

    def get(self, job_id: str) -> JobStatus:
        row = self._conn().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no job {job_id!r}", "list the jobs with GET /jobs (or `python -m trainer_service jobs list`)")
        return _status(row)

    def requested(self, job_id: str) -> str | None:
        row = self._conn().execute("SELECT requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row["requested"] if row else None

    def pid(self, job_id: str) -> int | None:
        row = self._conn().execute("SELECT pid FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row["pid"] if row else None

    def list(self, kinds: tuple[str, ...] = (), states: tuple[str, ...] = ()) -> list[JobStatus]:
        query, args = "SELECT * FROM jobs", []
        clauses = []
        if kinds:
            clauses.append(f"kind IN ({','.join('?' * len(kinds))})")
            args += kinds
        if states:
            clauses.append(f"state IN ({','.join('?' * len(states))})")
            args += states
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        return [_status(r) for r in self._conn().execute(query + " ORDER BY seq", args).fetchall()]

    def integrity(self) -> str:
        return self._conn().execute("PRAGMA integrity_check").fetchone()[0]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _status(row: sqlite3.Row) -> JobStatus:
    error = json.loads(row["error"]) if row["error"] else None
    return JobStatus(id=row["id"], kind=row["kind"], state=row["state"], progress=row["progress"],
                     message=row["message"], log_tail=row["log_tail"],
                     error=ErrorInfo(**error) if error else None, params=json.loads(row["params"]),
                     result=json.loads(row["result"]), folder=row["folder"], created=row["created"],
                     updated=row["updated"])
