"""Key inventory: which key (serial, AAGUID, model, firmware) went to whom, and when."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.store.db import Database, Row, retried


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
    )


class Inventory:
    def __init__(self, db: Database) -> None:
        self.db = db

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
        """Record (or move, after a reset and re-enrollment) a key to a user."""
        with self.db.tx() as conn:
            conn.execute(
                "INSERT INTO keys (serial, aaguid, model, firmware, user_id, upn, method_id,"
                " enrolled) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (serial) DO UPDATE SET"
                " aaguid = excluded.aaguid, model = excluded.model, firmware = excluded.firmware,"
                " user_id = excluded.user_id, upn = excluded.upn,"
                " method_id = excluded.method_id, enrolled = excluded.enrolled",
                (serial, aaguid, model, firmware, user_id, upn, method_id, self.db.now()),
            )

    def get(self, serial: str) -> InventoryEntry | None:
        rows = self.db.query("SELECT * FROM keys WHERE serial = ?", (serial,))
        return _item(rows[0]) if rows else None

    def all(self) -> list[InventoryEntry]:
        return [_item(r) for r in self.db.query("SELECT * FROM keys ORDER BY id")]

    def count(self) -> int:
        return int(self.db.query("SELECT COUNT(*) FROM keys")[0][0])
