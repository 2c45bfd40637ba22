"""Creation options are fetched ahead for the next users and refreshed before they expire
(real Graph client against the fake tenant; only the prefetcher's clock is ours to move)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from kiosk.enroll.prefetch import Prefetcher
from tests.fixtures.engine import EngineRig


def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_prefetch_ahead_refresh_before_expiry_and_fetch_on_demand(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig()
    rig.add_users(3)
    entries = [(e.entry_id, e.user_id) for e in rig.store.queue.upcoming(3)]
    now = [datetime.now(UTC)]
    pre = Prefetcher(
        rig.graph.creation_options,
        lambda n: entries[:n],
        lambda: now[0],
        depth=2,
        refresh_margin=120.0,
        interval=0.02,
    )
    stop = threading.Event()
    pre.start(stop)
    try:
        _until(lambda: pre.ready(entries[0][0]) and pre.ready(entries[1][0]))
        assert not pre.ready(entries[2][0])
        assert pre.fetches == 2
        # 59 minutes later the 60-minute challenges are within the refresh margin.
        now[0] += timedelta(minutes=59)
        _until(lambda: pre.fetches == 4)
        first = pre.take(*entries[0])
        assert not first.expired(now[0], 20.0)
        assert pre.sync_fetches == 0
        # The taken entry is being enrolled: not fetched again; the next one is fetched ahead.
        _until(lambda: pre.ready(entries[2][0]))
        assert not pre.ready(entries[0][0])
        assert pre.take(*entries[2]).user_id == entries[2][1]
        assert (pre.fetches, pre.sync_fetches) == (5, 0)
        # An entry the prefetcher never saw is fetched on the spot.
        assert pre.take(999, entries[1][1]).user_id == entries[1][1]
        assert pre.sync_fetches == 1
    finally:
        stop.set()
        pre.join()
    calls = rig.tenant.routes_called("creation_options")
    assert len(calls) == 6 and {s for _m, _r, s in calls} == {200}
