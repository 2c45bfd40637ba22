"""The return desk with more than one key in the port: ONLY ONE KEY AT A TIME with the serials
present, at the insert, during the reset's touch and at the re-insert handshake; the desk asks
nothing of the other keys and goes on with the returned key once they are out."""

from __future__ import annotations

from typing import Any

from kiosk.tui.screens.returns import ReturnScreen
from tests.fixtures.tui import (
    kiosk_app,
    run_async,
    screen_text,
    sign_in,
    wait_for_text,
    wait_until,
)
from tests.tui.test_return_desk import SIZE, enroll_and_keep, open_desk, return_enrolled_key


@run_async
async def test_two_keys_at_the_desk_are_named_and_the_returned_one_is_taken_once_alone(
    demo_env: Any,
) -> None:
    env = demo_env(users=1)
    (first,) = env.engine.queue_page(0, 1)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        key = await enroll_and_keep(pilot, env)
        (serial,) = [e.serial for e in env.kiosk.store.inventory.all()]
        await open_desk(pilot)
        # The returned key and another one, a moment apart: whether the desk saw the first
        # alone (and identified it) or both at once, it names both and waits.
        env.port.plug(key)
        stranger = env.plug("yubikey5")
        await wait_for_text(pilot, "ONLY ONE KEY AT A TIME")
        await wait_for_text(pilot, str(stranger.profile.serial))
        assert serial in screen_text(app)
        await pilot.press("y")  # nothing is asked of a key while both are in
        await pilot.pause(0.3)
        assert not any(k.waiting_for_touch for k in env.port.keys)
        env.port.unplug(stranger)
        await wait_until(
            pilot, lambda: "ONLY ONE KEY AT A TIME" not in screen_text(app), "the others out"
        )
        await wait_for_text(pilot, f"<{first.upn}>")
        await pilot.press("y")
        await wait_for_text(pilot, "to confirm the reset")
        await pilot.press("f3")
        await wait_for_text(pilot, f"Key {serial} reset and checked clean: in stock.")
        assert isinstance(app.screen, ReturnScreen)
    assert stranger.authenticator.credential_count == 0


@run_async
async def test_a_second_key_at_the_re_insert_and_during_the_reset_touch_is_named(
    demo_env: Any,
) -> None:
    env = demo_env(users=1, reset_window_seconds=0.0)
    (first,) = env.engine.queue_page(0, 1)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        key, serial = await return_enrolled_key(pilot, env, first.upn)
        await pilot.press("b")  # broken: retired once clean
        await wait_for_text(pilot, f"Key {serial} is out: insert it again now")
        # A second key while the desk waits for the returned one to be pulled and put back.
        stranger = env.plug("yubikey5")
        await wait_for_text(pilot, "ONLY ONE KEY AT A TIME")
        assert str(stranger.profile.serial) in screen_text(app) and serial in screen_text(app)
        env.port.unplug(stranger)
        await wait_for_text(pilot, f"Key {serial} is out: insert it again now")
        env.port.unplug(key)
        await pilot.pause(0.2)
        env.port.plug(key)
        await wait_for_text(pilot, "to confirm the reset")
        # A second key while the returned key blinks for its reset.
        env.port.plug(stranger)
        await wait_for_text(pilot, "ONLY ONE KEY AT A TIME")
        assert str(stranger.profile.serial) in screen_text(app) and serial in screen_text(app)
        env.port.unplug(stranger)
        await wait_for_text(pilot, "to confirm the reset")
        assert "ONLY ONE KEY AT A TIME" not in screen_text(app)
        await pilot.press("f3")
        await wait_for_text(pilot, f"Key {serial} reset and checked clean: retired.")
    assert key.authenticator.credential_count == 0
    assert stranger.authenticator.credential_count == 0
