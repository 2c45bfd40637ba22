"""Keys typed back to back, as a fast typist or a terminal paste sends them, are never lost
when a screen is put up or when a key moves the focus: picking the operator's name and then
the PIN, the skip question's reason and then its note. All keys are posted at once, with no
pause between them (Pilot's press waits for the app to settle after every key)."""

from __future__ import annotations

from typing import Any

from textual import events

from kiosk.demo.operators import DEMO_OPERATOR, DEMO_OPERATOR_PIN
from kiosk.enroll.events import Prompt
from kiosk.tui.screens.signin import SignInScreen
from kiosk.tui.screens.skip import SkipReasonScreen
from tests.fixtures.tui import kiosk_app, run_async, sign_in, wait_prompt, wait_until

SIZE = (120, 36)


def type_at_once(app: Any, *keys: str) -> None:
    """Every key handed to the app in one go, as a terminal delivers a burst."""
    for key in keys:
        character = {"enter": "\r", "space": " "}.get(key, key if len(key) == 1 else None)
        app.post_message(events.Key(key, character))


async def locked(pilot: Any, app: Any, env: Any) -> None:
    """Signed in, then locked by the idle timeout, as a quiet kiosk is."""
    await sign_in(pilot)
    await wait_until(pilot, lambda: app.operator == DEMO_OPERATOR, "signed in")
    app.clock.advance(env.settings.kiosk.idle_lock_minutes * 60 + 1)
    app.check_idle_lock()
    assert isinstance(app.screen, SignInScreen) and app.operator is None


@run_async
async def test_the_pin_typed_right_after_picking_the_name_signs_in(demo_env: Any) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await locked(pilot, app, env)
        # The lock screen is up with its names list focused (as a reader sees it).
        await wait_until(pilot, lambda: app.focused is not None
                         and app.focused.id == "names", "the names list has the focus")
        await pilot.pause(0.2)
        type_at_once(app, "enter", *DEMO_OPERATOR_PIN, "enter")
        await wait_until(pilot, lambda: app.operator == DEMO_OPERATOR, "signed in", 10)


@run_async
async def test_the_sign_in_typed_while_the_lock_screen_is_put_up_signs_in(
    demo_env: Any,
) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await locked(pilot, app, env)  # the lock screen is pushed, not yet mounted
        type_at_once(app, "enter", *DEMO_OPERATOR_PIN, "enter")
        await wait_until(pilot, lambda: app.operator == DEMO_OPERATOR, "signed in", 10)


@run_async
async def test_the_skip_question_answered_at_once_skips_with_the_note(demo_env: Any) -> None:
    env = demo_env(users=2)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        upn = app.state.upn
        await pilot.press("k")
        # The question is up: its reason and the note typed at once, the moment it appears.
        assert isinstance(app.screen, SkipReasonScreen)
        type_at_once(app, "enter", *"on leave", "enter")
        queue = env.engine.store.queue
        await wait_until(pilot, lambda: queue.find(upn).status == "skipped", "skipped", 10)
        assert queue.find(upn).reason == "skipped by operator: user not here today: on leave"


@run_async
async def test_the_skip_question_answered_while_it_is_put_up_skips(demo_env: Any) -> None:
    env = demo_env(users=2)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        upn = app.state.upn
        app.action_engine_skip()  # what K does: the question is pushed, not yet mounted
        type_at_once(app, "enter", *"away", "enter")
        queue = env.engine.store.queue
        await wait_until(pilot, lambda: queue.find(upn).status == "skipped", "skipped", 10)
        assert queue.find(upn).reason == "skipped by operator: user not here today: away"
