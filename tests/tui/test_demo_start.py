"""The demo's first screen: it takes the operator's keys from the first frame, while the
demo environment is still being built behind it, and shows the demo PINs where they are
needed (issue 11, item 9)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import events

from kiosk.config import Settings
from kiosk.demo.environment import DemoEnvironment
from kiosk.demo.operators import (
    DEMO_ADMIN_PIN,
    DEMO_BANNER,
    DEMO_KEY_PIN,
    DEMO_OPERATOR,
    DEMO_OPERATOR_PIN,
    demo_settings,
)
from kiosk.enroll.events import Prompt
from kiosk.keys.virtual.profiles import YUBIKEY_5_AAGUID
from kiosk.model.keys import KeyInfo
from kiosk.model.steps import Step
from kiosk.tui.demo import DemoKioskApp
from kiosk.tui.screens.skip import SkipReasonScreen
from tests.fixtures.clock import FakeClock
from tests.fixtures.tui import (
    kiosk_app,
    run_async,
    screen_text,
    sign_in,
    wait_for_text,
    wait_prompt,
    wait_until,
)


def _lazy_app(tmp_path: Path, made: list[Any]) -> DemoKioskApp:
    def make_env() -> Any:
        env = DemoEnvironment(users=2, latency="none", state_dir=tmp_path / "demo")
        made.append(env)
        env.start()
        return env

    start = demo_settings(Settings(source="kiosk demo"))
    return DemoKioskApp(start, make_env=make_env, banner=DEMO_BANNER, motion=False,
                        clock=FakeClock())


def _typed(text: list[str]) -> list[events.Key]:
    chars = {"enter": "\r", "ctrl+j": "\n"}
    return [events.Key(k, chars.get(k, k)) for k in text]


@run_async
async def test_keys_typed_while_the_demo_starts_sign_the_operator_in(tmp_path: Path) -> None:
    made: list[Any] = []
    app = _lazy_app(tmp_path, made)
    # Typed before the first frame, as a terminal hands them over when the kiosk takes it
    # while the sign-in screen is still being put up: nothing may be lost. An Enter typed
    # before then comes as a newline (Ctrl+J: the terminal was still in its cooked mode).
    for key in _typed(["ctrl+j", *DEMO_OPERATOR_PIN, "enter"]):
        app.post_message(key)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: app.operator == DEMO_OPERATOR, "signed in", 30)
            await wait_until(pilot, lambda: app.ready, "the demo is up", 30)
            await wait_until(pilot, lambda: "INSERT A KEY" in screen_text(app), "enrolling")
    finally:
        for env in made:
            env.close()


@run_async
async def test_recovery_at_start_waits_for_the_sign_in_instead_of_eating_its_keys(
    demo_env: Any,
) -> None:
    """Started again after a kill -9 that left an attempt open after its PIN was set (the
    journal as the kill left it), the kiosk's recovery reports the key to reset. That report
    used to cover the sign-in screen and take the operator's first keys."""
    env = demo_env(users=2)
    journal = _left_open_after_its_pin(env)
    app = kiosk_app(env)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.ready, "the kiosk is up")
        await wait_until(pilot, lambda: not journal.open_attempts(), "recovery")
        await pilot.press("enter", *DEMO_OPERATOR_PIN, "enter")
        await wait_until(pilot, lambda: app.operator == DEMO_OPERATOR, "signed in")
        # The report is shown once someone is there to read it.
        await wait_for_text(pilot, "Key 41000001 must be reset")


def _left_open_after_its_pin(env: Any) -> Any:
    """The first user's attempt as a kill -9 leaves it after the PIN was set on key 41000001;
    the journal."""
    store = env.kiosk.store
    entry = store.queue.get(store.queue.page(0, 1)[0].entry_id)
    journal = store.journal
    attempt = journal.start(entry.entry_id, entry.user_id, entry.upn, DEMO_OPERATOR)
    journal.key(attempt, KeyInfo("virtual:1", str(YUBIKEY_5_AAGUID), "YubiKey 5 NFC", "5.7.1",
                                 "41000001", ("FIDO_2_1",)))
    journal.step(attempt, Step.PIN_SET)
    return journal


@run_async
async def test_recoverys_report_offers_nothing_that_acts_on_the_user_at_hand(
    demo_env: Any,
) -> None:
    """The report is about an attempt before the restart; K (skip) or R (retry) on it would
    act on whoever the kiosk is at now, another user or the same one for a fresh key."""
    env = demo_env(users=2)
    _left_open_after_its_pin(env)
    app = kiosk_app(env)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await wait_for_text(pilot, "Key 41000001 must be reset")
        await wait_until(pilot, lambda: bool(app.state.upn), "a user at hand")
        footer = screen_text(app).splitlines()[-1]
        assert "Skip" not in footer and "Retry" not in footer, footer
        assert "Close" in footer, footer
        await pilot.press("k", "r")
        await pilot.pause(0.3)
        await pilot.press("enter")  # would take the first reason had K asked for one
        await pilot.pause(0.3)
        assert not isinstance(app.screen, SkipReasonScreen)
        assert "Key 41000001 must be reset" not in screen_text(app)  # closed
        queue = env.kiosk.store.queue
        assert queue.counts().get("skipped", 0) == 0
        await wait_prompt(pilot, Prompt.INSERT_KEY)


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
