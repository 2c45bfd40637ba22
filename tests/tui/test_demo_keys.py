"""The demo's hands at every prompt: F2 puts back any key pulled earlier, listed with its
serial and what it holds, so recovery can be shown (issue 11, item 9)."""

from __future__ import annotations

from typing import Any

from kiosk.enroll.events import Prompt
from kiosk.tui.screens.error import ConfirmScreen
from tests.fixtures.tui import (
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

SIZE = (80, 24)


@run_async
async def test_f2_lists_the_keys_pulled_and_puts_back_one_pulled_mid_touch(
    demo_env: Any,
) -> None:
    env = demo_env(users=1)
    (upn,) = [row.upn for row in env.engine.queue_page(0, 1)]
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        # A used key, pulled at the reset question.
        await reset_question(pilot)
        await pilot.press("f4")
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        # A new key, pulled while the kiosk waits for its touch: it keeps the kiosk's PIN.
        await plug(pilot, "yubikey5")
        await wait_prompt(pilot, Prompt.TOUCH_KEY)
        await wait_until(pilot, lambda: any(k.waiting_for_touch for k in env.port.keys),
                         "the key blinks")
        mid_touch = env.port.keys[0]
        await pilot.press("f4")
        await wait_until(pilot, lambda: not env.port.keys, "the key is out")
        await pilot.pause(0.3)
        await pilot.press("f2")
        await wait_for_text(pilot, "DEMO: plug in a virtual key")
        text = screen_text(app)  # at 80 columns a line wraps inside the dialog
        assert "0  the key just pulled, again: 41000002 pulled mid-touch," in text
        assert "PIN set by the kiosk" in text
        assert "a  again: 41000001 pulled at the reset question, its old" in text
        assert "PIN, 2 credentials" in text
        await pilot.press("0")
        await wait_until(pilot, lambda: env.port.keys == [mid_touch], "the same key back in")
        # Recovery: the kiosk knows the PIN it set on this key and asks to reset it.
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "reset question")
        await wait_for_text(pilot, "41000002")
        await pilot.press("y")
        await touch_reset_then_credential_and_pull(pilot, env)
    (method,) = env.tenant.state.methods_of(upn)
    assert "41000002" in method.display_name
    assert env.kiosk.store.inventory.search(state="needs_reset") == []
