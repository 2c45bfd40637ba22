"""The fleet database stopped for 10 s in the middle of a batch: the station says "Database
unreachable, retrying" where the operator looks, does no key or Graph step whose journal record
is not committed while it waits (at most the one step already journaled before the stop goes
ahead), and goes on by itself once the server is back; every user is enrolled once, as the
tenant sees it. One real engine over virtual keys, the fake tenant and a real PostgreSQL
server (stopped and started with pg_ctl)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.enroll.events import Event, Prompt, PromptChanged
from kiosk.entra.fake.server import FakeTenant
from kiosk.keys.virtual.device import VirtualKey
from kiosk.model.steps import Step
from tests.fixtures.engine import EngineRig
from tests.fixtures.engine_build import build_settings
from tests.fixtures.pgserver import PgServer
from tests.fixtures.postgres import Backend

pytestmark = [pytest.mark.slow, pytest.mark.fleet]
USERS = 12
UNREACHABLE = "Database unreachable, retrying"


@pytest.fixture
def station(
    fake_tenant: FakeTenant, helpdesk: tuple[Path, Path], tmp_path: Path, pg_backend: Backend
) -> Iterator[EngineRig]:
    assert pg_backend.server is not None
    settings = build_settings(fake_tenant, tmp_path / "A", helpdesk[0])
    store = dataclasses.replace(
        settings.store, url=str(pg_backend.target), station="A",
        password_file=str(pg_backend.server.password_file),
    )
    rig = EngineRig(fake_tenant, dataclasses.replace(settings, store=store))
    yield rig
    rig.stop()
    rig.store.close()
    rig.audit.close()


def _said_unreachable(events: list[Event]) -> bool:
    return any(
        isinstance(e, PromptChanged) and e.prompt is Prompt.WORKING and UNREACHABLE in e.detail
        for e in events
    )


def test_the_database_stopped_mid_batch_is_shown_and_nothing_is_done_unjournaled(
    station: EngineRig, pg_server: PgServer
) -> None:
    rig = station
    upns = rig.add_users(USERS, prefix="outage")
    keys: list[VirtualKey] = []

    def slow_key() -> VirtualKey:  # each touch takes a moment: the batch outlasts the stop
        keys.append(rig.key(auto_touch=0.15))
        return keys[-1]

    rig.robot(iter(slow_key, None))
    rig.start()
    rig.wait(lambda _: len(rig.tenant.state.all_methods()) >= 3, timeout=60)
    pg_server.stop("fast")
    stopped = time.monotonic()
    try:
        registered = len(rig.tenant.routes_called("register"))
        made = sum(k.authenticator.credential_count for k in keys)
        rig.wait(_said_unreachable, timeout=10)
        time.sleep(max(0.0, 10 - (time.monotonic() - stopped)))
        # While the journal cannot be written, no new credential and no new registration,
        # beyond the one step whose record was committed before the server went away.
        assert len(rig.tenant.routes_called("register")) - registered <= 1
        assert sum(k.authenticator.credential_count for k in keys) - made <= 1
    finally:
        pg_server.start()
    results = rig.wait_results(USERS, timeout=120)
    rig.stop()
    assert {r.upn for r in results if r.status is Step.DONE} == set(upns)
    assert {u: len(rig.tenant.state.methods_of(u)) for u in upns} == dict.fromkeys(upns, 1)
    assert rig.store.queue.counts()["done"] == USERS
    said = [i for i, e in enumerate(rig.events) if _said_unreachable([e])]
    later = [e for e in rig.events[said[-1]:] if isinstance(e, PromptChanged)]
    assert any(e.prompt is Prompt.INSERT_KEY for e in later)  # it went on by itself
