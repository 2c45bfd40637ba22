"""Sign-in and lock: the operator picks their name and types their PIN.

The same screen locks the kiosk (after the idle timeout or on the Lock key). PINs are checked
against scrypt hashes from kiosk.toml; after five wrong PINs in a row the screen refuses for
thirty seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from kiosk.config import Settings
from kiosk.errors import KioskError
from kiosk.keys.types import HidBackend
from kiosk.tui.auth import verify_pin
from kiosk.tui.glyphs import glyphs_of
from kiosk.tui.motion import calm_inputs
from kiosk.tui.widgets.secret_input import SecretInput

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


def operator_keys(settings: Settings) -> list[tuple[str, str]]:
    """(name, key_credential) of every operator who signs in with their own FIDO2 key."""
    return [
        (entry["name"], entry["key_credential"])
        for entry in settings.kiosk.operators
        if entry.get("name") and entry.get("key_credential")
    ]


class SignInScreen(Screen[str]):
    CSS_PATH = "signin.tcss"
    BINDINGS = [
        Binding("tab", "app.focus_next", "Next field", show=False),
        Binding("escape", "back", "Choose name"),
        Binding("f5", "use_key", "Sign in with my key"),
    ]

    def __init__(self, settings: Settings, *, locked: bool) -> None:
        super().__init__(classes="-locked" if locked else "")
        self._operators = operators(settings)
        self._locked = locked
        self._failures = 0
        self._refuse_until = 0.0

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            glyphs = glyphs_of(self)
            title = "FIDO2 key enrollment: sign in"
            if self._locked:
                title = f"{glyphs.locked} KIOSK LOCKED"
            yield Static(title, id="title", markup=False)
            if self._locked:
                yield Static("Sign in to go on where the kiosk stopped.", classes="hint")
            yield Static(f"1. Choose your name ({glyphs.up_down} Enter)", classes="hint")
            yield OptionList(
                *[Option(name, id=str(i)) for i, (name, _h) in enumerate(self._operators)],
                id="names",
            )
            yield Static("2. Type your PIN and press Enter", classes="hint")
            yield SecretInput(placeholder="operator PIN", password=True, id="pin", max_length=64)
            yield Static("Or insert your own FIDO2 key and press F5.", classes="hint")
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
        self.query_one("#message", Static).update(glyphs_of(self).text(text))

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
            left = MAX_TRIES - self._failures
            cross = glyphs_of(self).failed
            self._say(f"{cross} Wrong PIN for {name}. {left} tries before a pause.")

    def action_use_key(self) -> None:
        app: KioskApp = self.app  # type: ignore[assignment]
        keys = operator_keys(app.settings)
        if not keys:
            self._say("No operator has a key set up; sign in with your PIN.")
            return
        backend = getattr(app._engine, "backend", None)
        if backend is None:
            self._say("The kiosk is still starting; try again in a moment.")
            return
        self._say(glyphs_of(self).text("Reading your key…"))
        self._key_sign_in(backend, keys)

    @work(thread=True, exclusive=True, exit_on_error=False, group="operator-key")
    def _key_sign_in(self, backend: HidBackend, keys: list[tuple[str, str]]) -> str:
        from kiosk.tui.operator_key import OperatorKeyError, identify

        found = backend.list_descriptors()
        if len(found) != 1:
            raise OperatorKeyError(
                f"{len(found)} keys are inserted.", next_step="Insert only your own key."
            )
        device = backend.open(found[0])
        try:
            touch = "Touch your key now (it blinks)."
            return identify(device, keys, lambda: self.app.call_from_thread(self._say, touch))
        finally:
            device.close()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "operator-key":
            return
        if event.state is WorkerState.SUCCESS and isinstance(event.worker.result, str):
            self.dismiss(event.worker.result)
        elif event.state is WorkerState.ERROR:
            error = event.worker.error
            if isinstance(error, KioskError):
                self._say(f"{glyphs_of(self).failed} {error.detail} {error.next_step}")
            else:
                kind = type(error).__name__
                self._say(f"{glyphs_of(self).failed} The key could not be read ({kind}).")
        event.stop()

    def show_state(self, *_: Any) -> None:
        """The lock screen shows nothing of the batch."""
