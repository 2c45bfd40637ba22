"""Errors and questions as modal screens: a title, what happened, what to do next."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from kiosk.tui.glyphs import glyphs_of


class ErrorScreen(ModalScreen[str]):
    """Dismissed with "retry", "skip" or "close"."""

    from_engine = False
    """Raised by the engine (the app closes it once the engine has moved on)."""

    CSS_PATH = "modal.tcss"
    BINDINGS = [
        Binding("r", "choose('retry')", "Retry"),
        Binding("k", "choose('skip')", "Skip user"),
        Binding("escape,enter", "choose('close')", "Close"),
    ]

    def __init__(
        self,
        title: str,
        detail: str,
        next_step: str,
        *,
        retryable: bool = True,
        skippable: bool = True,
    ) -> None:
        super().__init__(classes="-error")
        self._title = title
        self._detail = detail
        self._next = next_step
        self._retryable = retryable
        self._skippable = skippable

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            say = glyphs_of(self).text  # a Graph message cut short ends in "…"
            yield Static(f"{glyphs_of(self).failed}  {say(self._title)}", id="title", markup=False)
            yield Static(say(self._detail), id="detail", markup=False)
            yield Static(f"What to do: {say(self._next)}", id="next", markup=False)
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose" and parameters:
            if parameters[0] == "retry":
                return self._retryable
            if parameters[0] == "skip":
                return self._skippable
        return True

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question (reset a key, replace a user's keys)."""

    from_engine = True

    CSS_PATH = "modal.tcss"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, question: str, consequence: str) -> None:
        super().__init__(classes="-confirm")
        self._title = title
        self._question = question
        self._consequence = consequence

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"?  {self._title}", id="title", markup=False)
            yield Static(self._question, id="detail", markup=False)
            yield Static(self._consequence, id="next", markup=False)
            yield Static("Press Y for yes, N for no.", id="keys", markup=False)
        yield Footer()

    def action_answer(self, ok: bool) -> None:
        self.dismiss(ok)
