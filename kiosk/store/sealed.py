"""Sealed PIN envelopes kept in the database too (central escrow).

An envelope is CMS EnvelopedData encrypted to the helpdesk's certificates
(:mod:`kiosk.enroll.escrow`): the database holds nothing it could read. ``kiosk escrow get``
finds an envelope by UPN or key serial and writes it for ``openssl cms -decrypt``; every
retrieval is audited by the command.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from kiosk.store.db import Database, Row, retried


@dataclass(frozen=True)
class Envelope:
    id: int
    entry_id: int | None
    upn: str
    serial: str | None
    station: str
    sha256: str
    sealed: str
    envelope: bytes


def _envelope(r: Row) -> Envelope:
    return Envelope(
        id=int(r["id"]),
        entry_id=None if r["entry_id"] is None else int(r["entry_id"]),
        upn=str(r["upn"]),
        serial=r["serial"],
        station=str(r["station"]),
        sha256=str(r["sha256"]),
        sealed=str(r["sealed"]),
        envelope=bytes(r["envelope"]),
    )


class SealedPins:
    def __init__(self, db: Database, station: str) -> None:
        self.db = db
        self.station = station

    @retried
    def put(self, entry_id: int, serial: str | None, blob: bytes, when: datetime) -> None:
        """Keep one envelope, under the queue entry's UPN (one transaction)."""
        with self.db.tx() as conn:
            conn.execute(
                "INSERT INTO escrow (entry_id, upn, serial, station, sha256, envelope, sealed)"
                " SELECT id, upn, ?, ?, ?, ?, ? FROM queue WHERE id = ?",
                (
                    serial, self.station, hashlib.sha256(blob).hexdigest(), blob,
                    self.db.now_of(when), entry_id,
                ),
            )

    def find(self, *, upn: str | None = None, serial: str | None = None) -> list[Envelope]:
        """Envelopes for a UPN or a key serial, newest first."""
        if upn is not None:
            where, value = self.db.ci_eq("upn"), upn
        elif serial is not None:
            where, value = "serial = ?", serial
        else:
            raise ValueError("name a UPN or a serial")
        rows = self.db.query(
            f"SELECT * FROM escrow WHERE {where} ORDER BY sealed DESC, id DESC",  # noqa: S608
            (value,),
        )
        return [_envelope(r) for r in rows]
