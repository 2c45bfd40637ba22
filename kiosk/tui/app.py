"""KioskApp: the full-screen, keyboard-only kiosk over the enrollment engine.

The engine runs in one thread worker; its events come back as one message per kind
(:mod:`kiosk.tui.messages`), handled in :mod:`kiosk.tui.engine_view` and folded into one
:class:`BatchState` that every screen draws from. The app is locked
down: no command palette, and Ctrl+C / Ctrl+Q / Ctrl+Z / Ctrl+\\ do nothing; only the admin
screen exits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

from rich.traceback import Traceback
from textual import events, work
from textual.binding import Binding
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.worker import Worker, WorkerState, get_current_worker

from kiosk.config import Settings
from kiosk.enroll.api import EngineControl
from kiosk.enroll.events import ErrorRaised, Event, PinHandover, Prompt
from kiosk.enroll.manifest import outbox
from kiosk.enroll.shift_report import ShiftReport, report_paths
from kiosk.errors import KioskError
from kiosk.keys.types import HidBackend
from kiosk.operators.idle import IdleLock
from kiosk.process import ADMIN_EXIT
from kiosk.tui import messages
from kiosk.tui.early_keys import EarlyKeys, KeysTaken, waiting_for_keys
from kiosk.tui.engine_view import EngineView
from kiosk.tui.glyphs import CONSOLE_SAFE, ConsoleScrollBarRender, Glyphs, choose
from kiosk.tui.messages import TaskDone
from kiosk.tui.screens.enroll import EnrollScreen
from kiosk.tui.screens.error import ErrorScreen
from kiosk.tui.screens.handover import clear_shown_pins
from kiosk.tui.screens.signin import SignInScreen
from kiosk.tui.sign_in_desk import SignInDesk
from kiosk.tui.state import BatchState
from kiosk.tui.theme import HIGH_CONTRAST, THEMES

LOCKED_KEYS = ("ctrl+c", "ctrl+q", "ctrl+z", "ctrl+backslash")


class KioskApp(EngineView):
    CSS_PATH = str(Path(__file__).with_name("app.tcss"))
    TITLE = "fido-kiosk"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding(key, "locked_down", show=False, priority=True, system=True) for key in LOCKED_KEYS
    ]

    def __init__(
        self,
        engine: EngineControl | None,
        settings: Settings,
        *,
        boot: Callable[[], EngineControl] | None = None,
        clock: Callable[[], float] = time.monotonic,
        motion: bool = True,
        banner: str = "",
        sign_in_note: str = "",
        start_engine: bool = True,
        glyphs: Glyphs | None = None,
        hid: HidBackend | None = None,
    ) -> None:
        # Chosen before the stylesheet is read: its border kinds come from the set.
        self.glyphs = glyphs if glyphs is not None else choose(settings.kiosk.glyphs)
        self._scrollbar_renderer: type[ScrollBarRender] | None = None
        super().__init__()
        self._engine = engine
        self._boot = boot
        self.settings = settings
        self.clock = clock
        self.motion = motion
        self.banner = banner
        self.sign_in_note = sign_in_note
        """Shown on the sign-in screen (the demo's PINs)."""
        self.start_engine = start_engine
        self.state = BatchState(clock=clock)
        self.operator: str | None = None
        self.idle = IdleLock(settings.kiosk.idle_lock_minutes, clock)
        self.hid = hid
        """Where operator keys are read at sign-in (the engine's own HID backend)."""
        self.sign_in_desk = SignInDesk(lambda: self.settings, clock, settings.store.path)
        self.gate = self.sign_in_desk.gate
        self._held_pins: list[PinHandover] = []
        self._held_errors: list[ErrorRaised] = []
        self._mailer_news: dict[int, tuple[bool, str]] = {}
        self.enroll_screen = EnrollScreen(motion=motion, banner=banner)
        self.early_keys = EarlyKeys(self.post_message, self.set_timer, self._waiting_for_keys)
        """Keys typed before a screen could take them, given to it once it can."""
        self.register_theme(HIGH_CONTRAST)
        self.theme = THEMES[settings.kiosk.theme]

    def get_css_variables(self) -> dict[str, str]:
        return {**super().get_css_variables(), **self.glyphs.css_variables()}

    def get_key_display(self, binding: Binding) -> str:
        shown = super().get_key_display(binding)
        if self.glyphs.mode == "console" and not set(shown) <= CONSOLE_SAFE:
            # Textual draws enter as ⏎ and up as ↑: the console font has neither. Say the key.
            modifiers, key = binding.parse_key()
            return "+".join([*modifiers, key.replace("_", " ").capitalize()])
        return shown

    # -- start and stop ---------------------------------------------------------------------

    def on_mount(self) -> None:
        if self.glyphs.mode == "console":
            # Textual's documented way to draw scroll bars differently; put back on unmount.
            self._scrollbar_renderer = ScrollBar.renderer
            ScrollBar.renderer = ConsoleScrollBarRender
        # The enrollment screen is composed after the sign-in, so the first frame comes fast.
        self.push_screen(self._sign_in_screen(locked=False), self._signed_in)
        # Held keys go on at the latest after a moment, sign-in screen ready or not: a key
        # is never held for good.
        self.early_keys.start()
        self.set_interval(1.0, self.check_idle_lock)
        if self._engine is not None:
            self._engine_ready(self._engine)
        else:
            # Build the engine once the first frame is on screen, not before.
            self.call_after_refresh(self.boot_engine)

    @property
    def engine(self) -> EngineControl:
        if self._engine is None:
            raise KioskError(
                "The kiosk is still starting.",
                title="Starting",
                next_step="Wait a moment and press the key again.",
            )
        return self._engine

    @property
    def ready(self) -> bool:
        """True once the engine exists (it is built in a worker so the screen shows at once)."""
        return self._engine is not None

    @work(thread=True, exclusive=True, exit_on_error=False, group="boot")
    def boot_engine(self) -> EngineControl:
        if self._boot is None:
            raise KioskError("No engine and no way to build one.", title="Kiosk not set up")
        return self._boot()

    def _engine_ready(self, engine: EngineControl) -> None:
        self._engine = engine
        engine.subscribe(self._from_engine)
        engine.set_operator(self.operator)
        self.sign_in_desk.attach(engine)
        if self.start_engine:
            self.run_engine()
        self.redraw()

    def _from_engine(self, event: Event) -> None:
        # Called on the engine's thread: only hand the event on.
        self.post_message(messages.message_for(event))

    @work(thread=True, exclusive=True, exit_on_error=False, group="engine")
    def run_engine(self) -> None:
        # The worker's own cancellation is the engine's stop event: cancelling the worker
        # (stop_engine, or Textual at exit) also cuts short a key call waiting for a touch.
        self.engine.run(get_current_worker().cancelled_event)

    def stop_engine(self) -> None:
        self.workers.cancel_group(self, "engine")
        if self._engine is not None and self.state.prompt is Prompt.TOUCH_KEY:
            # A key waiting for a touch would hold the engine (and the exit) until it times
            # out: cancel that attempt; the user stays in the queue to be retried.
            self._engine.cancel()

    def on_unmount(self) -> None:
        self.stop_engine()
        if self._scrollbar_renderer is not None:
            ScrollBar.renderer = self._scrollbar_renderer

    def starting(self) -> bool:
        """Say so and return True while the engine is not built yet."""
        if self._engine is None:
            self.notify("The kiosk is still starting; try again in a moment.")
            return True
        return False

    def _fatal_error(self) -> None:
        # Textual's default shows local variables, which could hold a PIN: never print them.
        self.bell()
        traceback = Traceback(show_locals=False, width=None)
        self._exit_renderables.append(traceback)
        self._close_messages_no_wait()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "boot" and event.state is WorkerState.SUCCESS:
            self._engine_ready(cast(EngineControl, event.worker.result))
            return
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, KioskError):
            title, detail, next_step = error.title, error.detail, error.next_step
        else:
            title = "Unexpected failure"
            detail = f"The {event.worker.group} task stopped with {type(error).__name__}."
            next_step = "Try again. If it happens again, call the kiosk administrator."
        if event.worker.group in ("engine", "boot"):
            again = self.run_engine if event.worker.group == "engine" else self.boot_engine

            def chosen(choice: str | None) -> None:
                if choice == "retry":
                    again()

            stopped = "Enrollment stopped" if event.worker.group == "engine" else "Could not start"
            title = f"{stopped}: {title}"
            self.push_screen(
                ErrorScreen(title, detail, next_step, retryable=True, skippable=False), chosen
            )
        else:
            screen = ErrorScreen(title, detail, next_step, retryable=False, skippable=False)
            self.push_screen(screen)

    def on_task_done(self, message: TaskDone) -> None:
        if message.ok:
            self.notify(message.text, title=message.title, markup=False)
        else:
            self.notify(message.text, title=message.title, severity="error", markup=False)

    # -- operator, lock, idle ---------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self.idle.touch()
            if not event.is_forwarded and self.early_keys.hold(event):
                return
        await super().on_event(event)

    def _waiting_for_keys(self) -> bool:
        return bool(self.screen_stack) and waiting_for_keys(self.screen)

    def on_keys_taken(self, _message: KeysTaken) -> None:
        self.early_keys.release()

    def _signed_in(self, name: str | None) -> None:
        if not name:
            return
        self.operator = name
        if self._engine is not None:
            self._engine.set_operator(name)
        if self.enroll_screen not in self.screen_stack:
            self.push_screen(self.enroll_screen)
            self.call_after_refresh(self.redraw)
        self.idle.touch()
        self.redraw()
        self._show_held_pins()
        self._show_held_errors()

    def _sign_in_screen(self, *, locked: bool) -> SignInScreen:
        return SignInScreen(
            self.gate, locked=locked, hid=lambda: self.hid, note=self.sign_in_note
        )

    def check_idle_lock(self) -> None:
        clear_shown_pins(self, self.clock())
        if self.operator is not None and self.idle.due():
            self.action_lock()

    def action_lock(self, report: bool = False) -> None:
        """Lock the kiosk: the operator is signed out. ``report`` (the Lock key, the
        operator is there): show the report of the shift that ended, if anything happened."""
        if self.operator is None:
            return
        from kiosk.tui.screens.admin import AdminScreen

        clear_shown_pins(self)  # a PIN on screen is never left to whoever unlocks
        # Admin rights end with the lock: whoever unlocks must type the admin PIN again.
        from kiosk.tui.screens.returns import ReturnScreen

        # The return desk closes too (enrollment goes on once someone signs in).
        desks = (AdminScreen, ReturnScreen)
        while any(isinstance(screen, desks) for screen in self.screen_stack):
            self.pop_screen()
        self.operator = None
        ended = self._engine.set_operator(None) if self._engine is not None else None
        # The enrollment screen is composed after the sign-in, so the first frame comes fast.
        self.push_screen(self._sign_in_screen(locked=True), self._signed_in)
        if report and ended is not None and ended.busy:
            self._show_shift(ended)

    def _show_shift(self, report: ShiftReport, paths: list[Path] | None = None) -> None:
        from kiosk.tui.screens.shift import ShiftReportScreen

        written = report_paths(report, outbox(self.settings)) if paths is None else paths
        self.push_screen(ShiftReportScreen(self.engine, report, written))

    def action_locked_down(self) -> None:
        self.bell()
        self.notify("This kiosk does not exit from the keyboard: only the admin screen exits it.")

    # -- navigation and operator commands ---------------------------------------------------

    def action_show_queue(self) -> None:
        if self.starting():
            return
        from kiosk.tui.screens.queue import QueueScreen

        self.push_screen(QueueScreen(self.engine, labels=bool(self.settings.paper.label_queue)))

    def action_show_summary(self) -> None:
        if self.starting():
            return
        from kiosk.tui.screens.summary import SummaryScreen

        self.push_screen(SummaryScreen(self.engine, self.state, self.settings))

    def action_show_admin(self) -> None:
        if self.starting():
            return
        from kiosk.tui.screens.admin import AdminPinScreen, AdminScreen

        def unlocked(admin: str | None) -> None:
            if admin:
                self.push_screen(AdminScreen(self.engine, self.settings, admin, self.exit_kiosk))

        self.push_screen(AdminPinScreen(self.gate, self.operator), unlocked)

    def action_show_returns(self) -> None:
        if self.starting():
            return
        if self.state.step_under_way:
            self.notify("A key is being enrolled: finish or cancel it (C) first, then press T.")
            return
        from kiosk.tui.screens.returns import ReturnScreen

        self.push_screen(ReturnScreen(self.engine, self.gate, self.operator))

    def action_engine_cancel(self) -> None:
        if self.starting():
            return
        if not self.state.step_under_way:
            self.notify("Nothing to cancel: no step is under way. K skips this user.")
            return
        self.engine.cancel()

    def action_engine_retry(self) -> None:
        if self.starting():
            return
        self.engine.retry()

    def action_engine_skip(self) -> None:
        if self.starting():
            return
        self.ask_skip_reason()

    def exit_kiosk(self, admin: str | None = None) -> None:
        """Only the admin screen calls this, once the admin confirmed; audited. The one end
        after which systemd leaves the kiosk stopped."""
        self.gate.exited(admin)
        self.stop_engine()
        self.exit(ADMIN_EXIT, return_code=ADMIN_EXIT)
