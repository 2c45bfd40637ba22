"""Each station's keys on a fleet, from the shared journal: enrolled (done), failed attempts
and keys left holding a credential Entra does not know (orphans: they need a reset). The batch
summary draws them beside each operator's keys; `kiosk fleet status` is the live view. A
station's name is cleaned here, where it leaves the shared database."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.model.text import STATION_NAME_MAX, clean
from kiosk.store.db import Database


@dataclass(frozen=True)
class StationCounts:
    name: str
    done: int = 0
    failed: int = 0
    needing_reset: int = 0


def station_counts(db: Database) -> list[StationCounts]:
    """Every station that journaled an attempt, by name."""
    by_station: dict[str, dict[str, int]] = {}
    for row in db.query(
        "SELECT station, state, COUNT(*) FROM enrollments WHERE station IS NOT NULL"
        " GROUP BY station, state"
    ):
        by_station.setdefault(str(row[0]), {})[str(row[1])] = int(row[2])
    return [
        StationCounts(
            clean(name, STATION_NAME_MAX), s.get("done", 0), s.get("failed", 0),
            s.get("orphan", 0),
        )
        for name, s in sorted(by_station.items())
    ]
