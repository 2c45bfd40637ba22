"""Key sign-in (F5) with more than one key in the port: ONLY ONE KEY AT A TIME, with the
serials, and the sign-in goes on with the key left in; it never asks a key it did not pick."""

from __future__ import annotations

from typing import Any

from kiosk.demo.operators import DEMO_KEY_PIN, DEMO_OPERATOR
from kiosk.tui.screens.signin import SignInScreen
from tests.fixtures.tui import kiosk_app, plug, run_async, screen_text, wait_for_text, wait_until

SIZE = (120, 36)


def serials(env: Any) -> list[str]:
    return [str(key.profile.serial) for key in env.port.keys]


async def blinking(pilot: Any, env: Any) -> None:
    await wait_until(
        pilot, lambda: any(k.waiting_for_touch for k in env.port.keys), "the key blinks"
    )


@run_async
async def test_two_keys_at_f5_are_named_and_the_sign_in_goes_on_with_the_one_left(
    demo_env: Any,
) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_text(pilot, "Choose your name")
        await plug(pilot, "operator")
        await plug(pilot, "yubikey5")
        await wait_until(pilot, lambda: len(env.port.keys) == 2, "two keys in")
        await pilot.press("enter", *DEMO_KEY_PIN, "f5")
        await wait_for_text(pilot, "ONLY ONE KEY AT A TIME")
        text = screen_text(app)
        for serial in serials(env):
            assert serial in text
        # Neither key is asked anything that needs a touch while both are in.
        await pilot.pause(0.5)
        assert not any(key.waiting_for_touch for key in env.port.keys)
        assert "Touch your key" not in screen_text(app) and app.operator is None
        await pilot.press("f4")  # the stranger's key, plugged last
        await wait_for_text(pilot, "Touch your key now")
        await blinking(pilot, env)  # a touch before the blink does not count (under load)
        await pilot.press("f3")
        await wait_until(pilot, lambda: not isinstance(app.screen, SignInScreen), "signed in")
        assert app.operator == DEMO_OPERATOR


@run_async
async def test_a_second_key_during_the_touch_stops_it_until_it_is_pulled(demo_env: Any) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_text(pilot, "Choose your name")
        await plug(pilot, "operator")
        await pilot.press("enter", *DEMO_KEY_PIN, "f5")
        await wait_for_text(pilot, "Touch your key now")
        await blinking(pilot, env)
        await plug(pilot, "yubikey5")
        await wait_for_text(pilot, "ONLY ONE KEY AT A TIME")
        for serial in serials(env):
            assert serial in screen_text(app)
        # The touch was stopped: no key blinks, a touch now signs nobody in.
        await wait_until(
            pilot, lambda: not any(k.waiting_for_touch for k in env.port.keys), "blink stopped"
        )
        assert app.operator is None and isinstance(app.screen, SignInScreen)
        await pilot.press("f4")
        await wait_for_text(pilot, "Touch your key now")
        await blinking(pilot, env)  # a touch before the blink does not count (under load)
        await pilot.press("f3")
        await wait_until(pilot, lambda: not isinstance(app.screen, SignInScreen), "signed in")
        assert app.operator == DEMO_OPERATOR
