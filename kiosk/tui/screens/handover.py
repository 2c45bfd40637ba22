"""The PIN hand-over: the PIN shown large, once, for the PIN mailer; any key clears it, and so
do the end of its time on screen (``escrow.show_seconds``) and any lock of the kiosk.

Textual draws on the terminal's alternate screen, so nothing here reaches the scrollback; the
PIN lives only in this screen and is dropped the moment the operator presses a key.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Digits, Footer, Input, Static

from kiosk.model.text import clean
from kiosk.tui.glyphs import big_text, glyphs_of
from kiosk.tui.motion import calm_inputs
from kiosk.tui.widgets.secret_input import SecretInput

DIGITS_OK = set("0123456789ABCDEF")


class HandoverScreen(ModalScreen[None]):
    CSS_PATH = "modal.tcss"
    DEFAULT_CSS = """
    HandoverScreen #pin { width: auto; padding: 1 2; text-style: bold; }
    HandoverScreen #pin-text { text-style: bold; padding: 1 2; }
    """

    def __init__(self, upn: str, pin: str, *, entry_id: int | None = None,
                 mailer_queue: str = "", shown_at: float = 0.0, seconds: float = 60.0,
                 display_name: str = "", serial: str = "") -> None:
        super().__init__(classes="-confirm")
        self._upn = upn
        self._who = display_name
        self._serial = serial
        self._pin: str | None = pin
        self.entry_id = entry_id
        self._mailer = mailer_queue
        """The PIN mailer prints on this queue: the screen says how that went."""
        self.shown_at = shown_at
        self.seconds = seconds
        self._news: tuple[bool, str] | None = None
        """The print desk's word on the mailer, kept when it comes before the screen is drawn."""

    def due(self, now: float) -> bool:
        """Shown for its whole time: it clears itself."""
        return now - self.shown_at >= self.seconds

    def compose(self) -> ComposeResult:
        pin = self._pin or ""
        with Vertical(id="dialog"):
            yield Static(self._heading(), id="title", markup=False)
            yield Static(self._detail(), id="detail", markup=False)
            if pin and set(pin.upper()) <= DIGITS_OK:
                if glyphs_of(self).mode == "console":
                    # Digits draws with heavy box lines the console font lacks: full blocks.
                    yield Static(big_text(pin), id="pin", markup=False)
                else:
                    yield Digits(pin, id="pin")
            yield Static("  ".join(pin), id="pin-text", markup=False)
            yield Static(
                "Press any key when it is written down: the PIN is then cleared.", id="next"
            )

    def _heading(self) -> Text:
        """Whose key this is: the person's name, the UPN and the key's serial (plain text)."""
        upn = clean(self._upn)
        heading = Text("PIN for ")
        heading.append(clean(self._who) or upn, "bold")
        if self._who:
            heading.append(f" <{upn}>")
        if self._serial:
            heading.append(f", key {clean(self._serial)}")
        return heading

    def _detail(self) -> str:
        if self._news is not None:
            printed, text = self._news
            if printed:
                return (f"It is shown only this once. {text} Put the mailer in its own "
                        "envelope, apart from the key.")
            return f"It is shown only this once. {text} Write the PIN on a PIN mailer by hand now."
        if self._mailer:
            return (f"It is shown only this once. The PIN mailer is printing on {self._mailer}; "
                    "if it does not print, write the PIN on a mailer by hand.")
        return "Write it on the PIN mailer now. It is shown only this once."

    def mailer_news(self, printed: bool, text: str) -> None:
        """The print desk's word on this PIN's mailer (it may come before the screen is
        drawn: the hand-over and the mailer leave at once)."""
        if self._pin is None:
            return
        self._news = (printed, text)
        if not printed:
            self.add_class("-error")
        for detail in self.query("#detail").results(Static):
            detail.update(self._detail())

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        self.clear()

    def forget(self) -> None:
        """Blank the PIN (the screen stays until it is closed)."""
        self._pin = None
        for widget in self.query(Static):
            widget.update("")
        for digits in self.query(Digits):
            digits.update("")

    def clear(self) -> None:
        """Forget the PIN and close."""
        self.forget()
        self.dismiss(None)


def clear_shown_pins(app: App[Any], now: float | None = None) -> None:
    """Clear every PIN on screen (``now`` None: a lock) or those shown for their whole time."""
    for screen in list(app.screen_stack):
        if isinstance(screen, HandoverScreen) and (now is None or screen.due(now)):
            screen.forget()
    while isinstance(app.screen, HandoverScreen) and app.screen._pin is None:
        app.pop_screen()


class PinEntryScreen(ModalScreen[str]):
    """policy.pin_source = operator: the operator types the PIN for this key, twice."""

    from_engine = True

    CSS_PATH = "modal.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel enrollment")]

    def __init__(self, upn: str, min_length: int) -> None:
        super().__init__(classes="-confirm")
        self._upn = upn
        self._min = min_length
        self._first: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Type the PIN for {self._upn}'s key", id="title", markup=False)
            yield SecretInput(placeholder="PIN, then Enter", password=True, id="pin", max_length=63)
            yield Static(f"At least {self._min} characters. You will type it twice.", id="next")
        yield Footer()

    def on_mount(self) -> None:
        calm_inputs(self)
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value, event.input.value = event.value, ""
        note = self.query_one("#next", Static)
        if self._first is None:
            if len(value) < self._min:
                note.update(f"{glyphs_of(self).failed} Too short: at least {self._min} characters.")
                return
            self._first = value
            note.update("Type the same PIN again.")
            return
        first, self._first = self._first, None
        if value != first:
            note.update(f"{glyphs_of(self).failed} The two PINs differ. Type the PIN again.")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self._first = None
        self.dismiss("")
