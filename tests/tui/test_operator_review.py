"""What an operator reads at 80x24, over the real engine, virtual keys and the fake tenant.

Each test pins a fix from walking through `kiosk demo` as the mailroom operator: the screen
must say what was done and what to do next, and never say something stale.
"""

from __future__ import annotations

from typing import Any

from kiosk.demo.operators import DEMO_ADMIN_PIN, DEMO_OPERATOR_PIN
from kiosk.enroll.events import Prompt
from kiosk.tui.screens.admin import AdminPinScreen, AdminScreen
from kiosk.tui.screens.error import ConfirmScreen, ErrorScreen
from kiosk.tui.screens.handover import PinEntryScreen
from kiosk.tui.screens.returns import ReturnScreen
from kiosk.tui.screens.signin import SignInScreen
from tests.fixtures.tui import (
    answer_guest,
    enroll_one,
    kiosk_app,
    plug,
    reset_question,
    run_async,
    screen_text,
    sign_in,
    wait_for_text,
    wait_prompt,
    wait_until,
)

SMALL = (80, 24)


@run_async
async def test_enrolled_key_shows_the_applied_policy_its_serial_and_where_it_goes(
    demo_env: Any,
) -> None:
    env = demo_env(users=2)
    upn = env.engine.queue_page(0, 1)[0].upn
    app = kiosk_app(env)
    async with app.run_test(size=SMALL) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        assert "No key in the port." in screen_text(app)
        assert "Key none" not in screen_text(app)
        await plug(pilot)
        await wait_prompt(pilot, Prompt.TOUCH_KEY)
        assert "min length 4" in screen_text(app)  # what the new key reports
        await pilot.press("f3")
        await wait_prompt(pilot, Prompt.REMOVE_KEY)
        await wait_for_text(pilot, "put it in their envelope")
        text = screen_text(app)
        # The policy the kiosk set (policy.min_pin_length 6, force change), not the old one.
        assert "✔ min length 6, PIN change forced" in text
        assert "min length 4" not in text
        assert f"Last: ✔ {upn} enrolled (key 41000001)" in text
        await pilot.press("f4")
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await wait_for_text(pilot, "No key in the port.")
        assert "PIN change forced" not in screen_text(app)


@run_async
async def test_refusals_mark_the_step_that_stopped_and_a_new_key_starts_over(
    demo_env: Any,
) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=SMALL) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        # A full key is found from what it reports, before its PIN is set: the reset
        # question says it is full; declined, the key stops at the reset, its PIN not set.
        await plug(pilot, "full")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "full key")
        assert "is full: it reports no room for another credential" in screen_text(app)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen), "declined")
        await pilot.press("escape")
        await wait_for_text(pilot, "✘ Reset if needed")
        text = screen_text(app)
        assert "· PIN set" in text and "Credential made" in text and "✘ Credential" not in text
        await pilot.press("f4")
        # A used key next: the list starts again (its PIN is not set yet), and the reset
        # question says what to do without saying "erase" twice.
        await reset_question(pilot)
        text = screen_text(app)
        assert "Erase only keys from your own stock" in text
        assert "N refuses this key" in text
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen), "declined")
        await pilot.press("escape")
        await wait_for_text(pilot, "✘ Reset if needed")
        text = screen_text(app)
        assert "· PIN set" in text and "✔ PIN set" not in text
        assert "▶" not in text.split("╮")[1].split("╰")[0]  # no step is "under way"


@run_async
async def test_a_second_key_stops_the_touch_and_the_key_panel_shows_what_is_in_the_port(
    demo_env: Any,
) -> None:
    env = demo_env(users=2)
    second = env.engine.queue_page(1, 1)[0].upn
    app = kiosk_app(env)
    async with app.run_test(size=SMALL) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await plug(pilot)
        await wait_prompt(pilot, Prompt.TOUCH_KEY)
        (enrolled,) = env.port.keys
        await plug(pilot)  # a second key goes in while the first one blinks
        await wait_prompt(pilot, Prompt.ONE_KEY_ONLY)
        first, extra = (str(k.profile.serial) for k in env.port.keys)
        text = screen_text(app)
        assert "ONLY ONE KEY AT A TIME" in text
        assert f"keep key {first} in" in app.state.prompt_detail
        assert f"Also in    1 more: {extra}" in text  # the key panel names the other key
        await pilot.press("t")  # mid-enrollment: the return desk waits, as during the touch
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ReturnScreen)
        await pilot.press("f4")  # the second key out (F4 pulls the last one plugged)
        await wait_prompt(pilot, Prompt.TOUCH_KEY)
        await pilot.press("f3")
        await wait_prompt(pilot, Prompt.REMOVE_KEY)
        await wait_until(pilot, lambda: env.engine.counts()["done"] == 1, "enrolled")
        assert str(enrolled.profile.serial) in env.tenant.state.methods_of(
            env.engine.queue_page(0, 1)[0].upn
        )[0].display_name
        # Two more keys while the enrolled one waits to be pulled; then the enrolled one out.
        await plug(pilot)
        await plug(pilot)
        await wait_for_text(pilot, "3 keys are in the port")
        others = [str(k.profile.serial) for k in env.port.keys[1:]]
        env.port.unplug(enrolled)
        await wait_for_text(pilot, "2 keys are in the port")
        await wait_for_text(pilot, "In the port 2 keys")
        text = screen_text(app)
        assert "No key in the port." not in text
        assert f"Serials     {', '.join(others)}" in text
        await pilot.press("f4")  # one key out, one still in: the kiosk still waits
        await wait_for_text(pilot, "REMOVE THE KEY")
        await pilot.pause(0.3)
        assert app.state.prompt is Prompt.REMOVE_KEY and "INSERT A KEY" not in screen_text(app)
        await wait_for_text(pilot, f"Serial      {others[0]}")
        await pilot.press("f4")
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await wait_until(pilot, lambda: app.state.upn == second, "the next user")
        await wait_for_text(pilot, "No key in the port.")


@run_async
async def test_a_long_guest_upn_stays_on_the_enrolling_line(demo_env: Any) -> None:
    env = demo_env(users=6)
    (guest,) = [row for row in env.engine.queue_page(0, 6) if "#EXT#" in row.upn]
    env.engine.select(guest.entry_id)
    app = kiosk_app(env)
    async with app.run_test(size=SMALL) as pilot:
        await sign_in(pilot)
        await wait_until(pilot, lambda: app.state.upn == guest.upn, "the guest is next")
        await answer_guest(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await wait_for_text(pilot, guest.display_name)
        (line,) = [ln for ln in screen_text(app).splitlines() if "Enrolling:" in ln]
        assert f"<{guest.upn[:40]}" in line  # the UPN is on the line, cut at its end
        assert line.rstrip().endswith("…")


@run_async
async def test_a_typed_pin_the_engine_refuses_is_asked_for_again(demo_env: Any) -> None:
    env = demo_env(users=1, escrow_mode="sealed", pin_source="operator")
    app = kiosk_app(env)
    async with app.run_test(size=SMALL) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await plug(pilot)
        await wait_until(pilot, lambda: isinstance(app.screen, PinEntryScreen), "PIN entry")
        await pilot.press(*"12345678", "enter", *"12345678", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen), "PIN refused")
        await wait_for_text(pilot, "PIN not accepted")
        await pilot.press("escape")
        # The engine still waits for a PIN: the entry box is back, nothing else to press.
        await wait_until(pilot, lambda: isinstance(app.screen, PinEntryScreen), "asked again")
        await pilot.press(*"80451397", "enter", *"80451397", "enter")
        await wait_prompt(pilot, Prompt.TOUCH_KEY)
        await pilot.press("f3")
        await wait_prompt(pilot, Prompt.REMOVE_KEY)
        await wait_until(pilot, lambda: env.engine.counts()["done"] == 1, "enrolled")


@run_async
async def test_lock_screen_says_work_goes_on_after_sign_in(demo_env: Any) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=SMALL) as pilot:
        await wait_for_text(pilot, "Choose your name")
        assert "where the kiosk stopped" not in screen_text(app)  # first sign-in: no lock
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, SignInScreen), "locked")
        await wait_for_text(pilot, "KIOSK LOCKED")
        assert "Sign in to go on where the kiosk stopped." in screen_text(app)


@run_async
async def test_demo_touch_when_no_key_blinks_says_it_did_not_count(demo_env: Any) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=SMALL) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await plug(pilot)
        await wait_prompt(pilot, Prompt.TOUCH_KEY)
        await wait_until(pilot, lambda: env.port.keys[0].waiting_for_touch, "the key blinks")
        await pilot.press("f3")
        await wait_prompt(pilot, Prompt.REMOVE_KEY)

        def said() -> bool:
            return any("did not count" in note.message for note in app._notifications)

        assert not said()
        await pilot.press("f3")  # nothing blinks now
        await wait_until(pilot, said, "the demo says the touch did not count")


@run_async
async def test_an_empty_queue_says_the_last_user_is_finished_and_what_next(
    demo_env: Any,
) -> None:
    env = demo_env(users=1)
    (row,) = env.engine.queue_page(0, 1)
    app = kiosk_app(env)
    async with app.run_test(size=SMALL) as pilot:
        await sign_in(pilot)
        await enroll_one(pilot)
        await wait_prompt(pilot, Prompt.IDLE)
        await wait_for_text(pilot, "Press S for the batch summary")
        text = screen_text(app)
        assert f"Finished: {row.display_name}  <{row.upn}>" in text
        assert "Enrolling:" not in text


@run_async
async def test_wrong_admin_pins_pause_the_admin_sign_in(demo_env: Any) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=SMALL) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await pilot.press("a")
        await wait_for_text(pilot, "Admin PIN")
        for _ in range(5):
            await pilot.press(*"9999", "enter")
        await wait_for_text(pilot, "refused for 30 s")
        await pilot.press(*DEMO_ADMIN_PIN, "enter")  # the right PIN, but not now
        await wait_for_text(pilot, "Too many wrong PINs")
        # Closing and opening the PIN box does not start the count again.
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, AdminPinScreen), "closed")
        await pilot.press("a")
        await wait_for_text(pilot, "Admin PIN")
        await pilot.press(*DEMO_ADMIN_PIN, "enter")
        await wait_for_text(pilot, "Too many wrong PINs")
        assert not any(isinstance(s, AdminScreen) for s in app.screen_stack)
        app.clock.advance(31)
        await pilot.press(*DEMO_ADMIN_PIN, "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen), "admin")


@run_async
async def test_counts_show_the_user_being_enrolled_as_active(demo_env: Any) -> None:
    env = demo_env(users=2)
    app = kiosk_app(env)
    async with app.run_test(size=SMALL) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await plug(pilot)
        await wait_prompt(pilot, Prompt.TOUCH_KEY)
        await wait_for_text(pilot, "○ pending 1  ◐ active 1  ✔ done 0")
        await pilot.press("f3")
        await wait_for_text(pilot, "○ pending 1  ◐ active 0  ✔ done 1")


@run_async
async def test_cancel_with_nothing_under_way_says_so(demo_env: Any) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)

    def said() -> bool:
        return any("Nothing to cancel" in note.message for note in app._notifications)

    async with app.run_test(size=SMALL) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await pilot.press("c")
        await wait_until(pilot, said, "the kiosk says there is nothing to cancel")
        app.clear_notifications()
        await plug(pilot)
        await wait_prompt(pilot, Prompt.TOUCH_KEY)
        await pilot.press("c")  # a touch is awaited: this one is cancelled
        await wait_until(pilot, lambda: app.state.prompt is not Prompt.TOUCH_KEY, "cancelled")
        assert not said()
        # The step list ends where it stopped, each line inside its box.
        await wait_for_text(pilot, "✘ Credential made ")
        assert "Failed: cancelled" in screen_text(app)
        assert "│failed" not in screen_text(app)
        assert app.enroll_screen.has_class("-failed")  # the failure colours
        assert env.engine.counts()["done"] == 0


@run_async
async def test_a_key_asked_back_says_it_is_out_once_pulled(demo_env: Any) -> None:
    env = demo_env(users=1, reset_window_seconds=0.0)
    app = kiosk_app(env)
    async with app.run_test(size=SMALL) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await reset_question(pilot)
        await pilot.press("y")
        await wait_prompt(pilot, Prompt.REINSERT_KEY)
        assert "is out" not in screen_text(app)
        await pilot.press("f4")
        await wait_for_text(pilot, "Key 41000001 is out: insert it again now")
        await pilot.press("f2")
        await wait_for_text(pilot, "the key just pulled, again: 41000001")
        await pilot.press("0")
        await wait_for_text(pilot, "to confirm the reset")
        assert "is out" not in screen_text(app)


@run_async
async def test_wrong_pins_pause_sign_in_longer_each_time_and_a_restart_keeps_the_pause(
    demo_env: Any,
) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=SMALL) as pilot:
        await wait_for_text(pilot, "Choose your name")
        await pilot.press("enter")
        for _ in range(5):
            await pilot.press(*"975310", "enter")
        await wait_for_text(pilot, "Wrong PIN 5 times: refused for 30 s.")
        app.clock.advance(31)
        await pilot.press(*"975310", "enter")  # no five new tries after a pause
        await wait_for_text(pilot, "Wrong PIN 6 times: refused for 60 s.")
    # The kiosk starts again (same state directory): the pause is still there.
    again = kiosk_app(env)
    async with again.run_test(size=SMALL) as pilot:
        await wait_for_text(pilot, "Choose your name")
        await pilot.press("enter", *DEMO_OPERATOR_PIN, "enter")
        await wait_for_text(pilot, "Too many wrong PINs. Wait")
        assert isinstance(again.screen, SignInScreen) and again.operator is None
    records = [(r["event"], r.get("outcome")) for r in env.engine.audit.recent()]
    assert records.count(("sign-in failed", "failed")) == 6
    assert records.count(("sign-in paused", "paused")) == 2
    assert "975310" not in env.state_dir.joinpath("audit.jsonl").read_text()
