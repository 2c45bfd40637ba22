"""Claims: stations sharing one queue never take the same user (both backends; the race test
runs many stations at once on PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.errors import KioskError
from kiosk.model.keys import CreatedCredential, KeyInfo
from kiosk.store import ClaimLost, Store
from kiosk.store.queue import NewUser, QueueEntry
from tests.fixtures.postgres import Backend


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def users(n: int) -> list[NewUser]:
    return [NewUser(f"u{i:03d}@contoso.test", f"id-{i:03d}", f"U {i}") for i in range(n)]


def two(backend: Backend, clock: Clock | None = None) -> tuple[Store, Store]:
    kw = {"clock": clock} if clock else {}
    a = backend.open(station="A", lease_seconds=60, **kw)
    b = backend.open(station="B", lease_seconds=60, **kw)
    return a, b


def credential_made(store: Store, entry: QueueEntry, serial: str) -> int:
    """An attempt at ``store``'s station that has journaled its key and credential."""
    attempt = store.journal.start(entry.entry_id, entry.user_id, entry.upn, "op")
    store.journal.key(attempt, KeyInfo(path="v", aaguid="aa", model="m", firmware="5",
                                       serial=serial, versions=("FIDO_2_1",)))
    store.journal.credential(
        attempt, CreatedCredential(serial.encode().ljust(16, b"\0"), b"{}", b"\xa0", "aa",
                                   "packed"),
        challenge_expires=datetime(2030, 1, 1, tzinfo=UTC), display_name="k", escrow_file=None,
    )
    return attempt


def test_two_stations_hold_different_users_and_cannot_start_each_others(
    backend: Backend,
) -> None:
    a, b = two(backend)
    a.queue.add(users(10))
    mine = [e.upn for e in a.queue.upcoming(3)]
    theirs = [e.upn for e in b.queue.upcoming(3)]
    assert mine == ["u000@contoso.test", "u001@contoso.test", "u002@contoso.test"]
    assert theirs == ["u003@contoso.test", "u004@contoso.test", "u005@contoso.test"]
    entry = a.queue.upcoming(1)[0]
    with pytest.raises(ClaimLost):
        b.journal.start(entry.entry_id, entry.user_id, entry.upn, "op-b")
    assert b.journal.for_entry(entry.entry_id) == []  # nothing written
    # An operator at B picking A's user does not get it; B keeps its own order.
    assert [e.upn for e in b.queue.upcoming(1, first=entry.entry_id)] == [theirs[0]]
    assert a.journal.start(entry.entry_id, entry.user_id, entry.upn, "op-a") > 0


def test_an_unstarted_claim_returns_to_the_queue_when_its_lease_runs_out(
    backend: Backend,
) -> None:
    clock = Clock()
    a, b = two(backend, clock)
    a.queue.add(users(4))
    held = a.queue.upcoming(2)
    started = held[0]
    a.journal.start(started.entry_id, started.user_id, started.upn, "op-a")
    clock.now += timedelta(seconds=61)  # A stopped renewing (it crashed, or lost the network)
    taken = [e.upn for e in b.queue.upcoming(3)]
    assert held[1].upn in taken  # the unstarted one came back
    assert started.upn not in taken  # the started one stays with A: its key is there
    assert b.queue.set_status(started.entry_id, "skipped", "by B") is False
    assert a.queue.get(started.entry_id).status == "active"  # type: ignore[union-attr]
    with pytest.raises(ClaimLost):  # A came back late: B has that user now
        a.journal.start(held[1].entry_id, held[1].user_id, held[1].upn, "op-a")
    # A restarts: its own started user is its own again, and no one else's.
    assert a.queue.release_active() == 1
    assert [e.upn for e in a.queue.upcoming(1)] == [started.upn]
    assert started.upn not in [e.upn for e in b.queue.upcoming(4)]


def test_skip_and_requeue_work_across_stations(backend: Backend) -> None:
    a, b = two(backend)
    a.queue.add(users(3))
    first = a.queue.upcoming(1)[0]
    assert b.queue.set_status(first.entry_id, "skipped", "no key today") is True
    assert first.upn not in [e.upn for e in a.queue.upcoming(3)]
    b.queue.requeue(first.entry_id)  # back to the queue, free for any station
    assert [e.upn for e in b.queue.upcoming(1, first=first.entry_id)] == [first.upn]


def test_an_admin_releases_a_started_user_only_naming_its_key(backend: Backend) -> None:
    a, b = two(backend)
    a.queue.add(users(2))
    entry = a.queue.upcoming(1)[0]
    attempt = a.journal.start(entry.entry_id, entry.user_id, entry.upn, "op-a")
    a.journal.key(attempt, KeyInfo(path="v:1", aaguid="a", model="m", firmware="5",
                                   serial="31400007", versions=("FIDO_2_1",)))
    with pytest.raises(KioskError, match="31400007"):
        b.queue.release(entry.entry_id, None)
    with pytest.raises(KioskError, match="31400007"):
        b.queue.release(entry.entry_id, "31400008")
    assert b.queue.release(entry.entry_id, "31400007") == "A"
    assert a.journal.get(attempt).state == "orphan"  # type: ignore[union-attr]
    assert entry.upn in [e.upn for e in b.queue.upcoming(2)]
    with pytest.raises(KioskError, match="not started"):
        b.queue.release(entry.entry_id, "31400007")


def test_a_release_names_the_holding_station_cleaned(backend: Backend) -> None:
    """A station's name is whatever was written to the database: the release's error, its
    answer (printed by kiosk fleet release) and the reason it records carry it cleaned."""
    hostile = "\x1b]0;owned\x07A\x1b[2J\u202e" + "x" * 500
    a = backend.open(station=hostile, lease_seconds=60)
    b = backend.open(station="B", lease_seconds=60)
    a.queue.add(users(1))
    entry = a.queue.upcoming(1)[0]
    attempt = a.journal.start(entry.entry_id, entry.user_id, entry.upn, "op-a")
    a.journal.key(attempt, KeyInfo(path="v:1", aaguid="a", model="m", firmware="5",
                                   serial="31400007", versions=("FIDO_2_1",)))
    with pytest.raises(KioskError) as refused:
        b.queue.release(entry.entry_id, "31400008")
    held_by = b.queue.release(entry.entry_id, "31400007")
    reason = a.journal.get(attempt).reason  # type: ignore[union-attr]
    for text in (str(refused.value), held_by, reason):
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
        assert "x" * 65 not in text
    assert "owned" in held_by  # still named, as far as it can be shown


@pytest.mark.slow
@pytest.mark.fleet
def test_twelve_stations_racing_start_every_user_exactly_once(pg_backend: Backend) -> None:
    pg_backend.open(station="import").queue.add(users(200))
    starts: Counter[str] = Counter()
    lost = 0
    lock = threading.Lock()
    errors: list[BaseException] = []

    def station(name: str) -> None:
        nonlocal lost
        store = pg_backend.open(station=name)
        try:
            while True:
                entries = store.queue.upcoming(2)
                if not entries:
                    return
                entry = entries[0]
                try:
                    attempt = store.journal.start(entry.entry_id, entry.user_id, entry.upn, name)
                except ClaimLost:
                    with lock:
                        lost += 1
                    continue
                store.journal.complete(attempt)
                with lock:
                    starts[entry.upn] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=station, args=(f"s{i}",)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert len(starts) == 200 and set(starts.values()) == {1}
    assert lost == 0  # claims, not races: no station ever tried a user another one held
    counts = pg_backend.open(station="check").queue.counts()
    assert counts["done"] == 200


def test_a_key_enrolled_or_left_needing_a_reset_at_one_station_is_known_at_another(
    backend: Backend,
) -> None:
    a, b = two(backend)
    a.queue.add(users(2))
    first, second = a.queue.upcoming(2)
    a.inventory.record(serial="31400001", aaguid="aa", model="YubiKey 5", firmware="5.7.1",
                       user_id=first.user_id, upn=first.upn, method_id="m-1")
    owner = b.inventory.get("31400001")
    assert owner is not None and owner.upn == first.upn  # serial reuse is refused at B too
    attempt = credential_made(a, second, "31400002")
    a.journal.finish(attempt, "orphan", "not registered")  # the key must be reset
    busy = b.journal.serial_busy("31400002")
    assert busy is not None and busy.state == "orphan"


def test_a_restarting_station_finds_only_its_own_unfinished_attempts(backend: Backend) -> None:
    a, b = two(backend)
    a.queue.add(users(2))
    mine, theirs = a.queue.upcoming(1)[0], b.queue.upcoming(1)[0]
    a_attempt = a.journal.start(mine.entry_id, mine.user_id, mine.upn, "op-a")
    b.journal.start(theirs.entry_id, theirs.user_id, theirs.upn, "op-b")
    assert [e.id for e in a.journal.open_attempts()] == [a_attempt]  # B's is B's to finish


def test_a_user_another_station_holds_is_named_with_that_station(backend: Backend) -> None:
    clock = Clock()
    a, b = two(backend, clock)
    a.queue.add(users(3))
    claimed, started = a.queue.upcoming(2)
    free = a.queue.find("u002@contoso.test")
    assert free is not None
    a.journal.start(started.entry_id, started.user_id, started.upn, "op-a")
    assert b.queue.held_elsewhere(claimed.entry_id) == "A"  # an operator at B may not pick it
    assert b.queue.held_elsewhere(started.entry_id) == "A"
    assert b.queue.held_elsewhere(free.entry_id) is None
    assert a.queue.held_elsewhere(claimed.entry_id) is None  # A's own
    clock.now += timedelta(seconds=61)  # A's lease ran out: the unstarted one is free again
    assert b.queue.held_elsewhere(claimed.entry_id) is None
    assert b.queue.held_elsewhere(started.entry_id) == "A"  # its key is at A


def test_a_locked_station_gives_back_what_it_had_not_started(backend: Backend) -> None:
    a, b = two(backend)
    a.queue.add(users(3))
    claimed, started = a.queue.upcoming(2)
    a.journal.start(started.entry_id, started.user_id, started.upn, "op-a")
    assert a.queue.upcoming(2, locked=True) == []  # nobody signed in at A
    assert [e.upn for e in b.queue.upcoming(3)] == [claimed.upn, "u002@contoso.test"]
    assert a.queue.get(started.entry_id).status == "active"  # type: ignore[union-attr]
    assert a.queue.held_elsewhere(claimed.entry_id) == "B"


def test_a_user_whose_credential_is_in_flight_is_not_put_back_by_anyone(
    backend: Backend,
) -> None:
    """A restart could not finish the attempt (Graph away): the entry waits as failed, its
    credential journaled at A; putting the user back (U, an import's requeue, a backup key)
    would have another key enrolled while A may still register this one."""
    a, b = two(backend)
    a.queue.add(users(1))
    (entry,) = a.queue.upcoming(1)
    attempt = credential_made(a, entry, "31400003")
    assert a.queue.set_status(entry.entry_id, "failed", "waiting for Microsoft Graph")
    for store in (b, a):
        assert store.queue.requeue(entry.entry_id) is False
        assert store.queue.replacement(entry.upn, entry.user_id) is False
    assert b.queue.get(entry.entry_id).status == "failed"  # type: ignore[union-attr]
    assert b.queue.upcoming(1) == []
    a.journal.finish(attempt, "orphan", "challenge expired")  # A resumed: nothing in flight
    assert b.queue.requeue(entry.entry_id) is True


def test_an_admin_releases_a_user_whose_restart_could_not_finish_naming_its_key(
    backend: Backend,
) -> None:
    a, b = two(backend)
    a.queue.add(users(1))
    (entry,) = a.queue.upcoming(1)
    attempt = credential_made(a, entry, "31400004")
    assert a.queue.set_status(entry.entry_id, "failed", "waiting for Microsoft Graph")
    with pytest.raises(KioskError, match="31400004"):
        b.queue.release(entry.entry_id, None)
    assert b.queue.release(entry.entry_id, "31400004") == "A"  # station A never came back
    assert a.journal.get(attempt).state == "orphan"  # type: ignore[union-attr]
    assert [e.upn for e in b.queue.upcoming(1)] == [entry.upn]
