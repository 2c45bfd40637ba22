"""The demo's first screen shows the demo PINs where they are needed (issue 11, item 9)."""

from __future__ import annotations

from typing import Any

from kiosk.demo.operators import (
    DEMO_ADMIN_PIN,
    DEMO_KEY_PIN,
    DEMO_OPERATOR_PIN,
)
from tests.fixtures.tui import (
    kiosk_app,
    run_async,
    screen_text,
    sign_in,
    wait_for_text,
)


@run_async
async def test_the_demo_pins_are_on_the_sign_in_screen_and_whole_in_the_header_at_80x24(
    demo_env: Any,
) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(pilot, "Choose your name")
        text = screen_text(app)
        assert f"Demo operator: PIN {DEMO_OPERATOR_PIN}" in text
        assert f"Demo admin: PIN {DEMO_ADMIN_PIN}" in text
        assert f"operator's own key (F2, then 9): key PIN {DEMO_KEY_PIN}" in text
        assert "press F5." in text  # the whole box still fits
        await sign_in(pilot)
        await wait_for_text(pilot, "INSERT A KEY")
        header = screen_text(app).splitlines()[0]
        assert header.rstrip().endswith(f"key {DEMO_KEY_PIN}"), header
