"""On the Linux text console (tty1, TERM=linux) every character on screen must be one its font
can draw, and the symbols that carry meaning must survive as words or ASCII marks.

The flows run the real engine over virtual keys and the fake tenant; every character of the
rendered screen is collected at each stop and checked against the console-safe set.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from textual.pilot import Pilot

from kiosk.demo.operators import DEMO_ADMIN_PIN, DEMO_OPERATOR_PIN
from kiosk.enroll.events import Prompt
from kiosk.tui.demo import DemoKioskApp
from kiosk.tui.glyphs import CONSOLE, CONSOLE_SAFE, UNICODE, big_text, choose, detect
from kiosk.tui.screens.admin import AdminScreen
from kiosk.tui.screens.error import ErrorScreen
from kiosk.tui.screens.handover import HandoverScreen
from kiosk.tui.screens.queue import QueueScreen
from kiosk.tui.screens.summary import SummaryScreen
from tests.fixtures.clock import FakeClock
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

SMALL = (80, 24)


def unsafe(app: Any) -> set[str]:
    """Characters on screen now that the Linux console font cannot draw."""
    return set(screen_text(app).replace("\n", "")) - CONSOLE_SAFE


def app_with(env: Any, glyphs: str) -> Any:
    """The demo kiosk over ``env`` with ``kiosk.glyphs`` set as in kiosk.toml."""
    kiosk = dataclasses.replace(env.settings.kiosk, glyphs=glyphs)
    settings = dataclasses.replace(env.settings, kiosk=kiosk)
    return DemoKioskApp(settings, env=env, motion=False, clock=FakeClock())


# -- choosing the set -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "tty", "mode"),
    [
        ("linux", "/dev/tty1", "console"),
        ("linux", None, "console"),  # systemd: TERM=linux, output not a terminal we can name
        (None, "/dev/tty1", "console"),  # no TERM at all on a virtual console
        ("", "/dev/tty12", "console"),
        ("xterm-256color", "/dev/tty1", "unicode"),  # a terminal that says what it is
        (None, "/dev/pts/3", "unicode"),  # ssh or a terminal window
        ("screen", None, "unicode"),
        (None, None, "unicode"),
    ],
)
def test_auto_detection_picks_console_on_the_linux_console(
    term: str | None, tty: str | None, mode: str
) -> None:
    assert detect(term, tty) == mode


def test_setting_overrides_the_terminal() -> None:
    assert choose("auto", {"TERM": "linux"}) is CONSOLE
    assert choose("unicode", {"TERM": "linux"}) is UNICODE
    assert choose("console", {"TERM": "xterm-256color"}) is CONSOLE


def test_console_text_keeps_meaning_in_ascii() -> None:
    said = CONSOLE.text("✔ audit trail intact · ✘ AUDIT TRAIL BROKEN … (↑ ↓ Enter) 🔒 ••••")
    assert said == (
        "OK audit trail intact - X AUDIT TRAIL BROKEN ... (Up Down Enter) [LOCKED] ****"
    )
    assert UNICODE.text("✔ done") == "✔ done"


def test_big_pin_digits_are_five_rows_of_blocks_and_tell_every_digit_apart() -> None:
    shapes = {ch: big_text(ch) for ch in "0123456789ABCDEF"}
    assert len(set(shapes.values())) == 16
    rows = big_text("2468").splitlines()
    assert len(rows) == 5 and all(len(row) == 4 * 3 + 3 * 2 for row in rows)
    assert set("".join(rows)) <= {" ", "█"} <= CONSOLE_SAFE


# -- the screens in console mode --------------------------------------------------------------


def shows(text: str, *parts: str) -> None:
    for part in parts:
        assert part in text, f"{part!r} is not on the screen:\n{text}"


async def check(pilot: Pilot[Any], where: str) -> str:
    await pilot.pause()
    text = screen_text(pilot.app)
    bad = unsafe(pilot.app)
    assert not bad, f"{where}: the console cannot draw {sorted(bad)!r}; screen:\n{text}"
    return text


@run_async
async def test_term_linux_draws_every_screen_of_an_enrollment_in_console_characters(
    demo_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERM", "linux")
    env = demo_env(users=2, escrow_mode="show")
    upn = env.engine.queue_page(0, 1)[0].upn
    app = kiosk_app(env)  # kiosk.glyphs = "auto"
    assert app.glyphs is CONSOLE
    async with app.run_test(size=SMALL) as pilot:
        await wait_for_text(pilot, "Choose your name")
        text = await check(pilot, "sign-in")
        shows(text, "(Up Down Enter)")
        await pilot.press("enter", *DEMO_OPERATOR_PIN[:2])
        await pilot.pause()
        assert "**" in await check(pilot, "sign-in, PIN typed")  # masked, not "••"
        await pilot.press(*DEMO_OPERATOR_PIN[2:], "enter")
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        text = await check(pilot, "insert a key")
        shows(text, "->  INSERT A KEY", "No key in the port.")
        shows(text, "o pending 2", "* active")  # the counts keep their words

        await plug(pilot)
        await wait_prompt(pilot, Prompt.TOUCH_KEY)
        await wait_for_text(pilot, "to create the credential")
        text = await check(pilot, "touch the key")
        shows(text, "!! TOUCH THE KEY NOW !!")
        shows(text, "OK Key inserted", "> ")  # a step under way

        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, HandoverScreen), "hand-over")
        await wait_for_text(pilot, "shown only this once")
        text = await check(pilot, "PIN hand-over")
        pin = app.screen._pin
        assert pin and "  ".join(pin) in text
        for row in big_text(pin).splitlines():  # and large, in full blocks
            assert row.rstrip() in text
        await wait_until(pilot, lambda: app.state.last_result is not None, "the result")
        await pilot.press("space")
        await wait_until(pilot, lambda: not isinstance(app.screen, HandoverScreen), "cleared")

        await wait_prompt(pilot, Prompt.REMOVE_KEY)
        text = await check(pilot, "remove the key")
        shows(text, "<-  REMOVE THE KEY")
        shows(text, f"Last: OK {upn} enrolled")
        shows(text, "OK Registered (Entra)", "OK Done")
        shows(text, "OK done 1")

        await pilot.press("f4")
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, QueueScreen), "queue")
        await wait_for_text(pilot, "sorted by position")
        text = await check(pilot, "queue")
        shows(text, "- sorted by position -", "OK done")
        await pilot.press("escape")
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen), "summary")
        await wait_for_text(pilot, "Keys per hour")
        text = await check(pilot, "summary")
        shows(text, "X failed", ">> skipped")


@run_async
async def test_console_questions_pin_entry_errors_lock_and_admin_use_console_characters(
    demo_env: Any,
) -> None:
    env = demo_env(users=2, reset="ask", pin_source="operator", pin_policy="required")
    app = app_with(env, "console")
    async with app.run_test(size=SMALL) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await plug(pilot, "used")
        await wait_for_text(pilot, "Press Y for yes")
        shows(await check(pilot, "reset question"), "?  Reset this key?")
        await pilot.press("y")
        await wait_prompt(pilot, Prompt.TOUCH_KEY)
        shows(await check(pilot, "touch for the reset"), "!! TOUCH THE KEY NOW !!")
        await pilot.press("f3")
        await wait_for_text(pilot, "You will type it twice")
        await pilot.press(*"12")
        await pilot.pause()
        shows(await check(pilot, "PIN typed"), "**")
        await pilot.press("enter")
        await wait_for_text(pilot, "Too short")
        shows(await check(pilot, "PIN refused"), "X Too short: at least 6 characters.")
        await pilot.press("escape")  # the operator gives up on this key
        await wait_prompt(pilot, Prompt.REMOVE_KEY)
        await wait_for_text(pilot, "cancelled by the operator")
        shows(await check(pilot, "failed"), "X  PIN set", "OK Reset if needed", "X failed 1")
        await pilot.press("f4")

        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await plug(pilot, "ctap20")  # refused: it cannot take the required PIN policy
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen), "refusal")
        await wait_for_text(pilot, "What to do:")
        shows(await check(pilot, "error"), "|  X  Key refused", "What to do:")
        await pilot.press("k")  # skip this user: the kiosk asks why
        await wait_until(pilot, lambda: not isinstance(app.screen, ErrorScreen), "closed")
        await pilot.press("enter", "enter")  # the first reason, no note
        await pilot.press("f4")

        await pilot.press("l")  # the operator signs out: the shift's report first
        await wait_for_text(pilot, "Shift report: ")
        shows(await check(pilot, "shift report"), "Users failed: 1", "Users skipped: 1")
        await pilot.press("escape")
        await wait_for_text(pilot, "KIOSK LOCKED")
        shows(await check(pilot, "locked"), "[LOCKED] KIOSK LOCKED", "(Up Down Enter)")
        await sign_in(pilot)
        await pilot.press("a")
        await wait_for_text(pilot, "Admin PIN")
        await pilot.press(*DEMO_ADMIN_PIN, "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen), "admin")
        await pilot.press("c")
        await wait_for_text(pilot, "kiosk.glyphs")
        shows(await check(pilot, "admin config"), "role = 'admin', pin_hash = ******")
        await pilot.press("v")
        await wait_for_text(pilot, "audit trail intact")
        shows(await check(pilot, "audit verified"), "OK audit trail intact")


@run_async
async def test_the_setting_keeps_unicode_symbols_even_on_term_linux(
    demo_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERM", "linux")
    env = demo_env(users=1)
    app = app_with(env, "unicode")
    async with app.run_test(size=SMALL) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await plug(pilot)
        await wait_prompt(pilot, Prompt.TOUCH_KEY)
        await wait_for_text(pilot, "to create the credential")
        text = screen_text(app)
        shows(text, "☝ TOUCH THE KEY NOW ☝", "✔ Key inserted")
        shows(text, "╭")  # the round border of the steps box
        await pilot.press("f3")
        await wait_prompt(pilot, Prompt.REMOVE_KEY)
        assert "✔ done 1" in screen_text(app)


def test_enroll_screen_console_snapshot_at_80x24(demo_env: Any, snap_compare: Any) -> None:
    env = demo_env(users=5)
    app = app_with(env, "console")

    async def at_touch(pilot: Pilot[Any]) -> None:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await plug(pilot)
        await wait_prompt(pilot, Prompt.TOUCH_KEY)
        await wait_for_text(pilot, "to create the credential")
        assert not unsafe(pilot.app)

    assert snap_compare(app, terminal_size=SMALL, run_before=at_touch)
