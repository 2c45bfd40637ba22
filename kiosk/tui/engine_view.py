"""The app's side of the engine dialog: engine events in, one handler per kind; the questions
the engine asks (reset, replace, a typed PIN), its errors and the PINs to hand over, shown as
screens; every screen redrawn from the one :class:`~kiosk.tui.state.BatchState`.

:class:`~kiosk.tui.app.KioskApp` is built on this; what the handlers need from it is declared
here (the engine, the settings, the state, who is signed in, the enrollment screen).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.screen import Screen

from kiosk.config import Settings
from kiosk.enroll.api import EngineControl
from kiosk.enroll.events import ErrorRaised as ErrorRaisedEvent
from kiosk.enroll.events import Event, PinHandover, Prompt, PromptChanged
from kiosk.model.steps import Step
from kiosk.tui import messages
from kiosk.tui.screens.enroll import EnrollScreen
from kiosk.tui.screens.error import ConfirmScreen, ErrorScreen
from kiosk.tui.screens.handover import HandoverScreen, PinEntryScreen
from kiosk.tui.screens.shift import ShiftReportScreen
from kiosk.tui.screens.skip import SkipReasonScreen
from kiosk.tui.state import BatchState

QUESTIONS = (Prompt.CONFIRM_RESET, Prompt.CONFIRM_REPLACE, Prompt.CONFIRM_GUEST, Prompt.TYPE_PIN)
MAILER_NEWS_KEPT = 8


class EngineView(App[int]):
    """Engine events and dialogs; the kiosk app provides the attributes below."""

    settings: Settings
    state: BatchState
    operator: str | None
    enroll_screen: EnrollScreen
    _held_pins: list[PinHandover]
    _held_errors: list[ErrorRaisedEvent]
    """Errors the engine raised while nobody was signed in (crash recovery's findings at
    start): shown after the sign-in, not over the sign-in screen where the operator types."""
    _mailer_news: dict[int, tuple[bool, str]]
    """A PIN mailer's news that came before its PIN box, by queue entry (a few kept)."""
    clock: Callable[[], float]

    @property
    def engine(self) -> EngineControl:
        raise NotImplementedError

    def ask_skip_reason(self) -> None:
        """Skip asks why (a short list plus a note); Escape keeps the user."""

        def chosen(reason: str | None) -> None:
            if reason:
                self.engine.skip(reason)

        self.push_screen(SkipReasonScreen(self.state.upn), chosen)

    def _fold(self, event: Event) -> None:
        """Fold an engine event into the state; close a question the engine stopped asking."""
        asked = self.state.prompt
        self.state.apply(event)
        if asked in QUESTIONS and self.state.prompt is not asked:
            self._close_top(ConfirmScreen, PinEntryScreen)

    def on_engine_step_changed(self, message: messages.StepChanged) -> None:
        self._fold(message.event)
        if message.event.step is Step.KEY_INSERTED:
            self._close_top(ErrorScreen)  # a new key: the operator moved on
        self.redraw()

    def on_engine_prompt_changed(self, message: messages.PromptChanged) -> None:
        self._fold(message.event)
        self._ask(message.event)
        self.redraw()

    def on_engine_touch_needed(self, message: messages.TouchNeeded) -> None:
        self._fold(message.event)
        self._close_top(ErrorScreen)  # a touch: the operator moved on
        self.redraw()

    def on_engine_key_identified(self, message: messages.KeyIdentified) -> None:
        self._fold(message.event)
        self.redraw()

    def on_engine_key_gone(self, message: messages.KeyGone) -> None:
        self._fold(message.event)
        self._close_top(ConfirmScreen, PinEntryScreen)  # the engine stopped asking
        self.redraw()

    def on_engine_port_changed(self, message: messages.PortChanged) -> None:
        self._fold(message.event)
        self.redraw()

    def on_engine_pin_handover(self, message: messages.PinHandover) -> None:
        self._held_pins.append(message.event)
        self._show_held_pins()
        self.redraw()

    def on_engine_enrollment_result(self, message: messages.EnrollmentResult) -> None:
        self._fold(message.event)
        self.redraw()

    def on_engine_error_raised(self, message: messages.ErrorRaised) -> None:
        event = message.event
        self._fold(event)
        self._close_top(ConfirmScreen, PinEntryScreen)  # the engine stopped asking
        if self.operator is None:
            self._held_errors.append(event)
        else:
            self._show_engine_error(event)
        self.redraw()

    def _show_held_errors(self) -> None:
        while self._held_errors and self.operator is not None:
            event = self._held_errors.pop(0)
            self._show_engine_error(event)

    def _show_engine_error(self, event: ErrorRaisedEvent) -> None:
        self.show_error(event.title, event.detail, event.next_step, event.retryable,
                        past=event.past_attempt)

    def on_engine_paper_notice(self, message: messages.PaperNotice) -> None:
        event = message.event
        self._fold(event)  # printer news on the enrollment screen
        if event.kind == "mailer":  # the PIN screen says whether its mailer printed
            shown = [s for s in self.screen_stack
                     if isinstance(s, HandoverScreen) and s.entry_id == event.entry_id]
            for screen in shown:
                screen.mailer_news(event.ok, event.text)
            if not shown and event.entry_id is not None:  # its PIN box is still to come
                self._mailer_news[event.entry_id] = (event.ok, event.text)
                while len(self._mailer_news) > MAILER_NEWS_KEPT:
                    del self._mailer_news[next(iter(self._mailer_news))]
        if event.kind == "report":  # the shift report on screen says whether it printed
            for report in self.screen_stack:
                if isinstance(report, ShiftReportScreen):
                    report.news(event.ok, event.text)
        self.redraw()

    def on_engine_queue_changed(self, message: messages.QueueChanged) -> None:
        self._fold(message.event)
        self.redraw()

    def _close_top(self, *kinds: type[Screen[Any]]) -> None:
        """Close stale engine dialogs of these kinds on top of the stack (no answer sent).
        With no screen left (the app is closing while the engine still reports), nothing."""
        while (
            self.screen_stack
            and isinstance(self.screen, kinds)
            and getattr(self.screen, "from_engine", False)
        ):
            self.pop_screen()

    def _ask(self, event: PromptChanged) -> None:
        if event.prompt is Prompt.CONFIRM_RESET:
            self.push_screen(
                ConfirmScreen(
                    "Reset this key?",
                    event.detail or "The key already has a PIN or credentials.",
                    "After Y, touch the key as soon as it blinks. N refuses this key.",
                ),
                self._confirm_reset,
            )
        elif event.prompt is Prompt.CONFIRM_REPLACE:
            self.push_screen(
                ConfirmScreen(
                    "Replace this user's keys?",
                    event.detail or "The user already has FIDO2 keys in Entra.",
                    "Yes deletes the user's existing FIDO2 methods before enrolling this key.",
                ),
                self._confirm_replace,
            )
        elif event.prompt is Prompt.CONFIRM_GUEST:
            self.push_screen(
                ConfirmScreen(
                    "Enroll a guest?", event.detail or "This user is a B2B guest account.",
                    "Y enrolls a key for this guest; N skips the user (U in the queue brings "
                    "them back).",
                ),
                self._confirm_guest,
            )

        elif event.prompt is Prompt.TYPE_PIN:
            self.push_screen(
                PinEntryScreen(self.state.upn, self.settings.policy.min_pin_length),
                self._typed_pin,
            )

    def _typed_pin(self, pin: str | None) -> None:
        if self.state.prompt is not Prompt.TYPE_PIN:
            return  # the engine no longer waits for it
        if pin:
            self.engine.provide_pin(pin)
        else:
            self.engine.cancel()

    def _confirm_reset(self, ok: bool | None) -> None:
        if self.state.prompt is Prompt.CONFIRM_RESET:  # else the question is stale
            self.engine.confirm_reset(bool(ok))

    def _confirm_replace(self, ok: bool | None) -> None:
        if self.state.prompt is Prompt.CONFIRM_REPLACE:
            self.engine.confirm_replace(bool(ok))

    def _confirm_guest(self, ok: bool | None) -> None:
        if self.state.prompt is Prompt.CONFIRM_GUEST:
            self.engine.confirm_guest(bool(ok))

    def _show_held_pins(self) -> None:
        if self.operator is None:
            return  # never show a PIN on a locked kiosk; it waits for the sign-in
        while self._held_pins:
            event = self._held_pins.pop(0)
            paper = self.settings.paper
            mailer = paper.mailer_queue if self.settings.escrow.shows else ""
            seconds = self.settings.escrow.show_seconds  # then it clears itself
            screen = HandoverScreen(
                event.upn, event.pin, entry_id=event.entry_id, mailer_queue=mailer,
                shown_at=self.clock(), seconds=seconds, display_name=event.display_name,
                serial=event.serial,
            )
            news = self._mailer_news.pop(event.entry_id, None)
            if news is not None:
                screen.mailer_news(*news)
            self.push_screen(screen)

    def redraw(self) -> None:
        self.enroll_screen.show_state(self.state, self.operator)
        for screen in self.screen_stack:
            refresh = getattr(screen, "show_state", None)
            if refresh is not None and screen is not self.enroll_screen:
                refresh(self.state, self.operator)

    def show_error(
        self, title: str, detail: str, next_step: str, retryable: bool = True,
        *, past: bool = False,
    ) -> None:
        """``past``: a report on an attempt a restart interrupted, shown after the sign-in:
        R and K would act on whoever is at hand now, not on the user it names; only Close."""
        def chosen(choice: str | None) -> None:
            if choice == "skip":
                self.ask_skip_reason()
            elif self.state.prompt is Prompt.TYPE_PIN:
                # The engine refused the typed PIN and still waits for one: ask again.
                self._ask(PromptChanged(Prompt.TYPE_PIN))
            elif choice == "retry":
                self.engine.retry()

        screen = ErrorScreen(title, detail, next_step, retryable=retryable and not past,
                             skippable=not past)
        screen.from_engine = True
        self.push_screen(screen, chosen)

