"""Four stations (separate processes, virtual keys, one fake tenant) on one PostgreSQL queue:
every user enrolled exactly once, as the tenant sees it; also with a station killed
mid-enrollment and restarted, and with the database stopped for 10 s mid-batch."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.store import Store
from tests.fixtures.fleet import Fleet
from tests.fixtures.pgserver import PgServer

pytestmark = [pytest.mark.slow, pytest.mark.fleet]
USERS = 200
STATIONS = ("s1", "s2", "s3", "s4")


@pytest.fixture
def fleet(pg_server: PgServer, tmp_path: Path) -> Iterator[Fleet]:
    with Fleet(pg_server, tmp_path, USERS) as f:
        yield f


def _why(store: Store, upn: str) -> dict[str, object]:
    """What the queue and the shared journal say of a user the tenant has no key for: the
    entry, and each attempt's station, step, state and reason (the journal's rows as stored;
    an attempt's station is a column the journal's records do not carry)."""
    entry = store.queue.find(upn)
    if entry is None:
        return {"queue": "not in the queue", "attempts": []}
    columns = ("station", "step", "state", "operator", "reason", "updated")
    rows = store.db.query(
        f"SELECT {', '.join(columns)} FROM enrollments WHERE entry_id = ? ORDER BY id",  # noqa: S608
        (entry.entry_id,),
    )
    return {"queue": entry, "attempts": [{c: r[c] for c in columns} for r in rows]}


def _judge(fleet: Fleet) -> None:
    per_user = fleet.methods_per_user()
    assert len(per_user) == USERS
    twice = {u: n for u, n in per_user.items() if n > 1}
    missing = [u for u, n in per_user.items() if n == 0]
    store = fleet.store()
    try:
        why = {u: _why(store, u) for u in missing}
    finally:
        store.close()
    assert twice == {} and missing == [], (twice, why, fleet.results)
    assert fleet.done() == USERS


def test_four_stations_enroll_every_user_exactly_once(fleet: Fleet) -> None:
    for i, name in enumerate(STATIONS):
        fleet.start(name, i)
    fleet.wait(timeout=900)
    _judge(fleet)
    assert all(r["done"] for r in fleet.results)  # every station did its share
    assert sum(int(r["done"]) for r in fleet.results) == USERS  # type: ignore[call-overload]


def test_a_station_killed_mid_enrollment_resumes_its_own_user(fleet: Fleet) -> None:
    for i, name in enumerate(STATIONS):
        fleet.start(name, i)
    fleet.wait_done(USERS // 4, timeout=600)
    store = fleet.store()
    deadline = time.monotonic() + 60
    while not store.db.query(
        "SELECT id FROM enrollments WHERE station = 's2' AND state = 'open'"
        " AND credential_id IS NOT NULL"
    ):
        assert time.monotonic() < deadline, "s2 never started a user"
        time.sleep(0.01)
    fleet.kill("s2")  # SIGKILL, in the middle of an enrollment
    store.close()
    time.sleep(1.0)
    fleet.start("s2", 1)
    fleet.wait(timeout=900)
    _judge(fleet)


def test_the_database_stopped_for_ten_seconds_mid_batch(
    fleet: Fleet, pg_server: PgServer
) -> None:
    for i, name in enumerate(STATIONS):
        fleet.start(name, i)
    fleet.wait_done(USERS // 4, timeout=600)
    pg_server.stop("fast")
    time.sleep(10)
    pg_server.start()
    fleet.wait(timeout=900)
    _judge(fleet)
