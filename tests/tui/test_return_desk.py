"""The return desk on screen, over the real engine, virtual keys and the fake tenant.

The operator presses T on the enrollment screen, inserts the returned key, reads whose it is
and confirms; every assertion is on what the screen, the tenant and the inventory now hold.
The test's hands put the very key that was enrolled back into the port (``env.port.plug``).
"""

from __future__ import annotations

from typing import Any

from kiosk.demo.operators import DEMO_ADMIN_PIN
from kiosk.enroll.events import Prompt
from kiosk.tui.screens.enroll import EnrollScreen
from kiosk.tui.screens.returns import ReturnScreen
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


async def enroll_and_keep(pilot: Any, env: Any, profile: str = "yubikey5") -> Any:
    """Enroll the first queued user's key and pull it; the key (for the return) back."""
    await wait_prompt(pilot, Prompt.INSERT_KEY)
    await plug(pilot, profile)
    await wait_prompt(pilot, Prompt.TOUCH_KEY)
    await pilot.press("f3")
    await wait_prompt(pilot, Prompt.REMOVE_KEY)
    key = env.port.keys[-1]
    await pilot.press("f4")
    await wait_until(pilot, lambda: env.engine.counts()["done"] >= 1, "enrolled")
    return key


async def return_enrolled_key(pilot: Any, env: Any, upn: str) -> tuple[Any, str]:
    """Sign in, enroll the first user, open the desk and insert that key: (key, serial)."""
    await sign_in(pilot)
    key = await enroll_and_keep(pilot, env)
    (serial,) = [e.serial for e in env.kiosk.store.inventory.all()]
    await open_desk(pilot)
    env.port.plug(key)
    await wait_for_text(pilot, f"<{upn}>")
    return key, serial


async def open_desk(pilot: Any) -> None:
    await pilot.press("t")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ReturnScreen), "return desk")
    await wait_for_text(pilot, "Insert the returned key")


@run_async
async def test_returned_key_is_shown_then_taken_back_into_stock(demo_env: Any) -> None:
    env = demo_env(users=2)
    first, second = env.engine.queue_page(0, 2)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        key, serial = await return_enrolled_key(pilot, env, first.upn)
        text = screen_text(app)
        assert first.display_name in text and f"serial {serial}" in text
        assert "Entra method:" in text and "State: enrolled" in text
        # The engine holds: the returned key is not taken for the next user.
        assert app.state.prompt is Prompt.IDLE
        assert env.tenant.state.methods_of(second.upn) == []
        await pilot.press("y")
        await wait_for_text(pilot, "to confirm the reset")
        await pilot.press("f3")
        await wait_for_text(pilot, f"Key {serial} reset and checked clean: in stock.")
        assert env.tenant.state.methods_of(first.upn) == []
        assert env.kiosk.store.inventory.get(serial).state == "in_stock"
        assert key.authenticator.credential_count == 0 and not key.authenticator.pin_set
        # Leaving the desk with the key still in: the engine does not take it.
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, EnrollScreen), "enroll screen")
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await pilot.pause(0.3)
        assert app.state.prompt in (Prompt.INSERT_KEY,)  # still waiting for a key
        assert env.tenant.state.methods_of(second.upn) == []
        # Pulled and inserted again, the stocked key is enrolled for the next user.
        await pilot.press("f4")
        await pilot.pause(0.2)
        env.port.plug(key)
        await wait_prompt(pilot, Prompt.TOUCH_KEY)
        await pilot.press("f3")
        await wait_until(pilot, lambda: env.engine.counts()["done"] == 2, "second enrolled")
    assert len(env.tenant.state.methods_of(second.upn)) == 1
    assert env.kiosk.store.inventory.get(serial).upn == second.upn


@run_async
async def test_return_outside_the_reset_window_asks_for_the_key_again(demo_env: Any) -> None:
    env = demo_env(users=1, reset_window_seconds=0.0)
    (first,) = env.engine.queue_page(0, 1)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        key, serial = await return_enrolled_key(pilot, env, first.upn)
        await pilot.press("b")  # broken: retired once clean
        await wait_for_text(pilot, f"Key {serial} is out: insert it again now")
        assert env.tenant.state.methods_of(first.upn) == []  # deleted before the reset
        await pilot.press("f4")
        await pilot.pause(0.2)
        await pilot.press("f2")  # the demo's hands: the key just pulled, again
        await wait_for_text(pilot, f"the key just pulled, again: {serial}")
        await pilot.press("0")
        await wait_for_text(pilot, "to confirm the reset")
        await pilot.press("f3")
        await wait_for_text(pilot, f"Key {serial} reset and checked clean: retired.")
    entry = env.kiosk.store.inventory.get(serial)
    assert entry.state == "retired" and "broken" in entry.reason
    assert key.authenticator.credential_count == 0


@run_async
async def test_method_deleted_by_its_owner_goes_back_to_stock_noted(demo_env: Any) -> None:
    env = demo_env(users=1)
    (first,) = env.engine.queue_page(0, 1)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        key = await enroll_and_keep(pilot, env)
        (method,) = env.tenant.state.methods_of(first.upn)
        env.tenant.state.delete_method(method.user_id, method.id)
        deletes = len(env.kiosk.store.inventory.deletions(state="deleted"))
        await open_desk(pilot)
        env.port.plug(key)
        await wait_for_text(pilot, "the owner's method was already deleted")
        await pilot.press("y")
        await wait_for_text(pilot, "to confirm the reset")
        await pilot.press("f3")
        await wait_for_text(pilot, "in stock. Note: the owner's method was already deleted")
    (entry,) = env.kiosk.store.inventory.all()
    assert entry.state == "in_stock"
    assert len(env.kiosk.store.inventory.deletions(state="deleted")) == deletes


@run_async
async def test_unknown_key_needs_an_admin_to_go_into_stock(demo_env: Any) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await open_desk(pilot)
        await plug(pilot, "used")  # a key from elsewhere, holding a PIN and a credential
        await wait_for_text(pilot, "Not in the inventory")
        key = env.port.keys[-1]
        await pilot.press("y")  # the operator alone cannot take it back
        await pilot.pause(0.2)
        assert env.kiosk.store.inventory.count() == 0
        await pilot.press("u")
        await wait_for_text(pilot, "Admin PIN")
        await pilot.press(*DEMO_ADMIN_PIN, "enter")
        await wait_for_text(pilot, "to confirm the reset")
        await pilot.press("f3")
        await wait_for_text(pilot, "reset: in stock.")
        # Nobody was enrolled while the desk was open.
        assert env.engine.counts()["done"] == 0
    (entry,) = env.kiosk.store.inventory.all()
    assert entry.state == "in_stock" and entry.serial == str(key.profile.serial)
    assert key.authenticator.credential_count == 0 and not key.authenticator.pin_set


@run_async
async def test_return_key_is_in_the_footer_at_80_columns(demo_env: Any) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        footer = screen_text(app).splitlines()[-1]
        assert "t Return" in footer, footer
        await pilot.press("t")
        await wait_for_text(pilot, "Insert the returned key")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, EnrollScreen), "enroll screen")


@run_async
async def test_key_pulled_during_the_return_resumes_without_a_second_delete(
    demo_env: Any,
) -> None:
    env = demo_env(users=1)
    (first,) = env.engine.queue_page(0, 1)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        key, serial = await return_enrolled_key(pilot, env, first.upn)
        await pilot.press("y")
        await wait_for_text(pilot, "to confirm the reset")
        await pilot.press("f4")  # pulled while it waits for the touch
        await wait_for_text(pilot, "Insert the returned key")
        assert "✘" in screen_text(app)
        assert env.tenant.state.methods_of(first.upn) == []
        assert env.kiosk.store.inventory.get(serial).state == "needs_reset"
        assert key.authenticator.credential_count == 1  # not reset: never marked in stock
        env.port.plug(key)
        await wait_for_text(pilot, "State: needs reset")
        await pilot.press("y")
        await wait_for_text(pilot, "to confirm the reset")
        await pilot.press("f3")
        await wait_for_text(pilot, f"Key {serial} reset and checked clean: in stock.")
    assert env.kiosk.store.inventory.get(serial).state == "in_stock"
    deletions = env.kiosk.store.inventory.deletions()
    assert [d.state for d in deletions] == ["deleted"]
    assert key.authenticator.credential_count == 0


@run_async
async def test_the_idle_lock_closes_the_desk_and_enrollment_goes_on_after_sign_in(
    demo_env: Any,
) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await open_desk(pilot)
        assert env.engine.station.desk.asked.is_set()
        app.action_lock()  # what the idle lock does
        await wait_for_text(pilot, "Choose your name")
        assert not any(isinstance(s, ReturnScreen) for s in app.screen_stack)
        assert not env.engine.station.desk.asked.is_set()
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await plug(pilot, "yubikey5")
        await wait_prompt(pilot, Prompt.TOUCH_KEY)
        await pilot.press("f3")
        await wait_until(pilot, lambda: env.engine.counts()["done"] == 1, "enrolled")


@run_async
async def test_a_key_without_a_serial_is_known_at_the_desk_by_its_credential(
    demo_env: Any,
) -> None:
    """A CTAP 2.0 key reports no serial: the desk still names its owner (the key says, asked
    silently, which of the kiosk's credentials it holds) and takes it back into stock."""
    env = demo_env(users=2, pin_policy="optional")
    first, second = env.engine.queue_page(0, 2)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        key = await enroll_and_keep(pilot, env, "ctap20")
        assert key.profile.serial is None
        (tracked,) = env.kiosk.store.inventory.all()
        assert tracked.upn == first.upn and tracked.serial.startswith("no serial ")
        await open_desk(pilot)
        env.port.plug(key)
        await wait_for_text(pilot, f"<{first.upn}>")
        text = screen_text(app)
        assert "no serial" in text and "known by the credential" in text
        assert "Not in the inventory" not in text and "State: enrolled" in text
        await pilot.press("y")
        await wait_for_text(pilot, "to confirm the reset")
        await pilot.press("f3")
        await wait_for_text(pilot, "reset and checked clean: in stock.")
    assert env.tenant.state.methods_of(first.upn) == []
    assert env.kiosk.store.inventory.get(tracked.serial).state == "in_stock"
    assert key.authenticator.credential_count == 0 and not key.authenticator.pin_set
    assert env.tenant.state.methods_of(second.upn) == []
