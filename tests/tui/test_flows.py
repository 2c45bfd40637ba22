"""Complete keyboard flows of the kiosk, over the real engine, virtual keys and the fake tenant.

Only the demo's hands (F2 plug, F3 touch, F4 pull) and the operator's keys are pressed;
every assertion is on what the tenant, the store or the screen now holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fido2.ctap2.base import Ctap2
from fido2.ctap2.pin import ClientPin

from kiosk.config import GraphSettings
from kiosk.demo.operators import DEMO_ADMIN_PIN, DEMO_KEY_PIN, DEMO_OPERATOR, DEMO_OPERATOR_PIN
from kiosk.enroll.events import Prompt
from kiosk.keys.virtual.profiles import YUBIKEY_5_AAGUID
from kiosk.operators.key_sign_in import operator_key_owner
from kiosk.process import ADMIN_EXIT
from kiosk.tui.screens.admin import AdminScreen
from kiosk.tui.screens.error import ConfirmScreen, ErrorScreen
from kiosk.tui.screens.signin import SignInScreen
from tests.fixtures.tui import (
    enroll_one,
    kiosk_app,
    plug,
    reset_question,
    run_async,
    screen_text,
    sign_in,
    touch_reset_then_credential_and_pull,
    wait_for_text,
    wait_prompt,
    wait_until,
)

SIZE = (120, 36)


def audit_records(env: Any) -> list[dict[str, Any]]:
    lines = Path(env.settings.store.audit_path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@run_async
async def test_batch_of_five_users_needs_no_operator_keystroke(demo_env: Any) -> None:
    env = demo_env(users=5, guests="allow")  # the fifth is a guest: this site does not ask
    upns = [row.upn for row in env.engine.queue_page(0, 5)]
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        for _ in upns:
            await enroll_one(pilot)
        await wait_until(pilot, lambda: env.engine.counts()["done"] == 5, "five enrolled")
        await wait_for_text(pilot, "✔ done 5")
        text = screen_text(app)
        assert f"Last: ✔ {upns[-1]} enrolled" in text
    for upn in upns:
        (method,) = env.tenant.state.methods_of(upn)
        assert method.aaguid == str(YUBIKEY_5_AAGUID)
    done = [r for r in audit_records(env) if r.get("event") == "enrolled"]
    assert {r["upn"] for r in done} == set(upns)
    assert all(r.get("operator") == DEMO_OPERATOR for r in done)


@run_async
async def test_key_that_needs_a_reset_is_reset_after_confirmation(demo_env: Any) -> None:
    env = demo_env(users=1)
    (upn,) = [row.upn for row in env.engine.queue_page(0, 1)]
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await reset_question(pilot)
        await wait_for_text(pilot, "already holds a PIN. Reset it?")
        await pilot.press("y")
        await wait_prompt(pilot, Prompt.TOUCH_KEY)
        await touch_reset_then_credential_and_pull(pilot, env)
    assert len(env.tenant.state.methods_of(upn)) == 1


@run_async
async def test_refused_key_is_explained_and_the_next_key_is_enrolled(demo_env: Any) -> None:
    env = demo_env(users=1, pin_policy="required")
    (upn,) = [row.upn for row in env.engine.queue_page(0, 1)]
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await plug(pilot, "ctap20")
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen), "refusal")
        await wait_for_text(pilot, "What to do:")
        text = screen_text(app)
        assert "PIN" in text  # the reason names the missing PIN policy support
        assert env.tenant.state.methods_of(upn) == []
        await pilot.press("f4")
        # No key press needed: the explanation closes once the next key is in.
        await enroll_one(pilot, "yubikey5")
        assert not isinstance(app.screen, ErrorScreen)
        await wait_until(pilot, lambda: env.engine.counts()["done"] == 1, "enrolled")
    (method,) = env.tenant.state.methods_of(upn)
    assert method.aaguid == str(YUBIKEY_5_AAGUID)


@run_async
async def test_reset_outside_the_window_asks_to_reinsert_the_same_key(demo_env: Any) -> None:
    env = demo_env(users=1, reset_window_seconds=0.0)
    (upn,) = [row.upn for row in env.engine.queue_page(0, 1)]
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await reset_question(pilot)
        await pilot.press("y")
        await wait_prompt(pilot, Prompt.REINSERT_KEY)
        await wait_for_text(pilot, "PULL THE KEY AND INSERT IT AGAIN")
        await pilot.press("f4")
        await pilot.pause(0.3)
        await pilot.press("f2")
        await wait_for_text(pilot, "the key just pulled, again: 41000001")
        await pilot.press("0")
        await touch_reset_then_credential_and_pull(pilot, env)
    assert len(env.tenant.state.methods_of(upn)) == 1


@run_async
async def test_pulling_the_key_withdraws_the_reset_question(demo_env: Any) -> None:
    env = demo_env(users=1)
    (upn,) = [row.upn for row in env.engine.queue_page(0, 1)]
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await reset_question(pilot)
        await pilot.press("f4")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "withdrawn")
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await enroll_one(pilot, "yubikey5")
        await wait_until(pilot, lambda: env.engine.counts()["done"] == 1, "enrolled")
    (method,) = env.tenant.state.methods_of(upn)
    assert method.aaguid == str(YUBIKEY_5_AAGUID)


@run_async
async def test_graph_error_is_shown_then_retried_to_success(demo_env: Any) -> None:
    env = demo_env(users=1, graph=GraphSettings(max_retries=0, timeout_seconds=5.0, prefetch=1))
    (upn,) = [row.upn for row in env.engine.queue_page(0, 1)]
    env.tenant.faults.schedule("503", "register", 1, 2, 3, retry_after=None)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await plug(pilot)
        await wait_prompt(pilot, Prompt.TOUCH_KEY)
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen), "error modal")
        await wait_for_text(pilot, "What to do:")
        assert env.tenant.state.methods_of(upn) == []
        await pilot.press("r")
        await wait_prompt(pilot, Prompt.REMOVE_KEY)
        await pilot.press("f4")
        await wait_until(pilot, lambda: env.engine.counts()["done"] == 1, "enrolled")
    statuses = [status for _m, _r, status in env.tenant.routes_called("register")]
    assert statuses == [503, 503, 503, 201]
    assert len(env.tenant.state.methods_of(upn)) == 1


@run_async
async def test_lock_and_unlock_by_key_and_by_idle_timeout(demo_env: Any) -> None:
    env = demo_env(users=2)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        assert env.engine.operator == DEMO_OPERATOR
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, SignInScreen), "lock screen")
        await wait_for_text(pilot, "KIOSK LOCKED")
        await wait_until(pilot, lambda: env.engine.operator is None, "engine told")
        # A key plugged while locked starts nothing.
        await pilot.press("f2", "1")
        await pilot.pause(0.5)
        assert app.state.prompt is not Prompt.TOUCH_KEY
        assert env.engine.counts()["active"] == 0
        await pilot.press("enter", *"9999", "enter")
        await wait_for_text(pilot, "Wrong PIN")
        assert isinstance(app.screen, SignInScreen)
        await pilot.press(*DEMO_OPERATOR_PIN, "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, SignInScreen), "unlocked")
        assert env.engine.operator == DEMO_OPERATOR
        # Idle for longer than kiosk.idle_lock_minutes: the kiosk locks itself.
        app.clock.advance(env.settings.kiosk.idle_lock_minutes * 60 + 1)
        await wait_until(pilot, lambda: isinstance(app.screen, SignInScreen), "idle lock")
        # The lock screen is pushed at once but composes later: wait for it to be drawn, so
        # the test does not end (and tear the app down) while it is still being built.
        await wait_for_text(pilot, "KIOSK LOCKED")
        assert env.engine.operator is None


@run_async
async def test_operator_signs_in_with_their_own_key(demo_env: Any) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_text(pilot, "Choose your name")
        # A key that is not an operator's is refused, and nobody is signed in.
        await plug(pilot, "yubikey5")
        await pilot.press("f5")
        await wait_until(
            pilot,
            lambda: "Touch your key" in screen_text(app) or "belongs to" in screen_text(app),
            "the key answered",
        )
        if "Touch your key" in screen_text(app):
            await pilot.press("f3")
        await wait_for_text(pilot, "belongs to no operator")
        assert app.operator is None and isinstance(app.screen, SignInScreen)
        await pilot.press("f4")
        await pilot.pause(0.2)
        # The demo operator's own key: it needs the key's own PIN (user verification).
        await plug(pilot, "operator")
        await pilot.press("f5")
        await wait_for_text(pilot, "needs the key's own PIN")
        assert app.operator is None
        await pilot.press("enter", *DEMO_KEY_PIN, "f5")  # the key's PIN in the PIN box
        await wait_for_text(pilot, "Touch your key now")
        await pilot.press("f3")
        await wait_until(pilot, lambda: not isinstance(app.screen, SignInScreen), "signed in")
        assert app.operator == DEMO_OPERATOR
        await wait_until(pilot, lambda: env.engine.operator == DEMO_OPERATOR, "engine told")
        # The operator key is still in: the kiosk names it and waits for it to go, and it
        # never gets a PIN or a credential for the user.
        await wait_for_text(pilot, "This is Demo operator's operator key. Remove it.")
        assert env.engine.counts()["done"] == 0
        assert not env.tenant.state.methods_of(env.engine.queue_page(0, 1)[0].upn)
        await pilot.press("escape")
        await pilot.press("f4")
        await enroll_one(pilot)
        await wait_until(pilot, lambda: env.engine.counts()["done"] == 1, "enrolled")
    # The operator key was not reset, got no PIN and still holds only its sign-in credential.
    env.port.plug(env.operator_key)
    device = env.port.open(env.port.list_descriptors()[0])
    try:
        info = Ctap2(device).get_info()
        assert info.options.get("clientPin")  # its own PIN is still set: never reset
        assert ClientPin(Ctap2(device)).get_pin_retries()[0] == 8  # no PIN was tried on it
        assert operator_key_owner(device, env.settings.kiosk.operators) == DEMO_OPERATOR
    finally:
        device.close()


@run_async
async def test_only_the_admin_screen_exits(demo_env: Any) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        for key in ("ctrl+c", "ctrl+q", "ctrl+z", "ctrl+backslash"):
            await pilot.press(key)
            await pilot.pause()
            assert app.is_running and app.return_code is None, key
        await pilot.press("a")
        await wait_for_text(pilot, "Admin PIN")
        await pilot.press(*DEMO_OPERATOR_PIN, "enter")  # the operator PIN is not the admin PIN
        await wait_for_text(pilot, "Wrong admin PIN")
        await pilot.press(*DEMO_ADMIN_PIN, "enter")
        await wait_for_text(pilot, "Admin mode")
        await pilot.press("v")
        await wait_for_text(pilot, "audit trail intact")
        await pilot.press("f")  # a kiosk on its own SQLite file says it has no fleet
        await wait_for_text(pilot, "not part of a fleet")
        # Idle on the admin screen: the lock ends admin rights.
        app.clock.advance(env.settings.kiosk.idle_lock_minutes * 60 + 1)
        await wait_until(pilot, lambda: isinstance(app.screen, SignInScreen), "idle lock")
        await pilot.press("enter", *DEMO_OPERATOR_PIN, "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, SignInScreen), "unlocked")
        assert not any(isinstance(s, AdminScreen) for s in app.screen_stack)
        await pilot.press("a")
        await wait_for_text(pilot, "Admin PIN")
        await pilot.press(*DEMO_ADMIN_PIN, "enter")
        await wait_for_text(pilot, "Admin mode")
        await pilot.press("c")
        await wait_for_text(pilot, "{name = 'Demo admin', role = 'admin', pin_hash = •••••• (set)")
        assert "scrypt$" not in screen_text(app)
        # X asks first: N (or Esc) goes back to the admin screen, Y exits.
        await pilot.press("x")
        await wait_for_text(pilot, "Exit the kiosk?")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen), "back to admin")
        assert app.is_running and app.return_code is None
        await pilot.press("x")
        await wait_for_text(pilot, "Exit the kiosk?")
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == ADMIN_EXIT  # the unit leaves the kiosk stopped after this exit
    events = [(r["event"], r.get("operator")) for r in env.engine.audit.recent()]
    assert ("sign-in failed", "Demo admin") in events  # the operator's PIN, typed as admin's
    assert events.count(("admin screen opened", "Demo admin")) == 2
    assert events[-1] == ("kiosk exited by admin", "Demo admin")
