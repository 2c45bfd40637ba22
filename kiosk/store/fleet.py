"""The line as a whole: each station (online, operator, current user, keys in the last hour),
the queue left and the time to finish at the current rate. Read from the shared database,
where any station writes: every name is cleaned here (:func:`kiosk.model.text.clean`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kiosk.model.text import STATION_NAME_MAX, clean
from kiosk.store.claims import HEARTBEAT_SECONDS
from kiosk.store.db import Database

OFFLINE_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS


@dataclass(frozen=True)
class StationStatus:
    name: str
    online: bool
    seen: str
    operator: str | None
    """Enrolling the current user, else signed in, else the last one who enrolled here."""
    current_upn: str | None
    keys_last_hour: int


@dataclass(frozen=True)
class FleetStatus:
    stations: tuple[StationStatus, ...]
    left: int
    """Users pending or being enrolled."""
    keys_last_hour: int
    finish_in: timedelta | None
    """At the last hour's rate (None: no key in the last hour)."""


def fleet_status(db: Database, now: datetime) -> FleetStatus:
    hour_ago = db.now_of(now - timedelta(hours=1))
    offline = db.now_of(now - timedelta(seconds=OFFLINE_AFTER_SECONDS))
    keys = {
        str(r[0]): int(r[1])
        for r in db.query(
            "SELECT station, COUNT(*) FROM enrollments WHERE state = 'done' AND updated >= ?"
            " AND station IS NOT NULL GROUP BY station",
            (hour_ago,),
        )
    }
    current = {
        str(r["station"]): (r["upn"], r["operator"])
        for r in db.query(
            "SELECT station, upn, operator FROM enrollments WHERE state = 'open'"
            " AND station IS NOT NULL ORDER BY id"
        )
    }
    last_operator = {
        str(r[0]): r[1]
        for r in db.query(
            "SELECT station, operator FROM enrollments WHERE station IS NOT NULL ORDER BY id"
        )
    }
    stations = tuple(
        StationStatus(
            name=clean(r["name"], STATION_NAME_MAX),
            online=str(r["seen"]) >= offline,
            seen=clean(r["seen"]),
            operator=_cleaned(current.get(str(r["name"]), (None, None))[1]
                              or r["operator"] or last_operator.get(str(r["name"]))),
            current_upn=_cleaned(current.get(str(r["name"]), (None, None))[0]),
            keys_last_hour=keys.get(str(r["name"]), 0),
        )
        for r in db.query("SELECT name, seen, operator FROM stations ORDER BY name")
    )
    left = int(db.query(
        "SELECT COUNT(*) FROM queue WHERE status IN ('pending', 'active')"
    )[0][0])
    rate = sum(keys.values())
    finish = timedelta(hours=left / rate) if rate else None
    return FleetStatus(stations, left, rate, finish)


def _cleaned(text: object) -> str | None:
    return None if text is None else clean(text)


def status_lines(st: FleetStatus) -> list[str]:
    """The status as a person reads it (`kiosk fleet status`, the admin screen)."""
    lines = [
        f"{s.name:<20} {'online ' if s.online else 'OFFLINE'} operator {s.operator or '-':<16} "
        f"now {s.current_upn or '-':<32} keys/h {s.keys_last_hour}"
        for s in st.stations
    ]
    eta = "unknown (no key in the last hour)" if st.finish_in is None else (
        f"{st.finish_in.total_seconds() / 3600:.1f} h at {st.keys_last_hour} keys/h"
    )
    return [*lines, f"users left: {st.left}; time to finish: {eta}"]
