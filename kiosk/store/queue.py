"""The queue of users to enroll: one row per user, in operator-visible order."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from kiosk.model.queue import QueueRow, SortKey, Status
from kiosk.store.db import Database

STATUSES: tuple[Status, ...] = ("pending", "active", "done", "failed", "skipped")
_ORDER: dict[str, str] = {
    "position": "position, id",
    "upn": "upn, id",
    "status": "status, position, id",
    "updated": "updated DESC, id DESC",
}


@dataclass(frozen=True)
class QueueEntry:
    entry_id: int
    position: int
    upn: str
    user_id: str
    display_name: str
    keys_wanted: int
    keys_done: int
    replace: bool
    status: Status
    reason: str
    updated: str

    def row(self) -> QueueRow:
        return QueueRow(
            entry_id=self.entry_id,
            upn=self.upn,
            display_name=self.display_name,
            status=self.status,
            keys_wanted=self.keys_wanted,
            keys_done=self.keys_done,
            reason=self.reason,
            updated=self.updated,
        )


@dataclass(frozen=True)
class NewUser:
    upn: str
    user_id: str
    display_name: str = ""


def _entry(r: sqlite3.Row) -> QueueEntry:
    return QueueEntry(
        entry_id=int(r["id"]),
        position=int(r["position"]),
        upn=str(r["upn"]),
        user_id=str(r["user_id"]),
        display_name=str(r["display_name"]),
        keys_wanted=int(r["keys_wanted"]),
        keys_done=int(r["keys_done"]),
        replace=bool(r["replace"]),
        status=cast(Status, str(r["status"])),
        reason=str(r["reason"]),
        updated=str(r["updated"]),
    )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Queue:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self,
        users: Iterable[NewUser],
        *,
        keys_wanted: int = 1,
        replace: bool = False,
        source: str = "",
    ) -> tuple[int, int]:
        """Append users not yet queued; return (added, already queued). One transaction."""
        added = already = 0
        now = self.db.now()
        with self.db.tx() as conn:
            row = conn.execute("SELECT COALESCE(MAX(position), 0) FROM queue").fetchone()
            position = int(row[0])
            for user in users:
                existing = conn.execute(
                    "SELECT id FROM queue WHERE upn = ? OR user_id = ?", (user.upn, user.user_id)
                ).fetchone()
                if existing is not None:
                    already += 1
                    continue
                position += 1
                conn.execute(
                    "INSERT INTO queue (position, upn, user_id, display_name, keys_wanted,"
                    " replace, source, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        position,
                        user.upn,
                        user.user_id,
                        user.display_name,
                        keys_wanted,
                        int(replace),
                        source,
                        now,
                    ),
                )
                added += 1
        return added, already

    def get(self, entry_id: int) -> QueueEntry | None:
        rows = self.db.query("SELECT * FROM queue WHERE id = ?", (entry_id,))
        return _entry(rows[0]) if rows else None

    def find(self, upn: str) -> QueueEntry | None:
        rows = self.db.query("SELECT * FROM queue WHERE upn = ?", (upn,))
        return _entry(rows[0]) if rows else None

    def upcoming(self, limit: int, *, first: int | None = None) -> list[QueueEntry]:
        """The next ``limit`` entries to work on: ``first`` (if still open), then by position."""
        out: list[QueueEntry] = []
        if first is not None:
            chosen = self.get(first)
            if chosen is not None and chosen.status in ("pending", "active"):
                out.append(chosen)
        rows = self.db.query(
            "SELECT * FROM queue WHERE status IN ('active', 'pending')"
            " ORDER BY status = 'pending', position LIMIT ?",
            (limit + 1,),
        )
        out.extend(e for e in map(_entry, rows) if e.entry_id != first)
        return out[:limit]

    def set_status(self, entry_id: int, status: Status, reason: str = "") -> None:
        with self.db.tx() as conn:
            conn.execute(
                "UPDATE queue SET status = ?, reason = ?, updated = ? WHERE id = ?",
                (status, reason, self.db.now(), entry_id),
            )

    def key_done(self, entry_id: int) -> QueueEntry:
        """Count one more key enrolled; the entry is done when all wanted keys are."""
        with self.db.tx() as conn:
            conn.execute(
                "UPDATE queue SET keys_done = keys_done + 1, updated = ?,"
                " status = CASE WHEN keys_done + 1 >= keys_wanted THEN 'done' ELSE status END,"
                " reason = '' WHERE id = ?",
                (self.db.now(), entry_id),
            )
        entry = self.get(entry_id)
        assert entry is not None  # noqa: S101 - the row was just updated
        return entry

    def clear_replace(self, entry_id: int) -> None:
        """Replace mode has been carried out (existing methods deleted)."""
        with self.db.tx() as conn:
            conn.execute("UPDATE queue SET replace = 0 WHERE id = ?", (entry_id,))

    def unfinished_replacements(self) -> list[QueueEntry]:
        """Entries enrolled in replace mode whose old methods were not all deleted yet."""
        rows = self.db.query("SELECT * FROM queue WHERE status = 'done' AND replace = 1")
        return [_entry(r) for r in rows]

    def requeue(self, entry_id: int) -> None:
        """A failed or skipped entry goes back to pending (operator retry)."""
        with self.db.tx() as conn:
            conn.execute(
                "UPDATE queue SET status = 'pending', reason = '', updated = ?"
                " WHERE id = ? AND status IN ('failed', 'skipped')",
                (self.db.now(), entry_id),
            )

    def release_active(self) -> int:
        """After a restart nothing is being worked on: active entries become pending."""
        with self.db.tx() as conn:
            cur = conn.execute("UPDATE queue SET status = 'pending' WHERE status = 'active'")
            return cur.rowcount

    def _where(self, search: str, status: Status | None) -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        if search:
            clauses.append("(upn LIKE ? ESCAPE '\\' OR display_name LIKE ? ESCAPE '\\')")
            params += [_like(search), _like(search)]
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def page(
        self,
        offset: int,
        limit: int,
        *,
        search: str = "",
        status: Status | None = None,
        sort: SortKey = "position",
    ) -> list[QueueRow]:
        where, params = self._where(search, status)
        order = _ORDER[sort]
        rows = self.db.query(
            f"SELECT * FROM queue{where} ORDER BY {order} LIMIT ? OFFSET ?",  # noqa: S608
            [*params, max(0, limit), max(0, offset)],
        )
        return [_entry(r).row() for r in rows]

    def size(self, *, search: str = "", status: Status | None = None) -> int:
        where, params = self._where(search, status)
        rows = self.db.query(f"SELECT COUNT(*) FROM queue{where}", params)  # noqa: S608
        return int(rows[0][0])

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for r in self.db.query("SELECT status, COUNT(*) FROM queue GROUP BY status"):
            out[str(r[0])] = int(r[1])
        return out
