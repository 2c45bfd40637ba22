"""The queue: adding users, order, paging with search/status/sort, counts, durability."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.store import Store
from kiosk.store.migrations import LATEST
from kiosk.store.queue import NewUser
from tests.fixtures.postgres import Backend


def users(n: int, start: int = 0) -> list[NewUser]:
    return [
        NewUser(f"user{i:05d}@contoso.test", f"id-{i:05d}", f"User {i:05d}")
        for i in range(start, start + n)
    ]


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open()


def test_new_store_is_wal_at_latest_schema(tmp_path: Path) -> None:
    store = Store(tmp_path / "kiosk.db")
    assert store.db.journal_mode() == "wal"  # type: ignore[attr-defined]
    assert store.db.query("PRAGMA synchronous")[0][0] == 2  # FULL: a commit is on disk
    raw = sqlite3.connect(tmp_path / "kiosk.db")
    assert raw.execute("PRAGMA user_version").fetchone()[0] == LATEST
    raw.close()
    store.close()


def test_add_keeps_order_and_reports_duplicates(store: Store) -> None:
    assert store.queue.add(users(3)) == (3, 0)
    again = [*users(1, start=2), NewUser("USER00001@CONTOSO.TEST", "other", "x")]
    assert store.queue.add([*again, *users(1, start=3)]) == (1, 2)
    rows = store.queue.page(0, 10)
    assert [r.upn for r in rows] == [f"user{i:05d}@contoso.test" for i in range(4)]
    assert all(r.status == "pending" and r.keys_wanted == 1 for r in rows)


def test_upcoming_prefers_selected_then_position(store: Store) -> None:
    store.queue.add(users(5))
    ids = [r.entry_id for r in store.queue.page(0, 5)]
    assert [e.entry_id for e in store.queue.upcoming(2)] == ids[:2]
    assert [e.entry_id for e in store.queue.upcoming(3, first=ids[3])] == [ids[3], ids[0], ids[1]]
    store.queue.set_status(ids[0], "done")
    assert store.queue.upcoming(1)[0].entry_id == ids[1]


def test_backup_keys_entry_is_done_only_after_all_keys(store: Store) -> None:
    store.queue.add(users(1), keys_wanted=2)
    (entry,) = store.queue.upcoming(1)
    assert store.queue.key_done(entry.entry_id).status == "pending"
    done = store.queue.key_done(entry.entry_id)
    assert (done.status, done.keys_done) == ("done", 2)


def test_page_search_status_sort_and_counts(backend: Backend) -> None:
    ticks = iter(range(1_000_000))
    store = backend.open(
        clock=lambda: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=next(ticks)),
    )
    store.queue.add(users(30))
    store.queue.add([NewUser("ann_o%brien@contoso.test", "id-ann", "Ann O'Brien")])
    first = store.queue.page(0, 3)
    store.queue.set_status(first[1].entry_id, "failed", "blocked key")
    assert store.queue.size() == 31
    assert store.queue.size(search="user0001") == 10
    assert store.queue.size(search="o%b") == 1  # % is matched literally, not as a wildcard
    assert store.queue.size(search="brien") == 1  # display name too
    failed = store.queue.page(0, 10, status="failed")
    assert [(r.upn, r.reason) for r in failed] == [(first[1].upn, "blocked key")]
    assert store.queue.page(0, 1, sort="updated")[0].upn == first[1].upn
    assert store.queue.page(29, 5, sort="upn")[-1].upn == "user00029@contoso.test"
    assert store.queue.page(0, 2, sort="upn")[0].upn.startswith("ann")
    assert store.queue.counts() == {
        "pending": 30, "active": 0, "done": 0, "failed": 1, "skipped": 0
    }


def test_requeue_and_release_active(store: Store) -> None:
    store.queue.add(users(2))
    a, b = store.queue.page(0, 2)
    store.queue.set_status(a.entry_id, "skipped", "no key")
    store.queue.set_status(b.entry_id, "active")
    store.queue.requeue(a.entry_id)
    assert store.queue.release_active() == 1
    assert store.queue.counts()["pending"] == 2


def test_queue_survives_reopen(backend: Backend) -> None:
    s = backend.open()
    s.queue.add(users(5), keys_wanted=2, replace=True)
    s.close()
    again = backend.open()
    (entry,) = again.queue.upcoming(1)
    assert (entry.upn, entry.keys_wanted, entry.replace) == ("user00000@contoso.test", 2, True)


def test_50000_users_page_and_reopen_fast(backend: Backend) -> None:
    s = backend.open()
    s.queue.add(users(50_000))
    s.close()
    start = time.monotonic()
    again = backend.open()
    again.queue.release_active()
    assert again.queue.counts()["pending"] == 50_000
    page = again.queue.page(9_980, 20, search="user4", sort="upn")
    assert len(page) == 20
    assert again.queue.upcoming(3)[0].upn == "user00000@contoso.test"
    # Generous bound (shared machine); the real figure is in bench/enroll.py resume_seconds.
    assert time.monotonic() - start < 5.0


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    names=st.lists(st.from_regex(r"[a-c]{1,3}", fullmatch=True), min_size=0, max_size=30),
    failed=st.sets(st.integers(0, 29)),
    search=st.from_regex(r"[a-c]{0,2}", fullmatch=True),
    offset=st.integers(0, 35),
    limit=st.integers(0, 10),
    sort=st.sampled_from(["position", "upn", "status", "updated"]),
)
def test_pages_agree_with_sizes_for_any_queue(
    backend: Backend,
    names: list[str], failed: set[int], search: str, offset: int, limit: int, sort: str
) -> None:
    store = backend.fresh().open()
    store.queue.add(NewUser(f"{n}{i}@x.test", f"id{i}", n) for i, n in enumerate(names))
    rows = store.queue.page(0, 100)
    for i in failed & set(range(len(rows))):
        store.queue.set_status(rows[i].entry_id, "failed", "x")
    for status in (None, "pending", "failed"):
        size = store.queue.size(search=search, status=status)  # type: ignore[arg-type]
        every = store.queue.page(0, 1000, search=search, status=status, sort=sort)  # type: ignore[arg-type]
        assert len(every) == size
        assert all(search in r.upn or search in r.display_name for r in every)
        window = store.queue.page(offset, limit, search=search, status=status, sort=sort)  # type: ignore[arg-type]
        assert window == every[offset : offset + limit]
    store.close()
