"""Snapshots of every screen at 80x24 and 120x36, over the real engine and fake tenant.

Each screen's behaviour is tested in test_flows.py; these pin down how it looks. They are
still: no animation, no blinking cursor, a fake clock, fixed users, serials and AAGUIDs.
Update with `pytest tests/tui/test_snapshots.py --snapshot-update` and review the SVGs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from kiosk.demo.operators import DEMO_ADMIN_PIN
from kiosk.enroll.events import Prompt
from kiosk.tui.screens.admin import AdminScreen
from kiosk.tui.screens.error import ErrorScreen
from kiosk.tui.screens.handover import HandoverScreen
from kiosk.tui.screens.queue import QueueScreen
from kiosk.tui.screens.summary import SummaryScreen
from tests.fixtures.tui import (
    enroll_one,
    kiosk_app,
    plug,
    sign_in,
    wait_for_text,
    wait_prompt,
    wait_until,
)

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 36), id="120x36")]
Drive = Callable[[Pilot[Any]], Awaitable[None]]


async def at_sign_in(pilot: Pilot[Any]) -> None:
    await wait_for_text(pilot, "Choose your name")


async def at_touch(pilot: Pilot[Any]) -> None:
    await sign_in(pilot)
    await wait_prompt(pilot, Prompt.INSERT_KEY)
    await plug(pilot)
    await wait_prompt(pilot, Prompt.TOUCH_KEY)
    await wait_for_text(pilot, "to create the credential")


async def at_queue(pilot: Pilot[Any]) -> None:
    await sign_in(pilot)
    await enroll_one(pilot)
    app: Any = pilot.app
    await wait_until(pilot, lambda: app.state.last_result is not None, "first result")
    await pilot.press("q")
    await wait_until(pilot, lambda: isinstance(app.screen, QueueScreen), "queue")
    await wait_for_text(pilot, "sorted by position")


async def at_summary(pilot: Pilot[Any]) -> None:
    await sign_in(pilot)
    await enroll_one(pilot)
    app: Any = pilot.app
    await wait_until(pilot, lambda: app.state.last_result is not None, "first result")
    await pilot.press("s")
    await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen), "summary")
    await wait_for_text(pilot, "Keys per hour")


async def at_admin(pilot: Pilot[Any]) -> None:
    await sign_in(pilot)
    await wait_prompt(pilot, Prompt.INSERT_KEY)
    await pilot.press("a")
    await wait_for_text(pilot, "Admin PIN")
    await pilot.press(*DEMO_ADMIN_PIN, "enter")
    app: Any = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen), "admin")
    await wait_for_text(pilot, "Admin mode")


async def at_error(pilot: Pilot[Any]) -> None:
    await sign_in(pilot)
    await wait_prompt(pilot, Prompt.INSERT_KEY)
    await plug(pilot, "ctap20")
    app: Any = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen), "refusal")
    await wait_for_text(pilot, "What to do:")


async def at_handover(pilot: Pilot[Any]) -> None:
    await sign_in(pilot)
    await wait_prompt(pilot, Prompt.INSERT_KEY)
    await plug(pilot)
    await wait_prompt(pilot, Prompt.TYPE_PIN)
    await wait_for_text(pilot, "You will type it twice")
    await pilot.press(*"13572468", "enter", *"13572468", "enter")
    await wait_prompt(pilot, Prompt.TOUCH_KEY)
    await pilot.press("f3")
    app: Any = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, HandoverScreen), "hand-over")
    await wait_for_text(pilot, "shown only this once")
    # The engine registers while the PIN is on screen; wait for it so the background is fixed.
    await wait_until(pilot, lambda: app.state.last_result is not None, "the result")
    await wait_prompt(pilot, Prompt.REMOVE_KEY)


SCREENS: dict[str, tuple[Drive, dict[str, Any]]] = {
    "signin": (at_sign_in, {}),
    "enroll_touch": (at_touch, {}),
    "queue": (at_queue, {}),
    "summary": (at_summary, {}),
    "admin": (at_admin, {}),
    "error_refusal": (at_error, {"pin_policy": "required"}),
    "handover": (at_handover, {"escrow_mode": "show", "pin_source": "operator"}),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen_snapshot(
    screen: str, size: tuple[int, int], demo_env: Any, snap_compare: Any
) -> None:
    drive, env_options = SCREENS[screen]
    env = demo_env(users=5, **env_options)
    app = kiosk_app(env)
    assert snap_compare(app, terminal_size=size, run_before=drive)
