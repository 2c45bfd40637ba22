"""Behaviour of the queue, summary, hand-over and admin screens over the real engine."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from kiosk.demo.operators import DEMO_ADMIN_PIN
from kiosk.enroll.events import Prompt
from kiosk.enroll.lifecycle import KeyLife
from kiosk.enroll.recorder import Recorder
from kiosk.keys.creation import DEFAULT_RP_ID
from kiosk.keys.session import KeySession
from kiosk.tui.screens.admin import AdminScreen
from kiosk.tui.screens.handover import HandoverScreen
from kiosk.tui.screens.queue import QueueScreen
from kiosk.tui.screens.summary import SummaryScreen
from kiosk.tui.theme import HIGH_CONTRAST
from kiosk.tui.widgets.queue_view import QueueView
from tests.fixtures.tui import (
    enroll_one,
    kiosk_app,
    plug,
    run_async,
    screen_text,
    sign_in,
    wait_for_text,
    wait_prompt,
    wait_until,
)

SIZE = (120, 36)


@run_async
async def test_queue_search_filter_next_pending_and_pick(demo_env: Any) -> None:
    env = demo_env(users=5)
    upns = [row.upn for row in env.engine.queue_page(0, 5)]
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await enroll_one(pilot)
        await wait_until(pilot, lambda: env.engine.counts()["done"] == 1, "first enrolled")
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, QueueScreen), "queue")
        await wait_for_text(pilot, "5 users")
        view = app.screen.query_one(QueueView)
        assert view.current is not None and view.current.upn == upns[0]
        assert f"✔ done    {upns[0]}" in screen_text(app)
        await pilot.press("n")  # jump to the next pending user
        assert view.current is not None and view.current.upn == upns[1]
        await pilot.press("f")  # filter: pending only
        await wait_for_text(pilot, "Showing: pending")
        assert view.total == 4 and upns[0] not in screen_text(app)
        await pilot.press("f", "f")  # active, then done
        await wait_for_text(pilot, "Showing: done")
        assert view.total == 1
        await pilot.press("f", "f", "f")  # failed, skipped, all
        await wait_for_text(pilot, "Showing: all")
        await pilot.press("o")
        await wait_for_text(pilot, "sorted by upn")
        await pilot.press("slash", *upns[3].split("@")[0], "enter")
        await wait_for_text(pilot, "· 1 user")
        assert "1 users" not in screen_text(app)
        assert view.current is not None and view.current.upn == upns[3]
        await pilot.press("enter")  # enroll this one next
        await wait_until(pilot, lambda: not isinstance(app.screen, QueueScreen), "back")
        await wait_until(pilot, lambda: app.state.upn == upns[3], "the picked user is next")
        await enroll_one(pilot)
        await wait_until(pilot, lambda: env.engine.counts()["done"] == 2, "second enrolled")
    assert len(env.tenant.state.methods_of(upns[3])) == 1
    assert env.tenant.state.methods_of(upns[1]) == []


@run_async
async def test_summary_counts_and_manifest_export(demo_env: Any) -> None:
    env = demo_env(users=3)
    queued = env.engine.queue_page(0, 3)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await enroll_one(pilot)
        await wait_until(pilot, lambda: app.state.last_result is not None, "result")
        app.clock.advance(120)  # two minutes for that key: 30 keys per hour
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen), "summary")
        await wait_for_text(pilot, "Keys per hour")
        text = screen_text(app)
        assert "✔ done         1            1" in text
        assert "○ pending      2" in text
        assert "Keys per hour               30" in text
        assert "Time left                   4 min" in text
        await pilot.press("e")
        await wait_for_text(pilot, "Manifest written")
    manifests = list(Path(env.settings.store.manifest_directory).glob("*.csv"))
    assert manifests
    with manifests[0].open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    # Every user of the batch, in queue order, with their state; the person's name and the
    # key's label in columns of their own.
    assert [r["upn"] for r in rows] == [q.upn for q in queued]
    assert [r["status"] for r in rows] == ["enrolled", "pending", "pending"]
    assert [r["name"] for r in rows] == [q.display_name for q in queued]
    assert rows[0]["serial"] == "41000001"
    assert rows[0]["key_label"].endswith("41000001") and rows[0]["key_label"] != rows[0]["name"]
    assert rows[1]["serial"] == rows[1]["key_label"] == ""


@run_async
async def test_pin_is_shown_once_and_cleared_by_a_key_press(demo_env: Any) -> None:
    env = demo_env(users=1, escrow_mode="show", pin_source="operator")
    (upn,) = [row.upn for row in env.engine.queue_page(0, 1)]
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await plug(pilot)
        await wait_prompt(pilot, Prompt.TYPE_PIN)
        await wait_for_text(pilot, "You will type it twice")
        await pilot.press(*"13572468", "enter", *"86427531", "enter")
        await wait_for_text(pilot, "The two PINs differ")
        await pilot.press(*"13572468", "enter", *"13572468", "enter")
        await wait_prompt(pilot, Prompt.TOUCH_KEY)
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, HandoverScreen), "hand-over")
        await wait_for_text(pilot, "1  3  5  7  2  4  6  8")
        await pilot.press("space")
        await wait_until(pilot, lambda: not isinstance(app.screen, HandoverScreen), "cleared")
        assert "1  3  5  7  2  4  6  8" not in screen_text(app)
        assert not any(isinstance(s, HandoverScreen) for s in app.screen_stack)
        await wait_prompt(pilot, Prompt.REMOVE_KEY)
        await pilot.press("f4")
        await wait_until(pilot, lambda: env.engine.counts()["done"] == 1, "enrolled")
    assert len(env.tenant.state.methods_of(upn)) == 1
    audit = Path(env.settings.store.audit_path).read_text(encoding="utf-8")
    assert "13572468" not in audit


@run_async
async def test_admin_imports_a_csv_and_syncs_the_group(demo_env: Any, tmp_path: Path) -> None:
    env = demo_env(users=2)
    env.tenant.state.add_user("new.hire@contoso.onmicrosoft.com", "New Hire")
    path = tmp_path / "users.csv"
    path.write_text(
        "upn\nnew.hire@contoso.onmicrosoft.com\nnobody@contoso.onmicrosoft.com\n",
        encoding="utf-8",
    )
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await pilot.press("a")
        await wait_for_text(pilot, "Admin PIN")
        await pilot.press(*DEMO_ADMIN_PIN, "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen), "admin")
        await pilot.press("i")
        await pilot.press(*str(path), "enter")
        await wait_for_text(pilot, "1 added, 0 already queued, 1 problem")
        assert "1 problems" not in screen_text(app)
        assert "line 3: 'nobody@contoso.onmicrosoft.com'" in screen_text(app)
        await pilot.press("g")
        await pilot.press(*"FIDO2 Rollout", "enter")
        await wait_for_text(pilot, "0 added, 2 already queued")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, AdminScreen), "back")
    assert env.engine.queue_size() == 3


@run_async
async def test_high_contrast_theme_from_the_settings(demo_env: Any) -> None:
    import dataclasses

    env = demo_env(users=1)
    settings = dataclasses.replace(
        env.settings, kiosk=dataclasses.replace(env.settings.kiosk, theme="high-contrast")
    )
    from kiosk.tui.demo import DemoKioskApp

    app = DemoKioskApp(settings, env=env, motion=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_text(pilot, "Choose your name")
        assert app.theme == HIGH_CONTRAST.name
        assert app.current_theme.background == "#000000"


@run_async
async def test_summary_shows_the_keys_reset_into_stock_today(demo_env: Any) -> None:
    env = demo_env(users=1)
    found = env.new_key("yubikey5", auto_touch=0.0)  # a key nobody knew, reset by an admin
    life = KeyLife(env.kiosk.graph, env.kiosk.store,
                   Recorder(env.kiosk.store, env.kiosk.audit, operator="admin"),
                   rp_id=DEFAULT_RP_ID)
    session = KeySession(env.port.open(env.port.plug(found)))
    life.stock_unknown(session, reinsert=lambda: session, reason="found in a drawer")
    env.port.unplug(found)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen), "summary")
        await wait_for_text(pilot, "Keys reset into stock today")
        assert re.search(r"Keys reset into stock today +1\b", screen_text(app))
        assert "Keys retired today" not in screen_text(app)
