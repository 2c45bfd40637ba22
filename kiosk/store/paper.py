"""Paper state: each queued user's address (and the batch's choice of address), and the
shipping label of each enrolled key until it has printed: the reprint list.

A label's ``content`` is the JSON of what it shows (name, address, UPN, key, reference,
batch, date), so it can be printed again after a restart; a PIN is never stored here.
States: ``waiting`` (not printed yet, or the kiosk stopped while it printed), ``printed``,
``failed`` (the printer said no; ``reason`` says why).
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.store.db import Database, Row, retried

LABEL_STATES = ("waiting", "printed", "failed")


@dataclass(frozen=True)
class LabelRow:
    label_id: int
    enrollment_id: int
    entry_id: int
    upn: str
    serial: str | None
    reference: str
    content: str
    state: str
    sent: int
    """How many times the label was sent to the printer."""
    reason: str
    updated: str


def _label(r: Row) -> LabelRow:
    return LabelRow(
        int(r["id"]), int(r["enrollment_id"]), int(r["entry_id"]), str(r["upn"]), r["serial"],
        str(r["reference"]), str(r["content"]), str(r["state"]), int(r["sent"]),
        str(r["reason"]), str(r["updated"]),
    )


class Labels:
    def __init__(self, db: Database) -> None:
        self.db = db

    @retried
    def add(self, *, enrollment_id: int, entry_id: int, upn: str, serial: str | None,
            reference: str, content: str) -> LabelRow:
        """The label of one enrollment (added once; asked again, the existing row)."""
        with self.db.tx() as conn:
            conn.execute(
                "INSERT INTO labels (enrollment_id, entry_id, upn, serial, reference, content,"
                " updated) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (enrollment_id) DO NOTHING",
                (enrollment_id, entry_id, upn, serial, reference, content, self.db.now()),
            )
        rows = self.db.query("SELECT * FROM labels WHERE enrollment_id = ?", (enrollment_id,))
        return _label(rows[0])

    def get(self, label_id: int) -> LabelRow | None:
        rows = self.db.query("SELECT * FROM labels WHERE id = ?", (label_id,))
        return _label(rows[0]) if rows else None

    @retried
    def sending(self, label_id: int) -> None:
        """The label goes to the printer now: counted before, so a crash leaves it waiting."""
        with self.db.tx() as conn:
            conn.execute(
                "UPDATE labels SET sent = sent + 1, state = 'waiting', updated = ? WHERE id = ?",
                (self.db.now(), label_id),
            )

    @retried
    def mark(self, label_id: int, state: str, reason: str = "") -> None:
        if state not in LABEL_STATES:
            raise ValueError(f"unknown label state {state!r}")
        with self.db.tx() as conn:
            conn.execute(
                "UPDATE labels SET state = ?, reason = ?, updated = ? WHERE id = ?",
                (state, reason, self.db.now(), label_id),
            )

    def to_print(self) -> list[LabelRow]:
        """The reprint list: every label not known to have printed, oldest first."""
        rows = self.db.query("SELECT * FROM labels WHERE state != 'printed' ORDER BY id")
        return [_label(r) for r in rows]

    def for_entry(self, entry_id: int) -> list[LabelRow]:
        rows = self.db.query("SELECT * FROM labels WHERE entry_id = ? ORDER BY id", (entry_id,))
        return [_label(r) for r in rows]

    def all(self) -> list[LabelRow]:
        return [_label(r) for r in self.db.query("SELECT * FROM labels ORDER BY id")]


class Addresses:
    """Postal details per user (JSON of :class:`kiosk.paper.address.Address` fields)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @retried
    def put(self, user_id: str, mode: str, fields: str, source: str) -> None:
        with self.db.tx() as conn:
            conn.execute(
                "INSERT INTO addresses (user_id, mode, fields, source, updated)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET"
                " mode = excluded.mode, fields = excluded.fields, source = excluded.source,"
                " updated = excluded.updated",
                (user_id, mode, fields, source, self.db.now()),
            )

    def get(self, user_id: str) -> tuple[str, str] | None:
        """(mode, fields JSON) for the user, or None when the import gave none."""
        rows = self.db.query("SELECT mode, fields FROM addresses WHERE user_id = ?", (user_id,))
        return (str(rows[0]["mode"]), str(rows[0]["fields"])) if rows else None
