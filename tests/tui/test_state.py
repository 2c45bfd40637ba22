"""The TUI's picture of the batch, folded from engine events, and the texts drawn from it."""

from __future__ import annotations

from rich.console import Console

from kiosk.config import OperatorSettings, Settings, TenantSettings
from kiosk.enroll.events import (
    EnrollmentResult,
    ErrorRaised,
    KeyGone,
    KeyIdentified,
    Prompt,
    PromptChanged,
    QueueChanged,
    StepChanged,
    TouchNeeded,
)
from kiosk.model.keys import KeyInfo
from kiosk.model.steps import Step
from kiosk.tui.screens.admin import effective_config
from kiosk.tui.state import BatchState, format_duration
from kiosk.tui.widgets.key_panel import key_table
from kiosk.tui.widgets.prompt import render_prompt
from kiosk.tui.widgets.steps import render_steps
from tests.fixtures.tui import FakeClock

INFO = KeyInfo(
    path="virtual:1",
    aaguid="ee882879-721c-4913-9775-3dfcce97072a",
    model="YubiKey 5 NFC",
    firmware="5.7.1",
    serial="40000001",
    versions=("FIDO_2_0", "FIDO_2_1"),
    options={"authnrCfg": True, "setMinPINLength": True},
    pin_set=True,
    pin_retries=8,
    min_pin_length=6,
    force_pin_change=True,
)


def plain(renderable: object, width: int = 80) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_steps_are_remembered_per_user_and_reset_for_the_next() -> None:
    state = BatchState(clock=FakeClock())
    for step in (Step.OPTIONS_READY, Step.KEY_INSERTED, Step.KEY_CHECKED, Step.PIN_SET):
        state.apply(StepChanged(7, "ana@contoso.example", step))
    assert state.step is Step.PIN_SET
    assert state.passed == [Step.OPTIONS_READY, Step.KEY_INSERTED, Step.KEY_CHECKED]
    state.apply(StepChanged(8, "bo@contoso.example", Step.OPTIONS_READY))
    assert state.entry_id == 8 and state.upn == "bo@contoso.example"
    assert state.passed == []


def test_touch_prompt_and_key_panel_follow_the_key() -> None:
    state = BatchState(clock=FakeClock())
    state.apply(KeyIdentified(INFO))
    state.apply(TouchNeeded("to create the credential"))
    assert state.prompt is Prompt.TOUCH_KEY
    assert state.touch_reason == "to create the credential"
    state.apply(KeyGone())
    assert state.key is None
    assert state.prompt is Prompt.INSERT_KEY
    state.apply(PromptChanged(Prompt.WORKING, "registering"))
    assert state.touch_reason == ""


def test_keys_per_hour_and_time_left_come_from_this_session() -> None:
    clock = FakeClock()
    state = BatchState(clock=clock)
    assert state.keys_per_hour() is None
    assert format_duration(state.seconds_left()) == "not known yet"
    state.apply(QueueChanged({"pending": 30, "done": 0}))
    for n in range(3):
        state.apply(StepChanged(n, f"u{n}@x", Step.KEY_INSERTED))
        clock.advance(60)
        state.apply(EnrollmentResult(n, f"u{n}@x", Step.DONE, serial=str(n)))
    state.apply(EnrollmentResult(9, "bad@x", Step.FAILED, reason="refused"))
    assert state.keys_per_hour() == 60.0
    assert state.seconds_left() == 30 * 60.0
    assert format_duration(state.seconds_left()) == "30 min"
    assert format_duration(3 * 3600 + 5 * 60) == "3 h 05 min"
    assert state.session_count(Step.FAILED) == 1


def test_steps_render_with_symbols_not_only_colour() -> None:
    passed = [Step.OPTIONS_READY, Step.KEY_INSERTED, Step.KEY_CHECKED]
    text = render_steps(Step.PIN_SET, passed).plain
    assert "✔ Key inserted" in text
    assert "⊘ Reset if needed" in text  # not needed for this key
    assert "✔ PIN set" in text
    assert "▶ Credential made" in text  # the step under way
    assert "· Registered" in text
    failed = render_steps(
        Step.FAILED, [Step.OPTIONS_READY, Step.KEY_INSERTED], "cancelled by the operator"
    ).plain
    assert "✘ Key checked" in failed and "Failed: cancelled by the operator" in failed
    # Every line fits the 24 columns inside the steps box, even the longest label.
    late = [Step.OPTIONS_READY, Step.KEY_INSERTED, Step.KEY_CHECKED, Step.PIN_SET,
            Step.CREDENTIAL_CREATED]
    skipped = render_steps(Step.SKIPPED, late, "skipped by operator").plain
    assert "↷ PIN policy applied" in skipped and "Skipped: skipped" not in skipped
    assert all(len(line) <= 24 for line in skipped.splitlines()[:-1])
    done = render_steps(Step.DONE, [*passed, Step.PIN_SET, Step.REGISTERED]).plain
    assert "✔ Done" in done and "▶" not in done


def test_touch_prompt_says_it_in_words_and_moves() -> None:
    first = plain(render_prompt(Prompt.TOUCH_KEY, "to create the credential", 0))
    later = plain(render_prompt(Prompt.TOUCH_KEY, "to create the credential", 2))
    assert "TOUCH THE KEY NOW" in first and "☝" in first
    assert first != later  # the arrows march
    assert "INSERT A KEY" in plain(render_prompt(Prompt.INSERT_KEY, "", 0))


def test_key_panel_shows_model_serial_aaguid_firmware_and_pin_state() -> None:
    text = plain(key_table(INFO), width=100)
    for expected in ("YubiKey 5 NFC", "40000001", INFO.aaguid, "5.7.1", "set, 8 tries left",
                     "min length 6, change forced"):
        assert expected in text
    assert plain(key_table(None)).strip() == "No key in the port."
    # Once the engine applied the policy, the panel says what it set, not what it found.
    applied = plain(key_table(INFO, "min length 8, PIN change forced"), width=100)
    assert "✔ min length 8, PIN change forced" in applied and "min length 6" not in applied


def test_key_panel_shows_what_is_really_in_the_port() -> None:
    """The engine's picture of the port wins: keys it does not work with are counted and
    named (a serial it could not read says so), an empty port is empty."""
    both = plain(key_table(None, port=("41000002", None)), width=100)
    assert "In the port 2 keys" in both and "Serials     41000002, not read" in both
    assert "No key in the port." not in both
    assert plain(key_table(INFO, port=())).strip() == "No key in the port."
    beside = plain(key_table(INFO, port=("41000009", INFO.serial)), width=100)
    assert "Serial     40000001" in beside and "Also in    1 more: 41000009" in beside
    assert "Also in" not in plain(key_table(INFO, port=(INFO.serial,)), width=100)
    hostile = plain(key_table(None, port=("\x1b]0;owned\x07[/bold]7",)), width=100)
    assert "\x1b" not in hostile and "\x07" not in hostile and "[/bold]7" in hostile


def test_only_one_key_at_a_time_is_under_way_only_in_the_middle_of_an_attempt() -> None:
    """Cancel and the return desk: a second key at the touch stops a step that is under way;
    at insert, at removal or after an error, nothing is under way."""
    state = BatchState()
    state.apply(StepChanged(1, "a@x", Step.OPTIONS_READY))
    state.apply(PromptChanged(Prompt.ONE_KEY_ONLY, "2 keys"))
    assert not state.step_under_way  # at insert
    state.apply(StepChanged(1, "a@x", Step.PIN_SET))
    state.apply(PromptChanged(Prompt.TOUCH_KEY, "credential"))
    assert state.step_under_way
    state.apply(PromptChanged(Prompt.ONE_KEY_ONLY, "2 keys"))
    assert state.step_under_way  # the touch was stopped in the middle
    state.apply(ErrorRaised("No touch", "d", "n"))
    assert not state.step_under_way  # after an error, only keys to pull
    state.apply(StepChanged(1, "a@x", Step.DONE))
    state.apply(PromptChanged(Prompt.REMOVE_KEY))
    assert not state.step_under_way


def test_effective_config_masks_secrets_and_hashes() -> None:
    settings = Settings(
        tenant=TenantSettings(
            client_secret="s3cr3t-value", allow_inline_secret=True, client_id="abc"
        ),
    )
    from dataclasses import replace

    settings = replace(
        settings,
        kiosk=replace(
            settings.kiosk,
            operators=[OperatorSettings("Ana", pin_hash="scrypt$n=2$CCCC$DDDD")],
        ),
    )
    text = "\n".join(effective_config(settings))
    assert "s3cr3t-value" not in text
    assert "CCCC" not in text
    assert "tenant.client_id = 'abc'" in text
    assert "tenant.client_secret = •••••• (set)" in text
    assert (
        "kiosk.operators[0] = {name = 'Ana', role = 'operator', pin_hash = •••••• (set), "
        "key_credential = \"\" (not set)}"
    ) in text


def test_a_failed_attempt_marks_its_step_and_a_new_key_starts_the_list_again() -> None:
    state = BatchState(clock=FakeClock())
    for step in (Step.OPTIONS_READY, Step.KEY_INSERTED, Step.KEY_CHECKED, Step.PIN_SET):
        state.apply(StepChanged(7, "ana@contoso.example", step))
    state.apply(ErrorRaised("Key is full", "No room.", "Use another key."))
    text = render_steps(state.step, state.passed, state.step_detail, state.halted).plain
    assert "✘ Credential made" in text and "Key is full" in text and "▶" not in text
    state.apply(StepChanged(7, "ana@contoso.example", Step.KEY_INSERTED))
    assert state.halted == ""
    text = render_steps(state.step, state.passed, state.step_detail, state.halted).plain
    assert "▶ Key checked" in text and "✔ PIN set" not in text


def test_pulling_one_of_two_keys_does_not_ask_for_a_key() -> None:
    state = BatchState(clock=FakeClock())
    state.apply(PromptChanged(Prompt.REMOVE_KEY))
    state.apply(KeyGone())
    assert state.prompt is Prompt.REMOVE_KEY  # the engine says when all keys are out
