"""The batch summary on a fleet: each station's keys beside each operator's. Two stations (two
real engines, virtual keys, one fake tenant) share one real PostgreSQL database; station B's
first registration is refused (an orphan: a key needing a reset) and its user gets another key.
Either station's summary names both stations with the counts their results say; a shift report
names the station it was worked at."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from kiosk.enroll.events import EnrollmentResult
from kiosk.entra.fake.server import FakeTenant
from kiosk.model.steps import Step
from kiosk.store.station_counts import StationCounts
from kiosk.tui.state import BatchState
from kiosk.tui.widgets.batch_picture import BatchPicture
from tests.fixtures.engine import EngineRig
from tests.fixtures.engine_build import build_settings
from tests.fixtures.postgres import Backend
from tests.fixtures.tui import screen_text

pytestmark = [pytest.mark.slow, pytest.mark.fleet]


@pytest.fixture
def stations(
    fake_tenant: FakeTenant, helpdesk: tuple[Path, Path], tmp_path: Path, pg_backend: Backend
) -> Iterator[dict[str, EngineRig]]:
    assert pg_backend.server is not None
    rigs: dict[str, EngineRig] = {}
    for name in ("A", "B"):
        settings = build_settings(fake_tenant, tmp_path / name, helpdesk[0], reset="automatic")
        store = dataclasses.replace(
            settings.store, url=str(pg_backend.target), station=name,
            password_file=str(pg_backend.server.password_file),
        )
        rigs[name] = EngineRig(
            fake_tenant, dataclasses.replace(settings, store=store), operator=None
        )
        rigs[name].engine.set_operator(f"Op {name}")
    yield rigs
    for rig in rigs.values():
        rig.stop()
        rig.store.close()
        rig.audit.close()


def _run(rig: EngineRig, users: int, results: int) -> list[EnrollmentResult]:
    rig.add_users(users, prefix=f"st{rig.settings.store.station.lower()}")
    rig.robot(iter(rig.key, None))
    rig.start()
    done = rig.wait_results(results, timeout=120)
    rig.stop()
    return done


class _Picture(App[None]):
    def compose(self) -> ComposeResult:
        yield BatchPicture(id="pictures")


def test_each_station_has_its_keys_in_the_summary(stations: dict[str, EngineRig]) -> None:
    a, b = stations["A"], stations["B"]
    _run(a, 2, 2)
    a.tenant.faults.schedule("403", "register", 3)  # station B's first registration
    _run(b, 2, 2)
    by_station = {
        name: Counter(r.status for r in rig.of(EnrollmentResult))
        for name, rig in stations.items()
    }
    assert by_station == {"A": Counter({Step.DONE: 2}), "B": Counter({Step.DONE: 2})}
    orphans = b.store.db.query("SELECT station FROM enrollments WHERE state = 'orphan'")
    assert [str(r[0]) for r in orphans] == ["B"]
    expected = [StationCounts("A", done=2), StationCounts("B", done=2, needing_reset=1)]
    assert a.engine.stations() == b.engine.stations() == expected

    async def draw() -> str:
        app = _Picture()
        async with app.run_test(size=(80, 24)) as pilot:
            state = BatchState(clock=lambda: 0.0)
            app.query_one(BatchPicture).show(
                state, a.engine.counts(), a.engine.shifts(), a.engine.stations()
            )
            await pilot.pause()
            return screen_text(app)

    text = asyncio.run(draw())
    assert "By station" in text
    assert "A: 2 done, 0 failed" in text and "B: 2 done, 0 failed, 1 needs a reset" in text
    assert "Op A: 2 done, 0 failed" in text  # this station's operators, from its own trail
    assert "4 of 4 finished" in text
    # Each station's shift report names the station (each keeps its own trail).
    report = b.engine.set_operator(None)
    assert report is not None and report.station == "B" and report.operator == "Op B"
    assert report.enrolled == 2 and len(report.keys_needing_reset) == 1
    assert "Station:  B" in report.lines()
    (json_path,) = Path(b.settings.store.manifest_directory).glob("shift-*.json")
    assert json.loads(json_path.read_text(encoding="utf-8"))["station"] == "B"
