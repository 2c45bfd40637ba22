"""Key inventory: every key the kiosk has seen, its state (in stock, enrolled to whom with which
Entra method, needs reset, returned, lost, retired) and the deletions of methods it asked of
Entra (journaled before each is sent, so a lost answer is reconciled and never sent twice)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast, get_args

from kiosk.model.keys import SERIALLESS
from kiosk.store.db import Database, Row, known_value, retried

KeyState = Literal["in_stock", "enrolled", "needs_reset", "returned", "lost", "retired"]
KEY_STATES: tuple[KeyState, ...] = get_args(KeyState)
DeletionState = Literal["sending", "deleted", "gone"]
DELETION_STATES: tuple[DeletionState, ...] = get_args(DeletionState)
DeletionClaim = Literal["send", "resume", "elsewhere", "done"]
"""What :meth:`Inventory.claim_deletion` found: send it now; this station's own earlier try,
to reconcile; another station is sending it; deleted (or found gone) already."""


@dataclass(frozen=True)
class InventoryEntry:
    serial: str
    aaguid: str
    model: str
    firmware: str | None
    user_id: str
    upn: str
    method_id: str | None
    enrolled: str
    state: KeyState = "enrolled"
    reason: str = ""
    station: str | None = None
    changed: str | None = None

    @property
    def owned(self) -> bool:
        """Enrolled to someone whose method the kiosk registered."""
        return self.state == "enrolled" and bool(self.user_id)


@dataclass(frozen=True)
class Deletion:
    """One FIDO2 method deletion the kiosk asked of Entra."""

    id: int
    serial: str | None
    user_id: str
    upn: str
    method_id: str
    state: DeletionState
    reason: str


def _item(r: Row) -> InventoryEntry:
    return InventoryEntry(
        serial=str(r["serial"]),
        aaguid=str(r["aaguid"]),
        model=str(r["model"]),
        firmware=r["firmware"],
        user_id=str(r["user_id"]),
        upn=str(r["upn"]),
        method_id=r["method_id"],
        enrolled=str(r["enrolled"]),
        state=cast(KeyState, known_value(r["state"], KEY_STATES, "keys", r["id"])),
        reason=str(r["reason"]),
        station=r["station"],
        changed=r["changed"],
    )


def _deletion(r: Row) -> Deletion:
    return Deletion(
        id=int(r["id"]), serial=r["serial"], user_id=str(r["user_id"]), upn=str(r["upn"]),
        method_id=str(r["method_id"]),
        state=cast(DeletionState, known_value(r["state"], DELETION_STATES, "deletions", r["id"])),
        reason=str(r["reason"]),
    )


class Inventory:
    def __init__(self, db: Database, station: str = "local") -> None:
        self.db = db
        self.station = station

    @retried
    def record(
        self,
        *,
        serial: str,
        aaguid: str,
        model: str,
        firmware: str | None,
        user_id: str,
        upn: str,
        method_id: str | None,
    ) -> None:
        """Record (or move, after a reset and re-enrollment) a key to a user: enrolled."""
        now = self.db.now()
        with self.db.tx() as conn:
            conn.execute(
                "INSERT INTO keys (serial, aaguid, model, firmware, user_id, upn, method_id,"
                " enrolled, state, reason, station, changed)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'enrolled', '', ?, ?) ON CONFLICT (serial)"
                " DO UPDATE SET aaguid = excluded.aaguid, model = excluded.model,"
                " firmware = excluded.firmware, user_id = excluded.user_id, upn = excluded.upn,"
                " method_id = excluded.method_id, enrolled = excluded.enrolled,"
                " state = 'enrolled', reason = '', station = excluded.station,"
                " changed = excluded.changed",
                (serial, aaguid, model, firmware, user_id, upn, method_id, now, self.station, now),
            )

    @retried
    def stock(self, *, serial: str, aaguid: str, model: str, firmware: str | None,
              reason: str) -> None:
        """A key the inventory did not know, reset and taken into stock."""
        now = self.db.now()
        with self.db.tx() as conn:
            conn.execute(
                "INSERT INTO keys (serial, aaguid, model, firmware, user_id, upn, method_id,"
                " enrolled, state, reason, station, changed)"
                " VALUES (?, ?, ?, ?, '', '', NULL, ?, 'in_stock', ?, ?, ?)"
                " ON CONFLICT (serial) DO NOTHING",
                (serial, aaguid, model, firmware, now, reason, self.station, now),
            )

    @retried
    def restock_serialless(self, serial: str, aaguid: str) -> bool:
        """A key without a serial is enrolled as ``serial`` (its stand-in): one key of its
        AAGUID that was in stock without a serial takes that name, so the stock counts it
        out (keys without a serial cannot be told apart once reset). False: none in stock."""
        with self.db.tx() as conn:
            cur = conn.execute(
                "UPDATE keys SET serial = ? WHERE id = (SELECT id FROM keys WHERE"
                " state = 'in_stock' AND aaguid = ? AND serial LIKE ? ORDER BY id LIMIT 1)"
                " AND NOT EXISTS (SELECT 1 FROM keys WHERE serial = ?)",
                (serial, aaguid, SERIALLESS + "%", serial),
            )
            return cur.rowcount > 0

    @retried
    def needs_reset(self, *, serial: str, aaguid: str, model: str, firmware: str | None,
                    reason: str) -> None:
        """A key left holding what the kiosk put on it (its PIN, a credential Entra does not
        know): ``needs_reset``, whether the inventory knew it or not (an owner is kept)."""
        now = self.db.now()
        with self.db.tx() as conn:
            conn.execute(
                "INSERT INTO keys (serial, aaguid, model, firmware, user_id, upn, method_id,"
                " enrolled, state, reason, station, changed)"
                " VALUES (?, ?, ?, ?, '', '', NULL, ?, 'needs_reset', ?, ?, ?)"
                " ON CONFLICT (serial) DO UPDATE SET state = 'needs_reset',"
                " reason = excluded.reason, station = excluded.station,"
                " changed = excluded.changed",
                (serial, aaguid, model, firmware, now, reason, self.station, now),
            )

    @retried
    def set_state(self, serial: str, state: KeyState, reason: str) -> bool:
        """Move a key to ``state``; in stock (or retired) it belongs to nobody any more."""
        keep_owner = state in ("enrolled", "lost", "needs_reset", "returned")
        owner = "" if keep_owner else ", user_id = '', upn = '', method_id = NULL"
        with self.db.tx() as conn:
            cur = conn.execute(
                "UPDATE keys SET state = ?, reason = ?, station = ?, changed = ?"  # noqa: S608
                + owner + " WHERE serial = ?",
                (state, reason, self.station, self.db.now(), serial),
            )
            return cur.rowcount > 0

    def get(self, serial: str) -> InventoryEntry | None:
        rows = self.db.query("SELECT * FROM keys WHERE serial = ?", (serial,))
        return _item(rows[0]) if rows else None

    def of_user(self, upn: str) -> list[InventoryEntry]:
        rows = self.db.query(
            "SELECT * FROM keys WHERE " + self.db.ci_eq("upn") + " ORDER BY id",  # noqa: S608
            (upn,),
        )
        return [_item(r) for r in rows]

    def search(self, text: str = "", state: KeyState | None = None) -> list[InventoryEntry]:
        """Keys whose serial or UPN contains ``text`` (any case), optionally in ``state``."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        sql = (
            "SELECT * FROM keys WHERE (" + self.db.ci_like("serial") + " OR "  # noqa: S608
            + self.db.ci_like("upn") + ")"
        )
        params: list[object] = [pattern, pattern]
        if state is not None:
            sql += " AND state = ?"
            params.append(state)
        return [_item(r) for r in self.db.query(sql + " ORDER BY id", params)]

    def all(self) -> list[InventoryEntry]:
        return [_item(r) for r in self.db.query("SELECT * FROM keys ORDER BY id")]

    def count(self) -> int:
        return int(self.db.query("SELECT COUNT(*) FROM keys")[0][0])

    def counts(self) -> dict[str, dict[str, int]]:
        """Keys by state, then by model."""
        found: dict[str, dict[str, int]] = {}
        for r in self.db.query(
            "SELECT state, model, COUNT(*) AS n FROM keys GROUP BY state, model ORDER BY state"
        ):
            found.setdefault(str(r["state"]), {})[str(r["model"])] = int(r["n"])
        return found

    def back_since(self, since: str) -> dict[str, int]:
        """Keys reset and taken back since ``since`` (a stored timestamp): in stock, retired."""
        rows = self.db.query(
            "SELECT state, COUNT(*) AS n FROM keys WHERE changed >= ?"
            " AND state IN ('in_stock', 'retired') GROUP BY state",
            (since,),
        )
        return {str(r["state"]): int(r["n"]) for r in rows}

    # ---- deletions of Entra methods (journaled before sending) ------------------------

    @retried
    def deletion_started(self, *, serial: str | None, user_id: str, upn: str, method_id: str,
                         reason: str, operator: str | None) -> int:
        now = self.db.now()
        with self.db.tx() as conn:
            row = conn.execute(
                "INSERT INTO deletions (serial, user_id, upn, method_id, state, reason,"
                " operator, station, started, updated)"
                " VALUES (?, ?, ?, ?, 'sending', ?, ?, ?, ?, ?) RETURNING id",
                (serial, user_id, upn, method_id, reason, operator, self.station, now, now),
            ).fetchone()
            return int(row[0])

    @retried
    def claim_deletion(self, *, user_id: str, upn: str, method_id: str, reason: str,
                       operator: str | None) -> tuple[int, DeletionClaim]:
        """Journal a deletion about to be sent, unless that method's deletion is journaled
        already: one transaction, serialised on the method, so that two stations never both
        send it (see :data:`DeletionClaim`). Returns the journal's id and what to do."""
        with self.db.tx() as conn:
            self.db.serialize(conn, f"deletion {user_id} {method_id}")
            row = conn.execute(
                "SELECT id, state, station FROM deletions WHERE user_id = ? AND method_id = ?"
                " ORDER BY id DESC LIMIT 1",
                (user_id, method_id),
            ).fetchone()
            if row is not None:
                if row["state"] != "sending":
                    return int(row["id"]), "done"
                mine = row["station"] in (None, self.station)  # NULL: before station names
                return int(row["id"]), "resume" if mine else "elsewhere"
            now = self.db.now()
            row = conn.execute(
                "INSERT INTO deletions (serial, user_id, upn, method_id, state, reason,"
                " operator, station, started, updated)"
                " VALUES (NULL, ?, ?, ?, 'sending', ?, ?, ?, ?, ?) RETURNING id",
                (user_id, upn, method_id, reason, operator, self.station, now, now),
            ).fetchone()
            return int(row[0]), "send"

    @retried
    def deletion_done(self, deletion_id: int, state: DeletionState) -> None:
        with self.db.tx() as conn:
            conn.execute(
                "UPDATE deletions SET state = ?, updated = ? WHERE id = ?",
                (state, self.db.now(), deletion_id),
            )

    def deletions(self, *, state: DeletionState | None = None) -> list[Deletion]:
        if state is None:
            rows = self.db.query("SELECT * FROM deletions ORDER BY id")
        else:
            rows = self.db.query("SELECT * FROM deletions WHERE state = ? ORDER BY id", (state,))
        return [_deletion(r) for r in rows]
