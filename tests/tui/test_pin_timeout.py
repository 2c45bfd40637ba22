"""A PIN on screen does not wait for a key press forever: it clears after escrow.show_seconds
(60 by default) and whenever the kiosk locks, so nobody who unlocks the kiosk sees it."""

from __future__ import annotations

from typing import Any

from kiosk.demo.operators import DEMO_OPERATOR_PIN
from kiosk.enroll.events import Prompt
from kiosk.tui.screens.handover import HandoverScreen
from kiosk.tui.screens.signin import SignInScreen
from tests.fixtures.tui import (
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


async def _show_pin(pilot: Any, app: Any) -> None:
    await sign_in(pilot)
    await wait_prompt(pilot, Prompt.INSERT_KEY)
    await plug(pilot)
    await wait_prompt(pilot, Prompt.TYPE_PIN)
    await pilot.press(*"13572468", "enter", *"13572468", "enter")
    await wait_prompt(pilot, Prompt.TOUCH_KEY)
    await pilot.press("f3")
    await wait_until(pilot, lambda: isinstance(app.screen, HandoverScreen), "hand-over")
    await wait_for_text(pilot, "1  3  5  7  2  4  6  8")


@run_async
async def test_a_shown_pin_clears_itself_after_sixty_seconds(demo_env: Any) -> None:
    env = demo_env(users=1, escrow_mode="show", pin_source="operator")
    assert env.settings.escrow.show_seconds == 60
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await _show_pin(pilot, app)
        app.clock.advance(30)
        await pilot.pause(1.2)
        assert isinstance(app.screen, HandoverScreen)  # not before its time
        app.clock.advance(31)
        await wait_until(pilot, lambda: not isinstance(app.screen, HandoverScreen), "cleared")
        assert "1  3  5  7  2  4  6  8" not in screen_text(app)
        assert not any(isinstance(s, HandoverScreen) for s in app.screen_stack)


@run_async
async def test_a_lock_clears_the_pin_and_the_next_sign_in_does_not_see_it(demo_env: Any) -> None:
    env = demo_env(users=1, escrow_mode="show", pin_source="operator")
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await _show_pin(pilot, app)
        app.action_lock()
        await wait_until(pilot, lambda: isinstance(app.screen, SignInScreen), "locked")
        assert not any(isinstance(s, HandoverScreen) for s in app.screen_stack)
        await pilot.press("enter", *DEMO_OPERATOR_PIN, "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, SignInScreen), "unlocked")
        await pilot.pause(0.5)
        assert not isinstance(app.screen, HandoverScreen)
        assert "1  3  5  7  2  4  6  8" not in screen_text(app)


@run_async
async def test_the_pin_box_names_the_person_the_upn_and_the_key_after_registration(
    demo_env: Any,
) -> None:
    env = demo_env(users=1, escrow_mode="show", pin_source="operator")
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await _show_pin(pilot, app)
        text = screen_text(app)
        entry = env.engine.queue_page(0, 1)[0]
        assert f"PIN for {entry.display_name} <{entry.upn}>," in text  # the key: next line
        assert app.state.key is not None and f"key {app.state.key.serial}" in text
        # Shown last: the key is registered and recorded (the user is done) before the box.
        assert entry.status == "done"
