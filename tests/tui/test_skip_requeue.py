"""Nobody stuck: a skip asks for its reason, and the reason is in the journal and the trail; a
user put back with U, unless a station is still finishing an enrollment of theirs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kiosk.enroll.events import Prompt
from kiosk.enroll.recovery import WAITING
from kiosk.model.keys import CreatedCredential
from kiosk.store import Store
from kiosk.tui.screens.queue import QueueScreen
from kiosk.tui.screens.skip import SkipReasonScreen
from tests.fixtures import tui
from tests.fixtures.tui import kiosk_app, run_async, sign_in, wait_prompt, wait_until
from tests.tui.test_flows import audit_records

SIZE = (120, 36)


async def ask_to_skip(pilot: Any, app: Any) -> str:
    """The first user at INSERT: press K and wait for the question; their UPN."""
    await sign_in(pilot)
    await wait_prompt(pilot, Prompt.INSERT_KEY)
    upn: str = app.state.upn
    assert upn
    await pilot.press("k")
    await wait_until(pilot, lambda: isinstance(app.screen, SkipReasonScreen), "asked")
    return upn


@run_async
async def test_skip_asks_a_reason_recorded_in_journal_and_trail(demo_env: Any) -> None:
    env = demo_env(users=2)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        upn = await ask_to_skip(pilot, app)
        await pilot.press("escape")  # not skipped after all
        await pilot.pause(0.5)
        assert env.engine.store.queue.find(upn).status != "skipped"
        # A reason from the list and a note.
        await pilot.press("k")
        await wait_until(pilot, lambda: isinstance(app.screen, SkipReasonScreen), "asked")
        await pilot.press("down", "down", "enter", *"back in May", "enter")
        await wait_until(
            pilot, lambda: env.engine.store.queue.find(upn).status == "skipped", "skipped"
        )
        entry = env.engine.store.queue.find(upn)
        assert entry.reason == "skipped by operator: account not ready: back in May"
        audited = [r for r in audit_records(env) if r.get("upn") == upn
                   and r.get("outcome") == "skipped"]
        assert audited and audited[-1]["reason"] == entry.reason


@run_async
async def test_a_skipped_user_is_put_back_from_the_queue_screen(demo_env: Any) -> None:
    env = demo_env(users=2)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        upn = await ask_to_skip(pilot, app)
        await pilot.press("enter", "enter")
        queue = env.engine.store.queue
        await wait_until(pilot, lambda: queue.find(upn).status == "skipped", "skipped")
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, QueueScreen), "queue")
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        await wait_until(pilot, lambda: screen.view.current is not None, "rows")
        assert screen.view.current.upn == upn  # the first row: the skipped user
        await pilot.press("enter")  # not pending: the screen says how to put them back
        await pilot.pause(0.2)
        assert queue.find(upn).status == "skipped"
        await pilot.press("u")
        await wait_until(pilot, lambda: queue.find(upn).status == "pending", "requeued")
        trail = audit_records(env)
        assert any(r["event"] == "entry requeued" and r.get("upn") == upn for r in trail)


@run_async
async def test_a_user_another_station_is_still_finishing_is_not_put_back(demo_env: Any) -> None:
    env = demo_env(users=2)
    other = Store(env.settings.store.path, station="mailroom-2")  # a second kiosk, same queue
    try:
        (entry,) = other.queue.upcoming(1)  # this kiosk is locked: it holds nobody
        attempt = other.journal.start(entry.entry_id, entry.user_id, entry.upn, "op-b")
        other.journal.credential(
            attempt, CreatedCredential(b"\x03" * 16, b"{}", b"\xa0", "aa", "packed"),
            challenge_expires=datetime(2030, 1, 1, tzinfo=UTC), display_name="k",
            escrow_file=None,
        )  # then it restarted without Graph: the enrollment waits to be finished there
        other.queue.set_status(entry.entry_id, "failed", WAITING)
        app = kiosk_app(env)
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            await wait_prompt(pilot, Prompt.INSERT_KEY)
            screen = await tui.queue_row(pilot, entry.upn)
            assert screen.view.current.upn == entry.upn
            await pilot.press("u")
            assert await tui.told_about(pilot, entry.upn) == [
                f"{entry.upn} was not put back in the queue: an interrupted enrollment of "
                "theirs is still being finished, or the entry changed meanwhile."
            ]
            assert other.queue.get(entry.entry_id).status == "failed"  # type: ignore[union-attr]
    finally:
        other.close()
