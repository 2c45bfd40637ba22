"""The audit trail mirrored in the database: every station's records, with its station id.

Each station keeps its own hash-chained trail (file and system journal); every record line
is also kept here, byte for byte, under (station, seq). ``kiosk audit verify --fleet`` checks
each station's chain in the database against itself and, on a station, against its file.
"""

from __future__ import annotations

from collections.abc import Iterable

from kiosk.store.db import Database, retried


class AuditMirror:
    def __init__(self, db: Database, station: str) -> None:
        self.db = db
        self.station = station

    @retried
    def put(self, records: Iterable[tuple[int, bytes]]) -> None:
        """Keep these (seq, line) records; one already kept is left as it is (a retry after a
        commit that was cut off writes nothing twice)."""
        batch = [(seq, line.decode("utf-8")) for seq, line in records]
        if not batch:
            return
        with self.db.tx() as conn:
            for seq, line in batch:
                conn.execute(
                    "INSERT INTO audit_records (station, seq, line) VALUES (?, ?, ?)"
                    " ON CONFLICT (station, seq) DO NOTHING",
                    (self.station, seq, line),
                )

    def last_seq(self, station: str | None = None) -> int:
        rows = self.db.query(
            "SELECT COALESCE(MAX(seq), 0) FROM audit_records WHERE station = ?",
            (station or self.station,),
        )
        return int(rows[0][0])

    def line_at(self, seq: int) -> bytes | None:
        """This station's record ``seq`` as its line bytes (None when not kept)."""
        rows = self.db.query(
            "SELECT line FROM audit_records WHERE station = ? AND seq = ?", (self.station, seq)
        )
        return str(rows[0][0]).encode("utf-8") if rows else None

    def stations(self) -> list[str]:
        return [str(r[0]) for r in self.db.query(
            "SELECT DISTINCT station FROM audit_records ORDER BY station"
        )]

    def lines(self, station: str) -> bytes:
        """A station's mirrored records as trail bytes (one line each, in seq order)."""
        rows = self.db.query(
            "SELECT line FROM audit_records WHERE station = ? ORDER BY seq", (station,)
        )
        return b"".join(str(r[0]).encode("utf-8") + b"\n" for r in rows)

    def catch_up(self, data: bytes) -> int:
        """Mirror the records of this station's trail file (its bytes) that the database does
        not have yet (written while it was away, or before the mirror existed)."""
        import json

        have = self.last_seq()
        missing: list[tuple[int, bytes]] = []
        for line in data.split(b"\n"):
            if not line:
                continue
            try:
                seq = json.loads(line).get("seq")
            except (ValueError, AttributeError):
                continue
            if isinstance(seq, int) and seq > have:
                missing.append((seq, line))
        self.put(missing)
        return len(missing)
