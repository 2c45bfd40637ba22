"""The queue of users to enroll: one row per user, in operator-visible order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from kiosk.model.queue import QueueRow, SortKey, Status
from kiosk.store.claims import DEFAULT_LEASE_SECONDS, MINE, NOTHING_IN_FLIGHT, Claims
from kiosk.store.db import Conn, Database, Row, known_value, retried

BATCH = 400
"""Users checked and inserted per statement when a list is added."""
STATUSES: tuple[Status, ...] = ("pending", "active", "done", "failed", "skipped")
_ORDER: dict[str, str] = {
    "position": "position, id",
    "upn": "{upn}, id",
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


def _entry(r: Row) -> QueueEntry:
    return QueueEntry(
        entry_id=int(r["id"]),
        position=int(r["position"]),
        upn=str(r["upn"]),
        user_id=str(r["user_id"]),
        display_name=str(r["display_name"]),
        keys_wanted=int(r["keys_wanted"]),
        keys_done=int(r["keys_done"]),
        replace=bool(r["replace"]),
        status=cast(Status, known_value(r["status"], STATUSES, "queue", r["id"])),
        reason=str(r["reason"]),
        updated=str(r["updated"]),
    )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Queue:
    def __init__(
        self, db: Database, station: str = "local", lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> None:
        self.db = db
        self.claims = Claims(db, station, lease_seconds)

    @property
    def station(self) -> str:
        return self.claims.station

    @retried
    def add(
        self,
        users: Iterable[NewUser],
        *,
        keys_wanted: int = 1,
        replace: bool = False,
        source: str = "",
    ) -> tuple[int, int]:
        """Append users not yet queued; return (added, already queued). One transaction,
        written in batches of :data:`BATCH` users (a few statements each, on either backend)."""
        users = list(users)  # run again as a whole if the database was away
        added = already = 0
        now = self.db.now()
        with self.db.tx() as conn:
            self.db.serialize(conn, "kiosk queue add")
            row = conn.execute("SELECT COALESCE(MAX(position), 0) FROM queue").fetchone()
            position = int(row[0])
            for first in range(0, len(users), BATCH):
                batch = users[first : first + BATCH]
                known = self._known(conn, batch)
                fresh: list[NewUser] = []
                for user in batch:
                    keys = (user.upn.lower(), user.user_id)
                    if keys[0] in known or keys[1] in known:
                        already += 1
                        continue
                    known.update(keys)
                    fresh.append(user)
                if not fresh:
                    continue
                values: list[object] = []
                for user in fresh:
                    position += 1
                    values += [position, user.upn, user.user_id, user.display_name,
                               keys_wanted, int(replace), source, now]
                conn.execute(
                    "INSERT INTO queue (position, upn, user_id, display_name, keys_wanted,"  # noqa: S608
                    " replace, source, updated) VALUES "
                    + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(fresh)),
                    values,
                )
                added += len(fresh)
        return added, already

    def _known(self, conn: Conn, batch: list[NewUser]) -> set[str]:
        """Lower-cased UPNs and user ids of ``batch`` that are queued already."""
        marks = ", ".join("?" * len(batch))
        upn = self.db.ci_key("upn")
        found = conn.execute(
            f"SELECT {upn}, user_id FROM queue WHERE {upn} IN ({marks})"  # noqa: S608
            f" OR user_id IN ({marks})",
            [*(u.upn.lower() for u in batch), *(u.user_id for u in batch)],
        ).fetchall()
        return {str(r[0]).lower() for r in found} | {str(r[1]) for r in found}

    def get(self, entry_id: int) -> QueueEntry | None:
        rows = self.db.query("SELECT * FROM queue WHERE id = ?", (entry_id,))
        return _entry(rows[0]) if rows else None

    def find(self, upn: str) -> QueueEntry | None:
        rows = self.db.query(f"SELECT * FROM queue WHERE {self.db.ci_eq('upn')}", (upn,))  # noqa: S608
        return _entry(rows[0]) if rows else None

    def upcoming(
        self, limit: int, *, first: int | None = None, locked: bool = False
    ) -> list[QueueEntry]:
        """The next ``limit`` entries this station holds: ``first`` (if this station could
        take it), its started entry, then by position. Claims more when it holds fewer than
        ``limit`` and renews its lease (a write only when something is to be done).
        ``locked``: nobody is signed in here; none, and the claims go back (:meth:`Claims.idle`)."""
        if locked:
            self.db.retrying(self.claims.idle)
            return []
        rows = self.claims.held()
        held = [_entry(r) for r in rows]
        if self.claims.needs_claim(rows, limit, first):
            missing = first is not None and first not in {e.entry_id for e in held}
            renew = self.claims.renewal_due(rows)
            self.db.retrying(lambda: self.claims.claim(
                limit, first if missing else None, held=len(held), renew=renew
            ))
            held = [_entry(r) for r in self.claims.held()]
        out = [e for e in held if e.entry_id == first]
        out.extend(e for e in held if e.entry_id != first)
        return out[:limit]

    def held_elsewhere(self, entry_id: int) -> str | None:
        """The station that holds this entry, when it is another one (see
        :meth:`Claims.holder`): an operator here may not pick that user."""
        return self.claims.holder(entry_id)

    @retried
    def set_status(self, entry_id: int, status: Status, reason: str = "") -> bool:
        """Set an entry's status; never one that another station has started (False then)."""
        with self.db.tx() as conn:
            cur = conn.execute(
                "UPDATE queue SET status = ?, reason = ?, updated = ? WHERE id = ?"  # noqa: S608
                f" AND NOT (status = 'active' AND NOT {MINE})",
                (status, reason, self.db.now(), entry_id, self.station),
            )
            return cur.rowcount == 1

    @retried
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

    @retried
    def clear_replace(self, entry_id: int) -> None:
        """Replace mode has been carried out (existing methods deleted)."""
        with self.db.tx() as conn:
            conn.execute("UPDATE queue SET replace = 0 WHERE id = ?", (entry_id,))

    def unfinished_replacements(self) -> list[QueueEntry]:
        """Entries enrolled in replace mode whose old methods were not all deleted yet."""
        rows = self.db.query("SELECT * FROM queue WHERE status = 'done' AND replace = 1")
        return [_entry(r) for r in rows]

    @retried
    def requeue(self, entry_id: int) -> bool:
        """A failed or skipped entry goes back to pending (operator retry), free for any
        station. False when it was neither, or while a credential of the user is in flight
        (nothing changed)."""
        with self.db.tx() as conn:
            return conn.execute(
                "UPDATE queue SET status = 'pending', reason = '', updated = ?, station = NULL,"  # noqa: S608
                " lease_until = NULL WHERE id = ? AND status IN ('failed', 'skipped') AND "
                + NOTHING_IN_FLIGHT,
                (self.db.now(), entry_id),
            ).rowcount > 0

    @retried
    def replacement(self, upn: str, user_id: str, *, replace: bool = False) -> bool:
        """Queue ``upn`` for one more key (a replacement): a finished entry wants one more and
        is pending again; a user not queued is added. False if the user is being enrolled.
        ``replace``: the user's other methods are deleted once the new key is registered."""
        entry = self.find(upn)
        if entry is None:
            added = self.add([NewUser(upn=upn, user_id=user_id)], replace=replace,
                             source="replacement")
            return added[0] > 0
        with self.db.tx() as conn:
            cur = conn.execute(
                "UPDATE queue SET status = 'pending', keys_wanted = keys_done + 1, reason = '',"  # noqa: S608
                " source = 'replacement', replace = ?, updated = ?, station = NULL,"
                " lease_until = NULL WHERE id = ? AND status IN ('done', 'failed', 'skipped')"
                " AND " + NOTHING_IN_FLIGHT,
                (int(replace), self.db.now(), entry.entry_id),
            )
            return cur.rowcount > 0 or entry.status == "pending"

    @retried
    def release(self, entry_id: int, serial: str | None) -> str:
        """Admin: a started user back to the queue (see :meth:`Claims.release`)."""
        return self.claims.release(entry_id, serial)

    @retried
    def release_active(self) -> int:
        """After a restart nothing is being worked on here: this station's active entries
        become pending (and stay this station's until the lease runs out). Other stations'
        entries are theirs."""
        with self.db.tx() as conn:
            cur = conn.execute(
                "UPDATE queue SET status = 'pending', station = ?, lease_until = ?"  # noqa: S608
                f" WHERE status = 'active' AND {MINE}",
                (self.station, self.claims.lease_until(), self.station),
            )
            return cur.rowcount

    def _where(self, search: str, status: Status | None) -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        if search:
            like = self.db.ci_like
            clauses.append(f"({like('upn')} OR {like('display_name')})")
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
        order = _ORDER[sort].format(upn=self.db.ci_order("upn"))
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
