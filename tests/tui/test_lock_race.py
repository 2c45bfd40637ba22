"""The lock and enrollment screens taken down (or drawn to) before they have composed.

Under load the idle lock can push the lock screen just as the app exits or the screen is
popped again; its on_mount then ran over a screen with no children and raised NoMatches,
which ends the kiosk. The enrollment screen is drawn to by the engine before it is pushed.
"""

from __future__ import annotations

from typing import Any

from kiosk.tui.screens.signin import SignInScreen
from tests.fixtures.tui import kiosk_app, run_async, sign_in, wait_for_text, wait_until

SIZE = (120, 36)


@run_async
async def test_lock_screen_popped_before_it_mounts_crashes_nothing(demo_env: Any) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_until(pilot, lambda: app.operator is not None, "signed in")
        for _ in range(3):
            app.action_lock()  # pushes the lock screen; it has not composed yet
            locked = app.screen
            assert isinstance(locked, SignInScreen)
            # Taken down at once, as the app's exit does: its children go before its Mount.
            await locked.remove_children()
            app.pop_screen()
            app.operator = "Dana"
        await pilot.pause(0.3)
        assert app._exception is None and app.is_running


@run_async
async def test_idle_lock_then_exit_crashes_nothing(demo_env: Any) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_until(pilot, lambda: app.operator is not None, "signed in")
        app.clock.advance(env.settings.kiosk.idle_lock_minutes * 60 + 1)
        app.check_idle_lock()
        assert isinstance(app.screen, SignInScreen)
        # The test (or the service) ends right now, before the lock screen has mounted.
    assert app._exception is None


@run_async
async def test_enrollment_screen_drawn_while_half_built_crashes_nothing(demo_env: Any) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_for_text(pilot, "FIDO2 ENROLLMENT")
        screen = app.enroll_screen
        # As while it composes or is taken down: some children there, #banner not (yet).
        await screen.query_one("#banner").remove()
        app.redraw()  # the engine telling a state change
        await pilot.pause(0.2)
        assert screen.children and app._exception is None
