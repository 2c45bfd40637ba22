"""The admin screen's fleet panel on a real PostgreSQL fleet: F shows each station (online,
operator, current user, keys in the last hour), the users left and the time to finish, and
the panel follows the line by itself, read again in a thread worker, at 80x24."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from kiosk.config import Settings
from kiosk.demo.environment import DemoEnvironment
from kiosk.demo.operators import DEMO_ADMIN_PIN
from kiosk.enroll.events import Prompt
from kiosk.store import Store
from kiosk.tui.widgets.fleet_panel import FleetPanel
from tests.fixtures.pgserver import PgServer
from tests.fixtures.tui import (
    kiosk_app,
    run_async,
    screen_text,
    sign_in,
    wait_for_text,
    wait_prompt,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.fleet]


class FleetDemo(DemoEnvironment):
    """The demo kiosk as station A of a fleet on ``url``."""

    def __init__(self, url: str, password_file: str, **kwargs: Any) -> None:
        self.url, self.password_file = url, password_file
        super().__init__(**kwargs)

    def make_settings(self) -> Settings:
        settings = super().make_settings()
        store = dataclasses.replace(
            settings.store, url=self.url, password_file=self.password_file, station="A"
        )
        return dataclasses.replace(settings, store=store)


def _enroll(store: Store, operator: str) -> None:
    entry = store.queue.upcoming(1)[0]
    store.journal.complete(store.journal.start(entry.entry_id, entry.user_id, entry.upn, operator))


def _row(shown: str, station: str) -> str:
    rows = [line for line in shown.splitlines() if line.strip("│ ").startswith(station + " ")]
    assert rows, f"no row for station {station} in:\n{shown}"
    return rows[0]


@run_async
async def test_the_fleet_panel_shows_every_station_and_follows_the_line(
    pg_server: PgServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FleetPanel, "every", 0.5)
    url = pg_server.new_database()
    env = FleetDemo(url, str(pg_server.password_file), users=6, state_dir=tmp_path / "a",
                    latency="none")
    env.start()
    b = Store(url, station="B", password_file=str(pg_server.password_file))
    try:
        for _ in range(2):
            _enroll(b, "olga")
        busy = b.queue.upcoming(1)[0]
        attempt = b.journal.start(busy.entry_id, busy.user_id, busy.upn, "olga")
        app = kiosk_app(env)
        async with app.run_test(size=(80, 24)) as pilot:
            await sign_in(pilot)
            await wait_prompt(pilot, Prompt.INSERT_KEY)
            await pilot.press("a")
            await wait_for_text(pilot, "Admin PIN")
            await pilot.press(*DEMO_ADMIN_PIN, "enter")
            await wait_for_text(pilot, "Admin mode")
            await pilot.press("f")
            await wait_for_text(pilot, "Users left: 4")  # 6 queued, 2 done at B
            shown = screen_text(app)
            row_b = _row(shown, "B")
            assert "online" in row_b and "olga" in row_b and row_b.rstrip(" │").endswith("2")
            assert busy.upn[:12] in row_b  # the user B is enrolling now
            row_a = _row(shown, "A")  # this station: signed in, waiting for a key
            assert "online" in row_a and "Demo operator" in row_a
            assert "done in about 2 h 00 min at 2 keys/h" in shown  # 4 users at 2 keys/h
            assert all(len(line) <= 80 for line in shown.splitlines())

            # B finishes its user: the panel shows it without a key pressed.
            b.journal.complete(attempt)
            await wait_for_text(pilot, "Users left: 3", timeout=15)
            row_b = _row(screen_text(app), "B")
            assert row_b.rstrip(" │").endswith("3") and busy.upn[:12] not in row_b

            await pilot.press("f")  # hidden again: no more reading
            await wait_until(pilot, lambda: "Users left" not in screen_text(app), "hidden")
    finally:
        b.close()
        env.close()

