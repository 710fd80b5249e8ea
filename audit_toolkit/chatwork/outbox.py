"""The outbox: a durable record of what was posted where, keyed by each message's fingerprint.

One row per (room, fingerprint, part). A row is written `pending` before the post and `sent` (with the
message id) right after, each in its own committed transaction. So a re-run skips what was sent, and
a part left `pending` by a crash between the post and the record is looked for in the room before it
is posted again. SQLite from the standard library: one file, safe across processes.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    room TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    part INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent')),
    message_id TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (room, fingerprint, part)
)
"""


class Outbox:
    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        self.path = Path(path).expanduser()
        try:
            if readonly:
                # A preview reads what exists and never creates or changes the file.
                self._con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) if self.path.exists() else None
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                self._con.execute("PRAGMA journal_mode=WAL")
                self._con.execute(SCHEMA)
        except sqlite3.Error as e:
            raise ConfigError(f"cannot open the outbox {self.path}: {e}") from e

    def state(self, room: str, fingerprint: str, part: int) -> str | None:
        """'sent', 'pending', or None if never tried."""
        if self._con is None:
            return None
        row = self._con.execute(
            "SELECT state FROM outbox WHERE room = ? AND fingerprint = ? AND part = ?", (str(room), fingerprint, part)
        ).fetchone()
        return row[0] if row else None

    def pending(self, room: str, fingerprint: str, part: int) -> None:
        self._write(room, fingerprint, part, "pending", None)

    def sent(self, room: str, fingerprint: str, part: int, message_id: str) -> None:
        self._write(room, fingerprint, part, "sent", message_id)

    def _write(self, room: str, fingerprint: str, part: int, state: str, message_id: str | None) -> None:
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._con.execute(
            "INSERT INTO outbox (room, fingerprint, part, state, message_id, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (room, fingerprint, part) DO UPDATE SET state = excluded.state, "
            "message_id = excluded.message_id, updated_at = excluded.updated_at",
            (str(room), fingerprint, part, state, message_id, now),
        )

    def counts(self, room: str | None = None) -> dict[str, int]:
        if self._con is None:
            return {}
        sql = "SELECT state, count(*) FROM outbox" + (" WHERE room = ?" if room is not None else "") + " GROUP BY state"
        return dict(self._con.execute(sql, () if room is None else (str(room),)).fetchall())

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
