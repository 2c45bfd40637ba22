"""Claims: which station holds which queue entries, so no two stations take the same user.

A station claims the next pending entries (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: claims
never wait for each other) and holds them with a lease it renews while it works (each look at
the queue renews it once half of it has passed). Creation options are fetched ahead only for
entries the station holds. An entry whose lease ran out before the station started it is free
for any station again. Once an attempt starts (the journal's first record) the entry is
``active`` and stays with its station whatever its lease, because the key is there: only that
station (resuming after a restart) or an admin naming the key's serial releases it
(:meth:`kiosk.store.queue.Queue.release`).

SQLite runs the same statements; its transactions are serial, so the row locks are left out.
"""

from __future__ import annotations

import time
from datetime import timedelta

from kiosk.model.text import STATION_NAME_MAX, clean
from kiosk.store.db import Conn, Database, Row, StoreError

DEFAULT_LEASE_SECONDS = 60.0
HEARTBEAT_SECONDS = 10.0
MINE = "(station = ? OR station IS NULL)"
"""An entry this station may take as its own (NULL: claimed before stations had names)."""
NOTHING_IN_FLIGHT = (
    "NOT EXISTS (SELECT 1 FROM enrollments WHERE enrollments.entry_id = queue.id"
    " AND enrollments.state = 'open')"
)
"""No attempt of the entry is open: no credential of the user may still be registered by the
station that made it (a restart that could not reach Graph leaves it open, the entry failed)."""


class ClaimLost(StoreError):
    """The entry is no longer this station's: another station holds it, or it is finished."""

    title = "Another station has this user"
    next_step = "Nothing was done to this user here. The kiosk goes on with the next user."


class Claims:
    def __init__(self, db: Database, station: str, lease_seconds: float) -> None:
        self.db = db
        self.station = station
        self.lease_seconds = lease_seconds
        self._beat_at = -HEARTBEAT_SECONDS
        self.operator: str | None = None
        """Who is signed in at this station (None: locked), told with each heartbeat."""

    def signed_in(self, operator: str | None) -> None:
        """An operator signed in or out here: the next look at the queue heartbeats with it."""
        self.operator = operator
        self._beat_at = time.monotonic() - 2 * HEARTBEAT_SECONDS

    def lease_until(self, seconds: float | None = None) -> str:
        span = self.lease_seconds if seconds is None else seconds
        when = self.db.clock() + timedelta(seconds=span)
        return self.db.now_of(when)

    def held(self) -> list[Row]:
        """This station's unfinished entries: started ones first, then by position."""
        return self.db.query(
            "SELECT * FROM queue WHERE station = ? AND status IN ('active', 'pending')"
            " ORDER BY status = 'pending', position, id",
            (self.station,),
        )

    def holder(self, entry_id: int) -> str | None:
        """The other station that holds this entry: it started it (its key is there), or it
        claimed it and its lease has not run out. None: free, finished, or this station's."""
        rows = self.db.query(
            "SELECT station FROM queue WHERE id = ? AND station IS NOT NULL AND station <> ?"
            " AND (status = 'active' OR (status = 'pending' AND lease_until >= ?))",
            (entry_id, self.station, self.db.now()),
        )
        return str(rows[0]["station"]) if rows else None

    def needs_claim(self, rows: list[Row], wanted: int, first: int | None) -> bool:
        """Is a write due: a lease past half its life, a heartbeat, or an entry to take?"""
        if self.renewal_due(rows):
            return True
        if time.monotonic() - self._beat_at > HEARTBEAT_SECONDS:
            return True
        now = self.db.now()
        if first is not None and first not in {int(r["id"]) for r in rows}:
            return bool(self.db.query(
                "SELECT id FROM queue WHERE id = ? AND status = 'pending' AND"
                " (station IS NULL OR station = ? OR lease_until < ?)",
                (first, self.station, now),
            ))
        return len(rows) < wanted and bool(self.db.query(
            "SELECT id FROM queue WHERE status = 'pending' AND (station IS NULL OR lease_until < ?)"
            " LIMIT 1",
            (now,),
        ))

    def renewal_due(self, rows: list[Row]) -> bool:
        """Has a lease of this station's unstarted entries passed half its life?"""
        half = self.lease_until(self.lease_seconds / 2)
        return any(r["status"] == "pending" and (r["lease_until"] or "") < half for r in rows)

    def claim(
        self, wanted: int, first: int | None, *, held: int | None = None, renew: bool = True
    ) -> None:
        """Renew this station's lease (``renew``), take ``first`` if it is free, and claim
        pending entries until the station holds ``wanted`` (``held``: how many it holds now,
        if known). One short transaction; each claim is one statement (row locks taken with
        SKIP LOCKED, so claiming stations never wait for each other)."""
        now, until = self.db.now(), self.lease_until()
        beat = time.monotonic() - self._beat_at > HEARTBEAT_SECONDS
        lock = self.db.skip_locked
        take_next = (
            "UPDATE queue SET station = ?, lease_until = ? WHERE id IN ("  # noqa: S608
            "SELECT id FROM queue WHERE status = 'pending' AND"
            f" (station IS NULL OR lease_until < ?) ORDER BY position, id LIMIT ?{lock})"
        )
        if not (renew or beat) and held is not None and first is None:
            # The usual claim: one statement, one round trip (claiming again is harmless).
            if wanted > held:
                self.db.write_one(take_next, (self.station, until, now, wanted - held))
            return
        with self.db.tx() as conn:
            if renew:
                conn.execute(
                    "UPDATE queue SET lease_until = ? WHERE station = ? AND status = 'pending'",
                    (until, self.station),
                )
            if beat:
                self._heartbeat(conn, now)
            if held is None:
                held = int(conn.execute(
                    "SELECT COUNT(*) FROM queue WHERE station = ?"
                    " AND status IN ('active', 'pending')",
                    (self.station,),
                ).fetchone()[0])
            took = 0
            if first is not None:
                took = conn.execute(
                    "UPDATE queue SET station = ?, lease_until = ? WHERE id IN ("  # noqa: S608
                    "SELECT id FROM queue WHERE id = ? AND status = 'pending' AND"
                    f" (station IS NULL OR station = ? OR lease_until < ?){lock})",
                    (self.station, until, first, self.station, now),
                ).rowcount
            more = wanted - held - took
            if more > 0:
                conn.execute(take_next, (self.station, until, now, more))
        if beat:
            self._beat_at = time.monotonic()

    def idle(self) -> None:
        """Nobody is signed in here: hold no unstarted entry (they go back to the queue for
        the other stations at once, instead of waiting for a lease this station would keep
        renewing) and heartbeat (the station is up, locked). A write only when one is due."""
        give_back = any(r["status"] == "pending" for r in self.held())
        beat = time.monotonic() - self._beat_at > HEARTBEAT_SECONDS
        if not (give_back or beat):
            return
        with self.db.tx() as conn:
            if give_back:
                conn.execute(
                    "UPDATE queue SET station = NULL, lease_until = NULL"
                    " WHERE station = ? AND status = 'pending'",
                    (self.station,),
                )
            if beat:
                self._heartbeat(conn, self.db.now())
        if beat:
            self._beat_at = time.monotonic()

    def _heartbeat(self, conn: Conn, now: str) -> None:
        conn.execute(
            "INSERT INTO stations (name, started, seen, operator) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET seen = excluded.seen, state = 'online',"
            " operator = excluded.operator",
            (self.station, now, now, self.operator),
        )

    def start(self, conn: Conn, entry_id: int, now: str) -> None:
        """Inside the journal's first transaction: the entry becomes this station's active
        entry, or :class:`ClaimLost` is raised and nothing is written."""
        cur = conn.execute(
            "UPDATE queue SET status = 'active', station = ?, lease_until = ?, updated = ?"  # noqa: S608
            " WHERE id = ? AND ((status = 'pending' AND (station IS NULL OR station = ?"
            " OR lease_until < ?)) OR (status = 'active' AND " + MINE + "))",
            (self.station, self.lease_until(), now, entry_id, self.station, now, self.station),
        )
        if cur.rowcount != 1:
            raise ClaimLost(
                f"Queue entry {entry_id} is held by another station or no longer waiting."
            )

    def release(self, entry_id: int, serial: str | None) -> str:
        """Admin: give back a user that a station started and cannot resume (broken, gone).

        Its open attempt is marked ``orphan`` (the credential on that key, if any, is never
        registered by the kiosk) and the user is pending for any station. When the attempt
        knows its key, ``serial`` must name it: the admin has the key in hand. An attempt
        already registered with Graph is refused: its station (or its restart) finishes it.
        A user whose restart could not finish the attempt (failed, the attempt still open)
        is released the same way. Returns the station that held the user."""
        with self.db.tx() as conn:
            entry = conn.execute(
                "SELECT status, station FROM queue WHERE id = ?" + self.db.for_update,  # noqa: S608
                (entry_id,),
            ).fetchone()
            attempts = conn.execute(
                "SELECT id, serial, step, station FROM enrollments WHERE entry_id = ?"
                " AND state = 'open'",
                (entry_id,),
            ).fetchall()
            waiting = entry is not None and entry["status"] == "failed" and bool(attempts)
            if entry is None or not (entry["status"] == "active" or waiting):
                raise StoreError("This user is not held by a station (it is not started).")
            held_by = clean(
                entry["station"] or (attempts[0]["station"] if attempts else "") or "",
                STATION_NAME_MAX,
            )
            for a in attempts:
                if a["serial"] and a["serial"] != serial:
                    raise StoreError(
                        f"Station {held_by} started this user with the key whose serial is "
                        f"{a['serial']}; name that serial to release it.",
                        next_step="Take the key from that station and read its serial.",
                    )
                if a["step"] in ("registered", "done"):
                    raise StoreError(
                        f"This user's key is already registered with Microsoft Graph at "
                        f"station {held_by}; start that station again to finish it.",
                        next_step="Start the station; it finishes the enrollment by itself.",
                    )
            reason = f"released by an admin from station {held_by}"
            conn.execute(
                "UPDATE enrollments SET state = 'orphan', reason = ?, updated = ?"
                " WHERE entry_id = ? AND state = 'open'",
                (reason, self.db.now(), entry_id),
            )
            conn.execute(
                "UPDATE queue SET status = 'pending', station = NULL, lease_until = NULL,"
                " reason = ?, updated = ? WHERE id = ?",
                (reason, self.db.now(), entry_id),
            )
            return held_by
