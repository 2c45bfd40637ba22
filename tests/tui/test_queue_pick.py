"""Picking a user in the queue during someone else's touch prompt: the kiosk says that user
comes next once the current one is finished, never "insert a key" while the prompt runs."""

from __future__ import annotations

from typing import Any

from kiosk.enroll.events import Prompt
from kiosk.store import Store
from kiosk.tui.screens.queue import QueueScreen
from tests.fixtures.tui import (
    kiosk_app,
    plug,
    queue_row,
    run_async,
    sign_in,
    told_about,
    wait_prompt,
    wait_until,
)

SIZE = (120, 36)


@run_async
async def test_picking_a_user_during_a_touch_prompt_does_not_say_insert_a_key(
    demo_env: Any,
) -> None:
    env = demo_env(users=3)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        current = app.state.upn
        await plug(pilot)
        await wait_prompt(pilot, Prompt.TOUCH_KEY)
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, QueueScreen), "queue")
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        await wait_until(pilot, lambda: screen.view.current is not None, "rows")
        await pilot.press("down", "down")
        chosen = screen.view.current
        assert chosen is not None and chosen.upn != current
        await pilot.press("enter")
        def told() -> list[str]:
            return [n.message for n in app._notifications if "is next" in n.message]

        await wait_until(pilot, lambda: bool(told()), "told")
        assert told() == [f"{chosen.upn} is next once {current} is finished."]
        assert app.state.prompt is Prompt.TOUCH_KEY and app.state.upn == current


@run_async
async def test_picking_a_user_another_station_holds_says_which_station(demo_env: Any) -> None:
    env = demo_env(users=5)
    other = Store(env.settings.store.path, station="mailroom-2")  # a second kiosk, same queue
    try:
        app = kiosk_app(env)
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            await wait_prompt(pilot, Prompt.INSERT_KEY)
            (theirs,) = other.queue.upcoming(1)  # the next user nobody holds yet
            screen = await queue_row(pilot, theirs.upn)
            await pilot.press("enter")
            assert await told_about(pilot, theirs.upn) == [
                f"{theirs.upn} is held by station mailroom-2, which enrolls them; "
                "pick another user."
            ]
            assert app.screen is screen  # still on the queue, to pick another
            assert env.engine.selected is None
    finally:
        other.close()
