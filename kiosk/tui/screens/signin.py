"""Sign-in and lock: the operator picks their name and types their PIN, or signs in with
their own FIDO2 key (F5, with the key's PIN typed in the PIN box unless that is turned off).

The same screen locks the kiosk (after the idle timeout or on the Lock key). Every check is
:mod:`kiosk.operators`' (the kiosk's one throttle, the audit records); this screen only
shows. The HID backend it reads an operator key from is given to it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from fido2.hid.base import HidDescriptor
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState, get_current_worker

from kiosk.errors import KioskError
from kiosk.keys.types import HidBackend
from kiosk.operators.key_alone import with_lone_key
from kiosk.operators.key_sign_in import identify
from kiosk.operators.sign_in import SignInGate
from kiosk.tui.early_keys import TypedInto, enter_moves_to, take_keys
from kiosk.tui.glyphs import glyphs_of
from kiosk.tui.motion import calm_inputs
from kiosk.tui.widgets.secret_input import SecretInput


class SignInScreen(TypedInto, Screen[str]):
    """Typed into at once (the name's Enter, the PIN, Enter): keys wait for its names list
    to have the focus, and the name's Enter moves to the PIN box before the next key."""

    CSS_PATH = "signin.tcss"

    BINDINGS = [
        TypedInto.ENTER_MOVES_ON,
        Binding("tab", "app.focus_next", "Next field", show=False),
        Binding("escape", "back", "Choose name"),
        Binding("f5", "use_key", "Sign in with my key"),
    ]

    def __init__(
        self,
        gate: SignInGate,
        *,
        locked: bool,
        hid: Callable[[], HidBackend | None] = lambda: None,
        note: str = "",
    ) -> None:
        """``note``: shown under the title (the demo's PINs)."""
        super().__init__(classes="-locked" if locked else "")
        self._note = note
        self._gate = gate
        self._people = list(gate.people)
        self._locked = locked
        self._hid = hid

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            glyphs = glyphs_of(self)
            title = "FIDO2 key enrollment: sign in"
            if self._locked:
                title = f"{glyphs.locked} KIOSK LOCKED"
            yield Static(title, id="title", markup=False)
            if self._note:
                yield Static(Text(self._note), id="note")
            if self._locked:
                yield Static("Sign in to go on where the kiosk stopped.", classes="hint")
            yield Static(f"1. Choose your name ({glyphs.up_down} Enter)", classes="hint")
            yield OptionList(
                *[Option(Text(p.name), id=str(i)) for i, p in enumerate(self._people)],
                id="names",
            )
            yield Static("2. Type your PIN and press Enter", classes="hint")
            yield SecretInput(placeholder="operator PIN", password=True, id="pin", max_length=64)
            yield Static(self._key_hint(), classes="hint")
            yield Static("", id="message", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        names = next(self.query("#names").results(OptionList), None)
        if names is None:
            # Taken down before it composed (the app exiting just as the idle lock came, or
            # a lock undone at once): there is nothing to set up, and no reason to crash.
            return
        calm_inputs(self)
        if not self._people:
            self._say(
                "No operators are configured. Add one with `kiosk operator add NAME` and "
                "paste the result into kiosk.toml."
            )
        names.highlighted = 0 if self._people else None
        take_keys(self, names)

    def _say(self, text: str) -> None:
        for message in self.query("#message").results(Static):  # none once taken down
            message.update(glyphs_of(self).text(text))

    def action_enter_moves_on(self) -> None:
        enter_moves_to(self, self.query_one("#names"), self.query_one("#pin"))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.set_focus(self.query_one("#pin", Input))  # a name clicked

    def action_back(self) -> None:
        self.query_one("#pin", Input).value = ""
        self.set_focus(self.query_one("#names", OptionList))

    def _key_hint(self) -> str:
        if self._gate.settings.kiosk.operator_key_verification:
            return "Or insert your own FIDO2 key, type the key's PIN above and press F5."
        return "Or insert your own FIDO2 key and press F5."

    def on_input_submitted(self, event: Input.Submitted) -> None:
        pin = event.value
        event.input.value = ""
        index = self.query_one("#names", OptionList).highlighted
        if index is None or not self._people:
            self._say("Choose your name first.")
            return
        person = self._people[index]
        verdict = self._gate.check_pin(person, pin, "sign-in")
        if verdict.ok:
            self.dismiss(person.name)
        else:
            self._say(f"{glyphs_of(self).failed} {verdict.message}")

    def action_use_key(self) -> None:
        if not any(p.key_credential for p in self._gate.people):
            self._say("No operator has a key set up; sign in with your PIN.")
            return
        backend = self._hid()
        if backend is None:
            self._say("The kiosk is still starting; try again in a moment.")
            return
        pin_box = self.query_one("#pin", Input)
        pin, pin_box.value = pin_box.value, ""
        self._say(glyphs_of(self).text("Reading your key…"))
        self._key_sign_in(backend, pin)

    @work(thread=True, exclusive=True, exit_on_error=False, group="operator-key")
    def _key_sign_in(self, backend: HidBackend, pin: str) -> str:
        worker = get_current_worker()

        def say(text: str) -> None:
            self.app.call_from_thread(self._say, text)

        def sign_in(descriptor: HidDescriptor, event: threading.Event) -> str:
            device = backend.open(descriptor)
            try:
                return identify(
                    device,
                    self._gate.people,
                    pin=pin or None,
                    verification=self._gate.settings.kiosk.operator_key_verification,
                    on_touch=lambda: say("Touch your key now (it blinks)."),
                    event=event,
                )
            finally:
                device.close()

        return with_lone_key(backend, say, sign_in, gone=lambda: worker.is_cancelled)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "operator-key":
            return
        if event.state is WorkerState.SUCCESS and isinstance(event.worker.result, str):
            self.dismiss(event.worker.result)
        elif event.state is WorkerState.ERROR:
            error = event.worker.error
            if isinstance(error, KioskError):
                self._gate.key_failed(error.title)
                self._say(f"{glyphs_of(self).failed} {error.detail} {error.next_step}")
            else:
                kind = type(error).__name__
                self._gate.key_failed(f"unexpected {kind}")
                self._say(f"{glyphs_of(self).failed} The key could not be read ({kind}).")
        event.stop()

    def show_state(self, *_: Any) -> None:
        """The lock screen shows nothing of the batch."""
