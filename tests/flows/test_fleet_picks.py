"""Picking a user, and signing out, on a fleet: an operator at station A cannot pick a user
station B holds (B claimed or started them); A is told which station has them and goes on with
its own users, B enrolls that user, once. A pick that B takes before A gets to it is dropped,
not kept waiting behind every later user. A station whose operator signs out gives back the
users it claimed but has not started, at once, so the others enroll them. Two real engines on
one store (SQLite, and a real PostgreSQL server), virtual keys, one fake tenant."""

from __future__ import annotations

from kiosk.model.steps import Step
from tests.fixtures.engine import EngineRig


def _started_at(rig: EngineRig, entry_id: int) -> list[str]:
    rows = rig.store.db.query("SELECT station FROM enrollments WHERE entry_id = ?", (entry_id,))
    return [str(r["station"]) for r in rows]


def test_a_user_held_by_another_station_cannot_be_picked(stations: dict[str, EngineRig]) -> None:
    a, b = stations["A"], stations["B"]
    upns = a.add_users(4, prefix="pick")
    held = b.store.queue.upcoming(1)[0]  # B claimed the first user (its prefetch would)
    assert held.upn == upns[0]
    assert a.engine.select(held.entry_id) == "B"
    assert a.engine.selected is None
    a.robot()
    a.start()
    a.wait_results(3)
    a.stop()
    assert held.entry_id not in {r.entry_id for r in a.wait_results(3)}
    b.robot()
    b.start()
    (result,) = b.wait_results(1)
    b.stop()
    assert (result.upn, result.status) == (held.upn, Step.DONE)
    assert _started_at(a, held.entry_id) == ["B"]
    assert {u: len(a.tenant.state.methods_of(u)) for u in upns} == dict.fromkeys(upns, 1)


def test_a_pick_another_station_took_meanwhile_is_dropped(stations: dict[str, EngineRig]) -> None:
    a, b = stations["A"], stations["B"]
    upns = a.add_users(3, prefix="late")
    last = a.store.queue.find(upns[2])
    assert last is not None
    assert a.engine.select(last.entry_id) is None  # free when the operator picked it
    assert [e.upn for e in b.store.queue.upcoming(1, first=last.entry_id)] == [upns[2]]
    a.robot()
    a.start()
    results = a.wait_results(1)
    a.wait(lambda _: a.engine.selected is None, timeout=10)
    a.stop()
    assert results[0].upn == upns[0]  # A went on with its own next user
    assert _started_at(a, last.entry_id) == []


def test_a_locked_station_holds_no_user_the_others_could_enroll(
    stations: dict[str, EngineRig],
) -> None:
    a, b = stations["A"], stations["B"]
    upns = a.add_users(4, prefix="lock")
    a.robot()
    a.start()
    a.wait_results(1)
    a.engine.set_operator(None)  # the operator at A signs out and leaves; the kiosk runs on
    # A finishes the user whose key is in, if any, and gives back what it had not started.
    a.wait(lambda _: not a.store.queue.claims.held(), timeout=10)
    b.robot()
    b.start()
    b.wait_counts(timeout=30, done=len(upns))  # long before A's 60 s lease would run out
    b.stop()
    at_a, at_b = ({r.upn for r in rig.wait_results(1)} for rig in (a, b))
    assert at_a | at_b == set(upns) and not at_a & at_b and len(at_b) >= 2
    assert {u: len(b.tenant.state.methods_of(u)) for u in upns} == dict.fromkeys(upns, 1)
    beat = b.store.db.query("SELECT operator FROM stations WHERE name = 'A'")
    assert [r["operator"] for r in beat] == [None]  # A is still heard from, locked
    a.stop()
