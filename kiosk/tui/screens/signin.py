"""Sign-in and lock: the operator picks their name and types their PIN.

The same screen locks the kiosk (after the idle timeout or on the Lock key). PINs are checked
against scrypt hashes from kiosk.toml; after five wrong PINs in a row the screen refuses for
thirty seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from kiosk.config import Settings
from kiosk.errors import KioskError
from kiosk.tui.auth import verify_pin
from kiosk.tui.motion import calm_inputs

if TYPE_CHECKING:
    from kiosk.tui.app import KioskApp

MAX_TRIES = 5
LOCKOUT_SECONDS = 30.0


def operators(settings: Settings) -> list[tuple[str, str]]:
    """(name, pin_hash) of every configured operator."""
    out = []
    for entry in settings.kiosk.operators:
        name, pin_hash = entry.get("name", ""), entry.get("pin_hash", "")
        if name and pin_hash:
            out.append((name, pin_hash))
    return out


class SignInScreen(Screen[str]):
    CSS_PATH = "signin.tcss"
    BINDINGS = [
        Binding("tab", "app.focus_next", "Next field", show=False),
        Binding("escape", "back", "Choose name"),
    ]

    def __init__(self, settings: Settings, *, locked: bool) -> None:
        super().__init__(classes="-locked" if locked else "")
        self._operators = operators(settings)
        self._locked = locked
        self._failures = 0
        self._refuse_until = 0.0

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            title = "🔒 KIOSK LOCKED" if self._locked else "FIDO2 key enrollment: sign in"
            yield Static(title, id="title", markup=False)
            yield Static("1. Choose your name (↑ ↓ Enter)", classes="hint")
            yield OptionList(
                *[Option(name, id=str(i)) for i, (name, _h) in enumerate(self._operators)],
                id="names",
            )
            yield Static("2. Type your PIN and press Enter", classes="hint")
            yield Input(placeholder="operator PIN", password=True, id="pin", max_length=64)
            yield Static("", id="message", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        calm_inputs(self)
        names = self.query_one("#names", OptionList)
        if not self._operators:
            self._say(
                "No operators are configured. Add one with `kiosk operator add NAME` and "
                "paste the result into kiosk.toml."
            )
        names.highlighted = 0 if self._operators else None
        names.focus()

    def _say(self, text: str) -> None:
        self.query_one("#message", Static).update(text)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#pin", Input).focus()

    def action_back(self) -> None:
        self.query_one("#pin", Input).value = ""
        self.query_one("#names", OptionList).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        pin = event.value
        event.input.value = ""
        app: KioskApp = self.app  # type: ignore[assignment]
        now = app.clock()
        if now < self._refuse_until:
            self._say(f"Too many wrong PINs. Wait {int(self._refuse_until - now) + 1} seconds.")
            return
        index = self.query_one("#names", OptionList).highlighted
        if index is None or not self._operators:
            self._say("Choose your name first.")
            return
        name, pin_hash = self._operators[index]
        try:
            ok = verify_pin(pin, pin_hash)
        except KioskError as exc:
            self._say(f"{exc.title}: {exc.next_step}")
            return
        if ok:
            self._failures = 0
            self.dismiss(name)
            return
        self._failures += 1
        if self._failures >= MAX_TRIES:
            self._failures = 0
            self._refuse_until = now + LOCKOUT_SECONDS
            self._say(f"Wrong PIN {MAX_TRIES} times. Sign-in is refused for 30 seconds.")
        else:
            self._say(f"✘ Wrong PIN for {name}. {MAX_TRIES - self._failures} tries before a pause.")

    def show_state(self, *_: Any) -> None:
        """The lock screen shows nothing of the batch."""
